"""How low an RPC round trip through this machine's broker can go: the floor
under the ``rpc`` scenario.

    .venv/bin/python benchmarks/rpc_floor.py              # 5 interleaved rounds
    .venv/bin/python benchmarks/rpc_floor.py --rounds 9

The ``rpc`` scenario of `scenarios.py` (a request over direct reply-to, a
server in another process publishing the reply and acking the request) is
run six ways, one after the other in each round, and the table shows each
way's median p50 over the rounds:

- ``bare``: no client work at all. Both sides write frames encoded before
  the loop and read replies of a known size on blocking sockets: what
  remains is the broker, the kernel and waking the two processes.
- ``codecs``: both sides bare but for this project's frame codecs: each
  request, reply and ack is encoded when sent (``pika.frame``'s
  marshalling) and each message decoded when received (method, properties
  and body), without a loop, channels or callbacks.
- ``client``: this project's client (the ``rpc`` scenario's) against a
  near-bare server, which finds the frames of each request (its size
  varies) and writes a reply and ack encoded before the loop: what this
  project's client adds to ``bare``.
- ``server``: the bare client against this project's server (the ``rpc``
  scenario's): what this project's server adds to ``bare``.
- ``ours``: the ``rpc`` scenario on this project.
- ``pika``: the same scenario on PyPI's pika, run by the benchmark
  virtualenv that ``run.py`` makes (skipped when it is missing).

The bare sides open their connection, channel and consumer with this
project's ``BlockingConnection`` and then take over its socket (a private
attribute: this is a measuring tool, not an example). Each way runs in
fresh processes; the ratio column is each p50 over pika's.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import statistics
import struct
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(HERE))

import scenarios  # noqa: E402

from pika import frame, spec  # noqa: E402

CALLS = 1500
CHANNEL = 1
FRAME_MAX = 131072
_ENVELOPE = struct.Struct(">BHI")
_TAG = struct.Struct(">Q")
#: A Basic.Deliver method frame's payload starts with its class and method ids.
_DELIVER = struct.pack(">I", spec.Basic.Deliver.INDEX)
REPLY_TO = scenarios.REPLY_TO
#: The last request, as long as the others (``bare`` reads fixed sizes).
STOP = b"stop".ljust(len(scenarios.SMALL), b".")


def _taken_socket(connection: Any) -> socket.socket:
    """The blocking socket under ``connection`` (which is not used again)."""
    sock: socket.socket = connection._impl._transport._sock
    sock.setblocking(True)
    return sock


def _publish(routing_key: str, body: bytes, properties: spec.BasicProperties) -> bytes:
    return b"".join(
        (
            frame.Method(
                CHANNEL, spec.Basic.Publish(exchange="", routing_key=routing_key)
            ).marshal(),
            frame.Header(CHANNEL, len(body), properties).marshal(),
            frame.Body(CHANNEL, body).marshal(),
        )
    )


class _Frames:
    """Whole frames read from a blocking socket, split with `pika.frame.scan_frame`."""

    def __init__(self, sock: socket.socket) -> None:
        self._sock = sock
        self._buf = b""
        self._pos = 0

    def next(self) -> tuple[int, int]:
        """The next frame's ``(payload_start, payload_end)`` in `buf`."""
        while True:
            found = frame.scan_frame(self._buf, self._pos, FRAME_MAX)
            if found is not None:
                _type, _channel, start, end = found
                self._pos = end
                return start, end - 1
            self._buf = self._buf[self._pos :] + self._sock.recv(65536)
            self._pos = 0

    @property
    def buf(self) -> bytes:
        return self._buf

    @property
    def sock(self) -> socket.socket:
        return self._sock

    def message(self) -> tuple[Any, spec.BasicProperties, bytes]:
        """The next method, header and body frames, decoded."""
        start, end = self.next()
        method = frame.decode_method(self._buf, start, end)
        start, end = self.next()
        _size, properties = frame.decode_header(self._buf, start, end)
        start, end = self.next()
        return method, properties, self._buf[start:end]


def _recv_exactly(sock: socket.socket, view: memoryview) -> None:
    received = 0
    while received < len(view):
        received += sock.recv_into(view[received:])


def _server_socket(queue: str) -> socket.socket:
    """The server's socket, consuming ``queue``; prints ``ready``."""
    connection = scenarios.blocking()
    channel = connection.channel()
    channel.queue_declare(queue, auto_delete=True)
    channel.basic_qos(prefetch_count=10)
    channel.basic_consume(queue, lambda *_args: None)
    print("ready", flush=True)
    return _taken_socket(connection)


def _ack(tag: int) -> bytearray:
    """A Basic.Ack frame of ``tag``, whose tag ends `_TAG.size` + 2 bytes from its end."""
    return bytearray(frame.Method(CHANNEL, spec.Basic.Ack(tag)).marshal())


def _scanning_server(queue: str) -> None:
    """The near-bare server of the ``client`` way: requests of any size,
    until one whose body is ``stop``."""
    frames = _Frames(_server_socket(queue))
    reply = b""
    ack = _ack(0)
    tag_at = len(ack) - 1 - _TAG.size - 1
    while True:
        start, end = frames.next()
        if end - start < 5 or frames.buf[start : start + 4] != _DELIVER:
            continue  # a heartbeat or any other frame: not a request
        tag_start = start + 5 + frames.buf[start + 4]
        _TAG.pack_into(ack, tag_at, *_TAG.unpack_from(frames.buf, tag_start))
        start, end = frames.next()
        if not reply:
            _size, properties = frame.decode_header(frames.buf, start, end)
            assert isinstance(properties.reply_to, str)
            first = spec.BasicProperties(correlation_id="1")
            reply = _publish(properties.reply_to, scenarios.SMALL, first)
        start, end = frames.next()
        if frames.buf[start:end] == b"stop":
            return
        frames.sock.sendall(reply + ack)


def _server(queue: str) -> None:
    sock = _server_socket(queue)
    frames = _Frames(sock)
    method, properties, body = frames.message()
    # Every request is as long as the first; the reply and ack are encoded
    # once, and only the ack's delivery tag changes.
    request = bytearray(len(frames.buf))
    tag = method.delivery_tag
    reply_to = properties.reply_to
    assert isinstance(reply_to, str)
    out = bytearray(_publish(reply_to, body, spec.BasicProperties(correlation_id="1"))) + _ack(tag)
    tag_at = len(out) - 1 - _TAG.size - 1  # before the ack's multiple bit and frame end
    view = memoryview(request)
    while True:
        sock.sendall(out)
        _recv_exactly(sock, view)
        if request.endswith(STOP + b"\xce"):
            return
        tag += 1
        _TAG.pack_into(out, tag_at, tag)


def _start(server: list[str]) -> tuple[subprocess.Popen[bytes], str, _Frames]:
    """Start the server ``server`` (a command, given a fresh queue's name),
    then connect the client side: the server's process, the queue, and the
    client's socket, consuming replies."""
    queue = f"bench-rpc-floor-{uuid.uuid4().hex[:12]}"
    process = subprocess.Popen([*server, queue], stdout=subprocess.PIPE)
    assert process.stdout is not None
    if process.stdout.readline().strip() != b"ready":
        raise RuntimeError("the server did not start")
    connection = scenarios.blocking()
    channel = connection.channel()
    channel.basic_consume(REPLY_TO, lambda *_args: None, auto_ack=True)
    return process, queue, _Frames(_taken_socket(connection))


def _p50_us(latencies: list[float], calls: int) -> dict[str, Any]:
    """The median of the last ``calls`` latencies (the first ones warm up), in µs."""
    return {"p50_us": statistics.median(latencies[-calls:]) * 1e6}


def _warm_calls(calls: int) -> int:
    """``calls`` and the warm-up calls before them, as the ``rpc`` scenario makes."""
    return calls + max(50, calls // 10)


def _client(calls: int, ours: bool) -> dict[str, Any]:
    """The bare client, against the bare server or (``ours``) this project's."""
    if ours:
        server, queue, frames = _start([sys.executable, str(HERE / "scenarios.py"), "rpc-server"])
    else:
        server, queue, frames = _start([sys.executable, __file__, "--bare-server"])
    sock = frames.sock
    request = _publish(
        queue, scenarios.SMALL, spec.BasicProperties(reply_to=REPLY_TO, correlation_id="1")
    )
    sock.sendall(request)
    frames.message()
    view = memoryview(bytearray(len(frames.buf)))
    latencies = []
    for _ in range(_warm_calls(calls)):
        started = time.perf_counter()
        sock.sendall(request)
        _recv_exactly(sock, view)
        latencies.append(time.perf_counter() - started)
    if ours:
        sock.sendall(_publish(queue, b"stop", spec.BasicProperties()))
    else:
        stop = spec.BasicProperties(reply_to=REPLY_TO, correlation_id="1")
        sock.sendall(_publish(queue, STOP, stop))
    server.wait(timeout=30)
    return _p50_us(latencies, calls)


def _codec_server(queue: str) -> None:
    """The server of the ``codecs`` way: decode each request, encode its
    reply and ack, until a request whose body is ``stop``."""
    frames = _Frames(_server_socket(queue))
    while True:
        method, properties, body = frames.message()
        if body == b"stop":
            return
        assert isinstance(properties.reply_to, str)
        reply = spec.BasicProperties(correlation_id=properties.correlation_id)
        ack = frame.Method(CHANNEL, spec.Basic.Ack(method.delivery_tag)).marshal()
        frames.sock.sendall(_publish(properties.reply_to, body, reply) + ack)


def _codec_client(calls: int) -> dict[str, Any]:
    """The client of the ``codecs`` way: encode each request, decode each reply."""
    server, queue, frames = _start([sys.executable, __file__, "--codec-server"])
    latencies = []
    for number in range(_warm_calls(calls)):
        properties = spec.BasicProperties(reply_to=REPLY_TO, correlation_id=str(number))
        started = time.perf_counter()
        frames.sock.sendall(_publish(queue, scenarios.SMALL, properties))
        frames.message()
        latencies.append(time.perf_counter() - started)
    frames.sock.sendall(_publish(queue, b"stop", spec.BasicProperties()))
    server.wait(timeout=30)
    return _p50_us(latencies, calls)


def _run(way: str) -> float | None:
    """One round of ``way`` in a fresh process: its p50 in µs."""
    env = dict(os.environ)
    env.pop("PYTHONPATH", None)
    if way == "pika":
        python = HERE / ".venv-bench" / "bin" / "python"
        if not python.exists():
            return None
        command = [str(python), str(HERE / "scenarios.py"), "rpc"]
    else:
        env["PYTHONPATH"] = str(ROOT)
        script = {"ours": HERE / "scenarios.py"}.get(way, Path(__file__))
        command = [sys.executable, str(script), "rpc" if way == "ours" else f"--{way}"]
    done = subprocess.run(command, capture_output=True, env=env, timeout=300, check=True)
    return float(json.loads(done.stdout.decode().strip().splitlines()[-1])["p50_us"])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=5)
    for hidden in ("--bare", "--client", "--server", "--codecs"):  # one way's round
        parser.add_argument(hidden, action="store_true", help=argparse.SUPPRESS)
    for hidden in ("--bare-server", "--scanning-server", "--codec-server"):  # a server
        parser.add_argument(hidden, metavar="QUEUE", help=argparse.SUPPRESS)
    options = parser.parse_args()
    if options.bare_server:
        _server(options.bare_server)
        return 0
    if options.scanning_server:
        _scanning_server(options.scanning_server)
        return 0
    if options.codec_server:
        _codec_server(options.codec_server)
        return 0
    if options.codecs:
        print(json.dumps(_codec_client(CALLS)))
        return 0
    if options.bare or options.server:
        print(json.dumps(_client(CALLS, ours=options.server)))
        return 0
    if options.client:
        server = [sys.executable, __file__, "--scanning-server"]
        print(json.dumps(scenarios.rpc(CALLS, server_command=server)))
        return 0
    ways = ("bare", "codecs", "client", "server", "ours", "pika")
    results: dict[str, list[float]] = {way: [] for way in ways}
    for round_number in range(1, options.rounds + 1):
        for way in ways:
            p50 = _run(way)
            if p50 is not None:
                results[way].append(p50)
                print(f"round {round_number}/{options.rounds}  {way:6}  {p50:6.0f} µs", flush=True)
    pika_p50 = statistics.median(results["pika"]) if results["pika"] else None
    print()
    print("| way | RPC p50 (median of rounds) | / pika's |")
    print("|---|---:|---:|")
    for way in ways:
        if results[way]:
            p50 = statistics.median(results[way])
            ratio = f"{p50 / pika_p50:.2f}x" if pika_p50 else "n/a"
            print(f"| {way} | {p50:.0f} µs | {ratio} |")
    if pika_p50:
        print(f"\nissue 15's target, 0.58x pika's p50: {0.58 * pika_p50:.0f} µs")
    return 0


if __name__ == "__main__":
    sys.exit(main())
