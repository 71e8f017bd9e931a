"""A scripted TCP server, for what a healthy broker never sends.

Malformed or oversized frames, a wrong protocol header, silence, a close at
the wrong moment: a test writes the server's side as a ``Script`` of steps
and checks how the client reacts. Everything the client sends is recorded.

    server = ScriptedServer()
    server.expect(b"AMQP\\x00\\x00\\x09\\x01").send(raw_frame(1, 0, b"junk")).expect_closed()
    with server:
        run_the_client(server.url())
        server.wait()                  # raises ScriptFailed if a step failed
        assert server.received() == b"AMQP\\x00\\x00\\x09\\x01"

``ScriptedServer(script_a, script_b)`` plays ``script_a`` on the first
accepted connection and ``script_b`` on the second; once every script has a
connection the listening socket closes, so further attempts are refused.
After its last step a connection stays open and its input is still recorded
until the client closes it or the server is closed.
"""

from __future__ import annotations

import socket
import struct
import threading
import time
from dataclasses import dataclass, field
from typing import Callable, Optional, Union

from tests.utils.sockets import reset_and_close

FRAME_END = 0xCE
DEFAULT_STEP_TIMEOUT = 10.0
Expectation = Union[int, bytes, Callable[[bytes], bool]]


def raw_frame(frame_type: int, channel: int, payload: bytes, frame_end: int = FRAME_END) -> bytes:
    """An AMQP frame with exactly these fields: the declared size is ``len(payload)``."""
    return struct.pack(">BHI", frame_type, channel, len(payload)) + payload + bytes([frame_end])


class ScriptFailed(AssertionError):
    """A step of the script did not happen as written (the client misbehaved or was too slow)."""


# A step runs against the connection; it returns True when it ended the connection.
_Step = Callable[["_Session"], bool]


@dataclass
class Script:
    """The server's side of one connection, built by chaining steps."""

    steps: list[_Step] = field(default_factory=list)

    def expect(self, what: Expectation, timeout: float = DEFAULT_STEP_TIMEOUT) -> Script:
        """Wait for client bytes and consume them.

        ``int``: that many bytes; ``bytes``: exactly these bytes next;
        a callable: until it returns True for all unconsumed bytes, which it
        then consumes.
        """
        self.steps.append(lambda session: session.expect(what, timeout))
        return self

    def expect_prefix(
        self, find: Callable[[bytes], Optional[int]], timeout: float = DEFAULT_STEP_TIMEOUT
    ) -> Script:
        """Wait for client bytes and consume only those ``find`` claims.

        ``find`` gets all unconsumed bytes and returns how many leading ones
        make up what it waits for, or None until they have all arrived. The
        bytes after them stay for the next steps, however they were split
        into reads: a client may send its next frames right behind.
        """
        self.steps.append(lambda session: session.expect_prefix(find, timeout))
        return self

    def send(self, data: bytes) -> Script:
        data = bytes(data)
        self.steps.append(lambda session: session.send(data))
        return self

    def sleep(self, seconds: float) -> Script:
        self.steps.append(lambda session: session.sleep(seconds))
        return self

    def trickle(self, data: bytes, interval: float) -> Script:
        """Send ``data`` one byte every ``interval`` seconds; a client that
        gives up meanwhile ends the connection (not a failure)."""
        data = bytes(data)
        self.steps.append(lambda session: session.trickle(data, interval))
        return self

    def close(self, reset: bool = False) -> Script:
        """Close the connection: FIN, or RST with ``reset=True``. Ends the script."""
        self.steps.append(lambda session: session.close(reset))
        return self

    def expect_closed(self, timeout: float = DEFAULT_STEP_TIMEOUT) -> Script:
        """Wait until the client closes the connection (anything it sends first is recorded)."""
        self.steps.append(lambda session: session.expect_closed(timeout))
        return self


class _Session:
    """One accepted connection playing one script."""

    def __init__(self, sock: socket.socket, script: Script, stopping: threading.Event) -> None:
        self.sock = sock
        self.script = script
        self.stopping = stopping
        self.buffer = bytearray()
        self.consumed = 0
        self.peer_closed = False
        self.step = 0
        self.error: Optional[ScriptFailed] = None
        self.steps_done = threading.Event()
        self.lock = threading.Lock()

    def play(self) -> None:
        try:
            for number, run in enumerate(self.script.steps, 1):
                self.step = number
                if run(self):
                    return
            self.steps_done.set()
            while not self.peer_closed and not self.stopping.is_set():
                self._receive(time.monotonic() + 0.2)
        except ScriptFailed as exc:
            self.error = exc
            reset_and_close(self.sock)
        except OSError:
            pass  # the server was closed under us
        finally:
            self.steps_done.set()
            self.sock.close()

    def fail(self, message: str) -> ScriptFailed:
        return ScriptFailed(f"step {self.step}: {message}")

    def send(self, data: bytes) -> bool:
        try:
            self.sock.sendall(data)
        except OSError as exc:
            raise self.fail(f"sending {data[:40]!r} failed: {exc}") from exc
        return False

    def sleep(self, seconds: float) -> bool:
        self.stopping.wait(seconds)
        return False

    def trickle(self, data: bytes, interval: float) -> bool:
        for index in range(len(data)):
            try:
                self.sock.sendall(data[index : index + 1])
            except OSError:
                return True
            if self.stopping.wait(interval):
                return True
        return False

    def close(self, reset: bool) -> bool:
        self.steps_done.set()
        if reset:
            reset_and_close(self.sock)
        else:
            self.sock.shutdown(socket.SHUT_RDWR)
        return True

    def expect_closed(self, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while not self.peer_closed:
            if not self._receive(deadline):
                raise self.fail(f"the client did not close within {timeout:g} s")
        return False

    def expect(self, what: Expectation, timeout: float) -> bool:
        if isinstance(what, int):
            count = what
            return self.expect_prefix(
                lambda pending: count if len(pending) >= count else None, timeout
            )
        if isinstance(what, bytes):
            return self.expect_prefix(lambda pending: self._exactly(what, pending), timeout)
        predicate = what
        return self.expect_prefix(
            lambda pending: len(pending) if predicate(pending) else None, timeout
        )

    def _exactly(self, what: bytes, pending: bytes) -> Optional[int]:
        if len(pending) < len(what):
            return None
        if pending[: len(what)] != what:
            raise self.fail(f"expected {what!r}, got {pending[: len(what)]!r}")
        return len(what)

    def expect_prefix(self, find: Callable[[bytes], Optional[int]], timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while True:
            pending = bytes(self.buffer[self.consumed :])
            length = find(pending)
            if length is not None:
                self.consumed += length
                return False
            if self.peer_closed:
                raise self.fail(f"the client closed; unconsumed bytes {pending!r}")
            if not self._receive(deadline):
                raise self.fail(
                    f"expectation not met within {timeout:g} s; unconsumed bytes {pending!r}"
                )

    def _receive(self, deadline: float) -> bool:
        """Read once (or notice the client's close); False if the deadline passed first."""
        remaining = deadline - time.monotonic()
        if remaining <= 0 or self.stopping.is_set():
            return False
        self.sock.settimeout(min(remaining, 0.2))
        try:
            data = self.sock.recv(65536)
        except socket.timeout:
            return True
        except ConnectionResetError:
            data = b""
        with self.lock:
            self.buffer += data
        if not data:
            self.peer_closed = True
        return True

    def received(self) -> bytes:
        with self.lock:
            return bytes(self.buffer)


class ScriptedServer:
    """A TCP server on 127.0.0.1 playing one script per accepted connection.

    Builder methods (``expect``, ``send``, ...) on the server add to its only
    script; pass ``Script`` objects for several connections.
    """

    def __init__(self, *scripts: Script, host: str = "127.0.0.1") -> None:
        self.scripts = list(scripts) or [Script()]
        self.host = host
        self._listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._listener.bind((host, 0))
        self.port: int = self._listener.getsockname()[1]
        self._stopping = threading.Event()
        self._sessions: list[_Session] = []
        self._threads: list[threading.Thread] = []
        self._acceptor: Optional[threading.Thread] = None
        self._accepted = threading.Condition()

    # -- building the single script -----------------------------------------

    def _only_script(self) -> Script:
        if len(self.scripts) != 1:
            raise TypeError("this server has several scripts: build each Script separately")
        return self.scripts[0]

    def expect(self, what: Expectation, timeout: float = DEFAULT_STEP_TIMEOUT) -> Script:
        return self._only_script().expect(what, timeout)

    def expect_prefix(
        self, find: Callable[[bytes], Optional[int]], timeout: float = DEFAULT_STEP_TIMEOUT
    ) -> Script:
        return self._only_script().expect_prefix(find, timeout)

    def send(self, data: bytes) -> Script:
        return self._only_script().send(data)

    def sleep(self, seconds: float) -> Script:
        return self._only_script().sleep(seconds)

    def close_connection(self, reset: bool = False) -> Script:
        return self._only_script().close(reset)

    def expect_closed(self, timeout: float = DEFAULT_STEP_TIMEOUT) -> Script:
        return self._only_script().expect_closed(timeout)

    # -- running ------------------------------------------------------------

    @property
    def address(self) -> tuple[str, int]:
        return (self.host, self.port)

    def url(self, user: str = "guest", password: str = "guest") -> str:
        """An amqp URL pointing at this server."""
        return f"amqp://{user}:{password}@{self.host}:{self.port}/"

    def start(self) -> ScriptedServer:
        if self._acceptor is None:
            self._listener.listen(len(self.scripts))
            self._acceptor = threading.Thread(target=self._accept_all, daemon=True)
            self._acceptor.start()
        return self

    def _accept_all(self) -> None:
        self._listener.settimeout(0.2)
        try:
            while len(self._sessions) < len(self.scripts) and not self._stopping.is_set():
                try:
                    sock, _ = self._listener.accept()
                except socket.timeout:
                    continue
                session = _Session(sock, self.scripts[len(self._sessions)], self._stopping)
                thread = threading.Thread(target=session.play, daemon=True)
                with self._accepted:
                    self._sessions.append(session)
                    self._threads.append(thread)
                    self._accepted.notify_all()
                thread.start()
        except OSError:
            pass  # closed while accepting
        finally:
            self._listener.close()

    def _session(self, index: int, timeout: float) -> _Session:
        with self._accepted:
            if not self._accepted.wait_for(lambda: len(self._sessions) > index, timeout):
                raise ScriptFailed(f"connection {index} was not made within {timeout:g} s")
            return self._sessions[index]

    @property
    def accepted(self) -> int:
        """How many connections have been accepted."""
        with self._accepted:
            return len(self._sessions)

    def wait(self, timeout: float = 30.0) -> None:
        """Wait until every script has run to its end; raise ``ScriptFailed`` if one failed."""
        deadline = time.monotonic() + timeout
        for index in range(len(self.scripts)):
            session = self._session(index, max(0.0, deadline - time.monotonic()))
            if not session.steps_done.wait(max(0.0, deadline - time.monotonic())):
                raise ScriptFailed(f"connection {index}: script still running after {timeout:g} s")
            if session.error is not None:
                raise ScriptFailed(f"connection {index}: {session.error}")

    def received(self, index: int = 0, timeout: float = 10.0) -> bytes:
        """Everything the client sent on connection ``index`` so far."""
        return self._session(index, timeout).received()

    def close(self) -> None:
        """Stop accepting, close every connection and wait for the threads."""
        self._stopping.set()
        if self._acceptor is not None:
            self._acceptor.join(5)
        else:
            self._listener.close()
        for thread in self._threads:
            thread.join(5)

    def __enter__(self) -> ScriptedServer:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.close()
