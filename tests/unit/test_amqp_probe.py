"""Broker discovery: the URL rules, the Connection.Start probe, and scripts/ensure_broker.py."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.utils.amqp_probe import (
    DEFAULT_URL,
    PROTOCOL_HEADER,
    BrokerUnreachable,
    NotAnAmqpBroker,
    broker_url,
    check_amqp,
    parse_broker_url,
    redact_url,
)
from tests.utils.fake_server import ScriptedServer, raw_frame
from tests.utils.sockets import free_ports

ENSURE_BROKER = Path(__file__).resolve().parents[2] / "scripts" / "ensure_broker.py"
START_FRAME = raw_frame(1, 0, b"\x00\x0a\x00\x0a" + b"\x00\x09")


def test_url_from_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("PIKA_TEST_URL", raising=False)
    monkeypatch.delenv("AMQP_URL", raising=False)
    assert broker_url() == DEFAULT_URL
    monkeypatch.setenv("AMQP_URL", "amqp://second/")
    assert broker_url() == "amqp://second/"
    monkeypatch.setenv("PIKA_TEST_URL", "amqp://first/")
    assert broker_url() == "amqp://first/"


@pytest.mark.parametrize(
    ("url", "host", "port", "tls"),
    [
        ("amqp://guest:guest@127.0.0.1:5672/", "127.0.0.1", 5672, False),
        ("amqps://broker.example/vhost", "broker.example", 5671, True),
        ("amqp://[::1]:5673", "::1", 5673, False),
        ("amqp://", "localhost", 5672, False),
    ],
)
def test_parse_broker_url(url: str, host: str, port: int, tls: bool) -> None:
    address = parse_broker_url(url)
    assert (address.host, address.port, address.tls) == (host, port, tls)


def test_parse_rejects_other_schemes_without_showing_the_password() -> None:
    with pytest.raises(ValueError, match="scheme") as caught:
        parse_broker_url("http://user:secret@host/")
    assert "secret" not in str(caught.value)


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("amqp://user:secret@host:5672/v?heartbeat=5", "amqp://user:***@host:5672/v?heartbeat=5"),
        ("amqp://user@host/", "amqp://user@host/"),
        ("amqp://host", "amqp://host"),
        ("amqp://user:secret@[::1]:1/", "amqp://user:***@[::1]:1/"),
        ("amqp://user:secret@[::1/", "<malformed URL>"),
    ],
)
def test_redact_url(url: str, shown: str) -> None:
    assert redact_url(url) == shown


def test_probe_accepts_connection_start() -> None:
    server = ScriptedServer()
    server.expect(PROTOCOL_HEADER).send(START_FRAME).expect_closed()
    with server:
        assert check_amqp(*server.address) == START_FRAME[:11]
        server.wait()


@pytest.mark.parametrize(
    "reply",
    [
        b"AMQP\x00\x00\x09\x01",  # a broker refusing our protocol version
        raw_frame(1, 0, b"\x00\x0a\x00\x1e"),  # a method, but not Connection.Start
        raw_frame(1, 1, b"\x00\x0a\x00\x0a"),  # Connection.Start on the wrong channel
        b"HTTP/1.1 400 Bad Request\r\n\r\n",
    ],
)
def test_probe_rejects_other_replies(reply: bytes) -> None:
    server = ScriptedServer()
    server.expect(PROTOCOL_HEADER).send(reply).close()
    with server, pytest.raises(NotAnAmqpBroker):
        check_amqp(*server.address, timeout=5)


def test_probe_gives_up_on_silence() -> None:
    server = ScriptedServer()
    server.expect(PROTOCOL_HEADER)
    with server, pytest.raises(NotAnAmqpBroker, match=r"no Connection\.Start"):
        check_amqp(*server.address, timeout=0.3)


def test_probe_reports_nothing_listening() -> None:
    (port,) = free_ports(1)
    with pytest.raises(BrokerUnreachable):
        check_amqp("127.0.0.1", port, timeout=2)


def run_ensure_broker(url: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in ("PIKA_TEST_URL", "AMQP_URL")}
    env["PIKA_TEST_URL"] = url
    return subprocess.run(
        [sys.executable, str(ENSURE_BROKER)],
        env=env,
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )


def test_ensure_broker_names_the_broker_it_uses() -> None:
    server = ScriptedServer()
    server.expect(PROTOCOL_HEADER).send(START_FRAME).expect_closed()
    with server:
        done = run_ensure_broker(server.url(password="hunter2"))
        server.wait()
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip().endswith(f"amqp://guest:***@127.0.0.1:{server.port}/")
    assert "hunter2" not in done.stdout + done.stderr


def test_ensure_broker_fails_on_a_server_that_is_not_amqp() -> None:
    server = ScriptedServer()
    server.expect(PROTOCOL_HEADER).send(b"SSH-2.0-OpenSSH\r\n").close()
    with server:
        done = run_ensure_broker(server.url(password="hunter2"))
    assert done.returncode == 2
    assert "not an AMQP 0-9-1 broker" in done.stderr
    assert "PIKA_TEST_URL" in done.stderr  # says how to get a broker
    assert "hunter2" not in done.stdout + done.stderr


def test_ensure_broker_does_not_start_anything_for_another_port() -> None:
    (port,) = free_ports(1)
    done = run_ensure_broker(f"amqp://guest:hunter2@127.0.0.1:{port}/")
    assert done.returncode == 2
    assert "no broker at" in done.stderr
    assert "hunter2" not in done.stdout + done.stderr
