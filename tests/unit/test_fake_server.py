"""ScriptedServer driven by a raw socket client."""

from __future__ import annotations

import socket
import time

import pytest

from tests.utils.fake_server import Script, ScriptedServer, ScriptFailed, raw_frame

HEADER = b"AMQP\x00\x00\x09\x01"


def connect(server: ScriptedServer) -> socket.socket:
    return socket.create_connection(server.address, timeout=5)


def read_until_eof(sock: socket.socket) -> bytes:
    data = b""
    while chunk := sock.recv(4096):
        data += chunk
    return data


def test_plays_expect_send_close_and_records_input() -> None:
    server = ScriptedServer()
    server.expect(HEADER).send(b"reply").close()
    with server, connect(server) as sock:
        sock.sendall(HEADER)
        assert read_until_eof(sock) == b"reply"
        server.wait()
        assert server.received() == HEADER


def test_wrong_bytes_fail_the_script() -> None:
    server = ScriptedServer()
    server.expect(HEADER)
    with server, connect(server) as sock:
        sock.sendall(b"AMQP\x00\x00\x08\x00")
        with pytest.raises(ScriptFailed, match="expected"):
            server.wait()


def test_expect_a_count_then_a_predicate() -> None:
    server = ScriptedServer()
    server.expect(4).expect(lambda pending: pending.endswith(b"\n")).send(b"ok")
    with server, connect(server) as sock:
        sock.sendall(b"abcd")
        sock.sendall(b"first part, ")
        time.sleep(0.05)
        sock.sendall(b"second part\n")
        assert sock.recv(2) == b"ok"
        server.wait()
        assert server.received() == b"abcdfirst part, second part\n"


def test_expect_prefix_leaves_what_follows_in_the_same_read() -> None:
    server = ScriptedServer()
    server.expect_prefix(lambda pending: 4 if pending.startswith(b"PUB;") else None).expect(
        b"CLOSE"
    ).send(b"ok")
    with server, connect(server) as sock:
        sock.sendall(b"PUB;CLOSE")  # one write: the first step sees both
        assert sock.recv(2) == b"ok"
        server.wait()


def test_expect_prefix_waits_until_find_claims_bytes() -> None:
    server = ScriptedServer()
    server.expect_prefix(lambda pending: None, timeout=0.3)
    with server, connect(server) as sock:
        sock.sendall(b"never enough")
        with pytest.raises(ScriptFailed, match=r"not met within 0\.3 s; unconsumed bytes b'never"):
            server.wait()


def test_silence_times_out_an_expectation() -> None:
    server = ScriptedServer()
    server.expect(1, timeout=0.2)
    with server, connect(server), pytest.raises(ScriptFailed, match="not met within"):
        server.wait()


def test_client_close_before_expectation_fails() -> None:
    server = ScriptedServer()
    server.expect(8)
    with server:
        with connect(server) as sock:
            sock.sendall(b"AMQ")
        with pytest.raises(ScriptFailed, match="client closed"):
            server.wait()


def test_expect_closed_records_what_came_before_the_close() -> None:
    server = ScriptedServer()
    server.send(raw_frame(1, 0, b"bad", frame_end=0x00)).expect_closed()
    with server:
        with connect(server) as sock:
            assert sock.recv(100) == b"\x01\x00\x00\x00\x00\x00\x03bad\x00"
            sock.sendall(b"goodbye")
        server.wait()
        assert server.received() == b"goodbye"


def test_expect_closed_fails_when_the_client_stays() -> None:
    server = ScriptedServer()
    server.expect_closed(timeout=0.2)
    with server, connect(server), pytest.raises(ScriptFailed, match="did not close"):
        server.wait()


def test_close_with_reset() -> None:
    server = ScriptedServer()
    server.expect(1).close(reset=True)
    with server, connect(server) as sock:
        sock.sendall(b"x")
        server.wait()
        with pytest.raises(ConnectionResetError):
            sock.recv(1)


def test_sleep_delays_the_next_step() -> None:
    server = ScriptedServer()
    server.expect(1).sleep(0.3).send(b"late")
    with server, connect(server) as sock:
        started = time.monotonic()
        sock.sendall(b"x")
        assert sock.recv(4) == b"late"
        assert time.monotonic() - started >= 0.3


def test_trickle_sends_one_byte_at_a_time() -> None:
    server = ScriptedServer(Script().trickle(b"abc", 0.2).close())
    with server, connect(server) as sock:
        started = time.monotonic()
        first = sock.recv(10)
        assert first == b"a"
        assert first + read_until_eof(sock) == b"abc"
        assert time.monotonic() - started >= 0.35
        server.wait()


def test_trickle_ends_quietly_when_the_client_leaves() -> None:
    server = ScriptedServer(Script().trickle(b"x" * 100, 0.05))
    with server:
        with connect(server) as sock:
            assert sock.recv(1) == b"x"
        server.wait()


def test_input_after_the_last_step_is_still_recorded() -> None:
    server = ScriptedServer()
    server.send(b"hello")
    with server, connect(server) as sock:
        assert sock.recv(5) == b"hello"
        server.wait()
        sock.sendall(b"more")
        sock.shutdown(socket.SHUT_WR)
        assert sock.recv(1) == b""  # the server saw our close and closed too
        assert server.received() == b"more"


def test_one_script_per_connection_then_refusal() -> None:
    first = Script().expect(b"1").send(b"one").close()
    second = Script().expect(b"2").send(b"two").close()
    with ScriptedServer(first, second) as server:
        with connect(server) as a, connect(server) as b:
            a.sendall(b"1")
            b.sendall(b"2")
            assert read_until_eof(a) == b"one"
            assert read_until_eof(b) == b"two"
        server.wait()
        assert server.accepted == 2
        assert (server.received(0), server.received(1)) == (b"1", b"2")
        deadline = time.monotonic() + 5
        while True:  # the listener closes just after the last accept
            try:
                socket.create_connection(server.address, timeout=5).close()
            except ConnectionRefusedError:
                break
            assert time.monotonic() < deadline, "still accepting after the last script"
            time.sleep(0.05)


def test_builder_on_the_server_needs_a_single_script() -> None:
    server = ScriptedServer(Script(), Script())
    with pytest.raises(TypeError):
        server.send(b"x")
    server.close()


def test_wait_reports_a_missing_connection() -> None:
    with ScriptedServer() as server, pytest.raises(ScriptFailed, match="not made"):
        server.wait(timeout=0.2)


def test_url_points_at_the_server() -> None:
    with ScriptedServer() as server:
        assert server.url() == f"amqp://guest:guest@127.0.0.1:{server.port}/"


def test_raw_frame_layout() -> None:
    assert raw_frame(8, 0, b"") == b"\x08\x00\x00\x00\x00\x00\x00\xce"
    assert raw_frame(3, 513, b"ab") == b"\x03\x02\x01\x00\x00\x00\x02ab\xce"
