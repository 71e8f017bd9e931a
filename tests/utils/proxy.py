"""A TCP proxy that injects network faults between a client under test and a server.

``TcpProxy(host, port)`` listens on 127.0.0.1 (an ephemeral port) and
forwards every accepted connection to ``host:port``. While it runs, a test can:

- ``cut()``: reset every current connection on both sides (RST, not FIN);
- ``stall()`` / ``resume()``: stop moving bytes in both directions while the
  sockets stay open (a silent peer, for heartbeat timeouts);
- ``set_delay(seconds)``: hold each chunk that long before forwarding it;
- ``set_rate_limit(bytes_per_second)``: a slow link; the proxy stops reading
  when it holds more than ``HIGH_WATER`` bytes, so the sender feels the
  back-pressure;
- ``refuse_new(True)``: close the listening socket, so new connections are
  refused; ``refuse_new(False)`` listens on the same port again.

All socket work happens on one thread running a ``selectors`` loop; the
public methods hand it commands and wait until they are done, so after
``cut()`` returns, the sockets are closed.
"""

from __future__ import annotations

import errno
import selectors
import socket
import threading
import time
from collections import deque
from concurrent.futures import Future
from typing import Any, Callable, Optional, TypeVar, cast
from urllib.parse import urlsplit, urlunsplit

from tests.utils.sockets import reset_and_close

T = TypeVar("T")

HIGH_WATER = 256 * 1024
READ_SIZE = 64 * 1024
COMMAND_TIMEOUT = 10.0


class _Pipe:
    """One direction of a proxied connection: bytes read from ``source`` wait to go to ``sink``."""

    __slots__ = ("allowance", "delayed", "eof", "last_refill", "ready", "shut", "sink", "source")

    def __init__(self, source: socket.socket, sink: socket.socket) -> None:
        self.source = source
        self.sink = sink
        self.ready = bytearray()
        self.delayed: deque[tuple[float, bytes]] = deque()
        self.eof = False  # the source has sent FIN
        self.shut = False  # the FIN has been passed on to the sink
        self.allowance = 0.0
        self.last_refill = time.monotonic()

    def held(self) -> int:
        return len(self.ready) + sum(len(chunk) for _, chunk in self.delayed)

    def release_due(self, now: float) -> None:
        while self.delayed and self.delayed[0][0] <= now:
            self.ready += self.delayed.popleft()[1]


class _Link:
    """A client connection and its upstream connection."""

    __slots__ = ("client", "connected", "downstream", "masks", "upstream", "upstream_pipe")

    def __init__(self, client: socket.socket, upstream: socket.socket) -> None:
        self.client = client
        self.upstream = upstream
        self.connected = False
        self.upstream_pipe = _Pipe(client, upstream)
        self.downstream = _Pipe(upstream, client)
        self.masks: dict[socket.socket, int] = {client: 0, upstream: 0}

    def pipes(self) -> tuple[_Pipe, _Pipe]:
        return (self.upstream_pipe, self.downstream)

    def finished(self) -> bool:
        return self.upstream_pipe.shut and self.downstream.shut


class TcpProxy:
    """See the module docstring. Use as a context manager or call ``close()``."""

    def __init__(self, target_host: str, target_port: int, listen_host: str = "127.0.0.1") -> None:
        family, _, _, _, address = socket.getaddrinfo(
            target_host, target_port, type=socket.SOCK_STREAM
        )[0]
        self._target_family = family
        self._target_address = address
        self.target = (target_host, target_port)
        self.host = listen_host
        self._selector = selectors.DefaultSelector()
        self._wake_reader, self._wake_writer = socket.socketpair()
        self._wake_reader.setblocking(False)
        self._selector.register(self._wake_reader, selectors.EVENT_READ, None)
        self._commands: deque[tuple[Callable[[], Any], Future[Any]]] = deque()
        self._links: list[_Link] = []
        self._stalled = False
        self._delay = 0.0
        self._rate: Optional[float] = None
        self._accepted = 0
        self._closed = False
        self._running = True
        self._failure: Optional[BaseException] = None
        self._listener: Optional[socket.socket] = None
        self.port = 0
        self._listen()
        self._thread = threading.Thread(target=self._run, name=f"TcpProxy:{self.port}", daemon=True)
        self._thread.start()

    # -- public interface (any thread) ---------------------------------------

    @property
    def address(self) -> tuple[str, int]:
        return (self.host, self.port)

    def rewrite_url(self, url: str) -> str:
        """``url`` with its host and port replaced by the proxy's (credentials kept)."""
        parts = urlsplit(url)
        credentials = parts.netloc.rpartition("@")[0]
        netloc = f"{credentials}@" if credentials else ""
        netloc += f"{self.host}:{self.port}"
        return urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))

    @property
    def connection_count(self) -> int:
        """Connections being proxied right now."""
        return self._call(lambda: len(self._links))

    @property
    def total_connections(self) -> int:
        """Connections accepted since the proxy started."""
        return self._call(lambda: self._accepted)

    def cut(self) -> int:
        """Reset every current connection, client and upstream side; return how many."""
        return self._call(self._cut_all)

    def stall(self) -> None:
        """Stop forwarding in both directions; sockets stay open, data waits."""
        self._call(lambda: setattr(self, "_stalled", True))

    def resume(self) -> None:
        """Forward again what waited during ``stall()``, and everything after."""
        self._call(lambda: setattr(self, "_stalled", False))

    def set_delay(self, seconds: float) -> None:
        """Hold every chunk read from now on for ``seconds`` before forwarding it."""
        if seconds < 0:
            raise ValueError("the delay cannot be negative")
        self._call(lambda: setattr(self, "_delay", float(seconds)))

    def set_rate_limit(self, bytes_per_second: Optional[float]) -> None:
        """Forward at most this many bytes a second in each direction; ``None``: no limit."""
        if bytes_per_second is not None and bytes_per_second <= 0:
            raise ValueError("the rate limit must be positive (or None for no limit)")
        self._call(lambda: setattr(self, "_rate", bytes_per_second))

    def refuse_new(self, refuse: bool = True) -> None:
        """Refuse new connections (the listening socket closes) or accept them again."""
        self._call(self._stop_listening if refuse else self._listen)

    def close(self) -> None:
        """Reset every connection, stop listening and end the proxy thread."""
        if self._closed:
            return
        self._closed = True
        self._call(self._shut_down)
        self._thread.join(COMMAND_TIMEOUT)
        self._selector.close()
        self._wake_reader.close()
        self._wake_writer.close()

    def __enter__(self) -> TcpProxy:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def _call(self, command: Callable[[], T]) -> T:
        """Run ``command`` on the proxy thread and return its result."""
        if threading.current_thread() is self._thread:
            return command()
        if self._failure is not None:
            raise RuntimeError("the proxy thread failed") from self._failure
        if not self._running:
            raise RuntimeError("the proxy is closed")
        future: Future[T] = Future()
        self._commands.append((command, future))
        self._wake_writer.send(b"\0")
        return future.result(COMMAND_TIMEOUT)

    # -- the proxy thread ----------------------------------------------------

    def _listen(self) -> None:
        if self._listener is not None:
            return
        listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind((self.host, self.port))
        listener.listen(64)
        listener.setblocking(False)
        self.port = listener.getsockname()[1]
        self._listener = listener
        self._selector.register(listener, selectors.EVENT_READ, None)

    def _stop_listening(self) -> None:
        if self._listener is not None:
            self._selector.unregister(self._listener)
            self._listener.close()
            self._listener = None

    def _shut_down(self) -> None:
        self._cut_all()
        self._stop_listening()
        self._running = False

    def _cut_all(self) -> int:
        links = list(self._links)
        for link in links:
            self._drop(link, reset=True)
        return len(links)

    def _run(self) -> None:
        try:
            self._loop()
        except BaseException as exc:
            self._failure = exc
            raise

    def _loop(self) -> None:
        while self._running:
            for key, _ in self._selector.select(self._timeout()):
                if key.fileobj is self._wake_reader:
                    self._drain_wakeups()
                elif key.fileobj is self._listener:
                    self._accept()
                elif isinstance(key.data, _Link) and key.data in self._links:
                    self._on_ready(key.data, cast(socket.socket, key.fileobj))
            self._run_commands()
            self._pump_all()

    def _drain_wakeups(self) -> None:
        try:
            while self._wake_reader.recv(4096):
                pass
        except BlockingIOError:
            pass

    def _run_commands(self) -> None:
        while self._commands:
            command, future = self._commands.popleft()
            try:
                future.set_result(command())
            except BaseException as exc:
                future.set_exception(exc)

    def _accept(self) -> None:
        assert self._listener is not None
        try:
            client, _ = self._listener.accept()
        except BlockingIOError:
            return
        self._accepted += 1
        client.setblocking(False)
        client.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        upstream = socket.socket(self._target_family, socket.SOCK_STREAM)
        upstream.setblocking(False)
        upstream.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        link = _Link(client, upstream)
        self._links.append(link)
        error = upstream.connect_ex(self._target_address)
        if error not in (0, errno.EINPROGRESS):
            self._drop(link, reset=True)
            return
        # The client is not read until the upstream connection is established.
        self._selector.register(upstream, selectors.EVENT_WRITE, link)
        link.masks[upstream] = selectors.EVENT_WRITE

    def _on_ready(self, link: _Link, sock: socket.socket) -> None:
        if not link.connected:
            if link.upstream.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR):
                self._drop(link, reset=True)
                return
            link.connected = True
        for pipe in link.pipes():
            if pipe.source is sock and not pipe.eof and self._may_read(pipe):
                self._read(link, pipe)
                if link not in self._links:
                    return

    def _may_read(self, pipe: _Pipe) -> bool:
        return not self._stalled and pipe.held() < HIGH_WATER

    def _read(self, link: _Link, pipe: _Pipe) -> None:
        try:
            data = pipe.source.recv(READ_SIZE)
        except BlockingIOError:
            return
        except OSError:
            self._drop(link, reset=True)
            return
        if not data:
            pipe.eof = True
        elif self._delay > 0:
            pipe.delayed.append((time.monotonic() + self._delay, data))
        else:
            pipe.ready += data

    def _pump_all(self) -> None:
        for link in list(self._links):
            if link.connected:
                self._pump(link)
            if link in self._links:
                self._update_interest(link)

    def _pump(self, link: _Link) -> None:
        now = time.monotonic()
        for pipe in link.pipes():
            pipe.release_due(now)
            if self._stalled:
                continue
            if pipe.ready and not self._send(link, pipe, now):
                return
            if pipe.eof and not pipe.shut and not pipe.held():
                try:
                    pipe.sink.shutdown(socket.SHUT_WR)
                except OSError:
                    self._drop(link, reset=True)
                    return
                pipe.shut = True
        if link.finished():
            self._drop(link, reset=False)

    def _burst(self) -> float:
        """Bytes a rate-limited pipe may send at once: 50 ms worth (so 20 sends a second)."""
        assert self._rate is not None
        return max(1.0, self._rate * 0.05)

    def _quantum(self, pipe: _Pipe) -> float:
        """The allowance a rate-limited pipe waits for before it sends."""
        return min(float(len(pipe.ready)), self._burst())

    def _send(self, link: _Link, pipe: _Pipe, now: float) -> bool:
        """Send what the rate limit allows; False if the link was dropped."""
        limit = len(pipe.ready)
        if self._rate is not None:
            elapsed = now - pipe.last_refill
            pipe.allowance = min(self._burst(), pipe.allowance + elapsed * self._rate)
            pipe.last_refill = now
            if pipe.allowance < self._quantum(pipe):
                return True
            limit = min(limit, int(pipe.allowance))
        try:
            sent = pipe.sink.send(pipe.ready[:limit])
        except BlockingIOError:
            return True
        except OSError:
            self._drop(link, reset=True)
            return False
        del pipe.ready[:sent]
        if self._rate is not None:
            pipe.allowance -= sent
        return True

    def _wants_write(self, pipe: _Pipe) -> bool:
        """Whether the sink should be watched for room (not when waiting for the rate limit)."""
        if not pipe.ready or self._stalled:
            return False
        return self._rate is None or pipe.allowance >= self._quantum(pipe)

    def _update_interest(self, link: _Link) -> None:
        for sock in (link.client, link.upstream):
            mask = 0
            if not link.connected:
                mask = selectors.EVENT_WRITE if sock is link.upstream else 0
            else:
                for pipe in link.pipes():
                    if pipe.source is sock and not pipe.eof and self._may_read(pipe):
                        mask |= selectors.EVENT_READ
                    if pipe.sink is sock and self._wants_write(pipe):
                        mask |= selectors.EVENT_WRITE
            if mask != link.masks[sock]:
                if link.masks[sock] == 0:
                    self._selector.register(sock, mask, link)
                elif mask == 0:
                    self._selector.unregister(sock)
                else:
                    self._selector.modify(sock, mask, link)
                link.masks[sock] = mask

    def _timeout(self) -> Optional[float]:
        """How long the loop may sleep: until the next delayed chunk or rate-limit refill."""
        if self._stalled:
            return None
        due: Optional[float] = None
        for link in self._links:
            for pipe in link.pipes():
                if pipe.delayed:
                    due = pipe.delayed[0][0] if due is None else min(due, pipe.delayed[0][0])
                if pipe.ready and self._rate is not None:
                    missing = self._quantum(pipe) - pipe.allowance
                    if missing > 0:  # otherwise the sink is watched for room
                        refill = pipe.last_refill + missing / self._rate
                        due = refill if due is None else min(due, refill)
        return None if due is None else max(0.0, due - time.monotonic())

    def _drop(self, link: _Link, reset: bool) -> None:
        self._links.remove(link)
        for sock in (link.client, link.upstream):
            if link.masks[sock]:
                self._selector.unregister(sock)
            if reset:
                reset_and_close(sock)
            else:
                sock.close()
