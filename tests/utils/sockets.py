"""Small socket helpers shared by the fault-injection servers and the broker nodes."""

from __future__ import annotations

import os
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


def nagle_off_by_local_address(peer_port: int) -> dict[tuple[object, ...], bool]:
    """This process's TCP sockets connected to ``peer_port``: each one's local
    address, and whether TCP_NODELAY is on (read from the kernel through a
    duplicate of each descriptor listed in /proc/self/fd, so it works for
    any adapter, whoever made the socket)."""
    found: dict[tuple[object, ...], bool] = {}
    for name in os.listdir("/proc/self/fd"):
        try:
            duplicate = os.dup(int(name))
        except OSError:
            continue  # closed meanwhile
        try:
            sock = socket.socket(fileno=duplicate)
        except OSError:
            os.close(duplicate)
            continue  # not a socket
        with sock:
            if sock.family not in (socket.AF_INET, socket.AF_INET6):
                continue
            if sock.type != socket.SOCK_STREAM:
                continue
            try:
                peer = sock.getpeername()
            except OSError:
                continue  # listening or not connected
            if peer[1] == peer_port:
                nodelay = sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY)
                found[sock.getsockname()] = bool(nodelay)
    return found
