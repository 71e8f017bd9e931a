"""Small socket helpers shared by the fault-injection servers and the broker nodes."""

from __future__ import annotations

import socket
import struct

LOOPBACK = "127.0.0.1"
_RESET_ON_CLOSE = struct.pack("ii", 1, 0)  # SO_LINGER on with 0 s: close() sends RST


def reset_and_close(sock: socket.socket) -> None:
    """Close ``sock`` abruptly: the peer sees a TCP reset, not an orderly FIN."""
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, _RESET_ON_CLOSE)
    except OSError:
        pass  # already disconnected: a plain close is all that is left
    sock.close()


def free_ports(count: int) -> list[int]:
    """``count`` distinct TCP ports on 127.0.0.1 that nothing listens on right now."""
    sockets = []
    try:
        for _ in range(count):
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            sock.bind((LOOPBACK, 0))
            sockets.append(sock)
        return [sock.getsockname()[1] for sock in sockets]
    finally:
        for sock in sockets:
            sock.close()
