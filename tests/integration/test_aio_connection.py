"""`pika.aio.connect` and `pika.aio.Connection` against the broker: the
forms of ``parameters``, failover, refused logins, ``wait_closed``,
``update_secret``, closing, and what a loss means with recovery off.
"""

from __future__ import annotations

import asyncio
import socket

import pytest

import pika.aio
from pika import exceptions
from pika.credentials import PlainCredentials
from pika.parameters import URLParameters
from tests.integration.aio_support import run, unique
from tests.integration.recovery_support import close_named_connection, named

pytestmark = pytest.mark.broker


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_connect_takes_a_url_parameters_or_a_failover_list(broker_url: str) -> None:
    async def main() -> None:
        conn = await pika.aio.connect(broker_url)
        assert conn.is_open and not conn.blocked and conn.recovery is not None
        await conn.close()
        assert conn.is_closed
        await conn.close()  # closed already: nothing happens
        await conn.wait_closed()

        dead = f"amqp://guest:guest@127.0.0.1:{_closed_port()}/?connection_attempts=1"
        async with pika.aio.connect([dead, URLParameters(broker_url)], recovery=None) as conn:
            assert conn.is_open and conn.recovery is None
            with pytest.raises(exceptions.ConnectionWrongStateError):
                conn.add_on_recovery_started_callback(lambda _conn, _error: None)

    run(main)


def test_bad_arguments_raise_at_once() -> None:
    with pytest.raises(TypeError, match="parameters must be"):
        pika.aio.connect(42)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="recovery must be"):
        pika.aio.connect("amqp://localhost/", recovery=3)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="recovery_wait_timeout"):
        pika.aio.connect("amqp://localhost/", recovery_wait_timeout=-1)


def test_a_refused_login_raises_the_handshake_error(broker_url: str) -> None:
    params = URLParameters(broker_url)
    params.credentials = PlainCredentials("guest", "not-the-password")
    params.connection_attempts = 1

    async def main() -> None:
        with pytest.raises(exceptions.ProbableAuthenticationError):
            await pika.aio.connect(params)

    run(main)


def test_nothing_listening_raises_an_amqp_connection_error() -> None:
    url = f"amqp://guest:guest@127.0.0.1:{_closed_port()}/?connection_attempts=1"

    async def main() -> None:
        with pytest.raises(exceptions.AMQPConnectionError):
            await pika.aio.connect(url)

    run(main)


def test_update_secret(broker_url: str) -> None:
    credentials = URLParameters(broker_url).credentials
    assert isinstance(credentials, PlainCredentials)

    async def main() -> None:
        async with pika.aio.connect(broker_url) as conn:
            await conn.update_secret(credentials.password, "a refreshed secret")
            async with conn.channel() as channel:
                await channel.queue_declare("", exclusive=True)

    run(main)


def test_without_recovery_a_broker_close_ends_everything(broker_url: str) -> None:
    name = unique("norecovery")

    async def main() -> None:
        conn = await pika.aio.connect(named(broker_url, name), recovery=None)
        channel = await conn.channel()
        queue = str((await channel.queue_declare("", exclusive=True)).method.queue)
        waiter = asyncio.ensure_future(conn.wait_closed())
        loop = asyncio.get_running_loop()
        await loop.run_in_executor(None, close_named_connection, name)
        with pytest.raises(exceptions.ConnectionClosedByBroker) as raised:
            await waiter
        assert raised.value.reply_code == 320
        assert conn.is_closed and channel.is_closed
        with pytest.raises(exceptions.ConnectionClosedByBroker):
            await channel.basic_get(queue)
        with pytest.raises(exceptions.ConnectionClosedByBroker):
            await conn.channel()

    run(main)


def test_closing_the_connection_ends_waiting_calls(broker_url: str) -> None:
    async def main() -> None:
        conn = await pika.aio.connect(broker_url)
        channel = await conn.channel()
        queue = str((await channel.queue_declare("", exclusive=True)).method.queue)
        consumer = channel.consume(queue)
        await consumer.__aenter__()
        waiting = asyncio.ensure_future(consumer.__anext__())
        await asyncio.sleep(0.05)
        await conn.close()
        with pytest.raises(StopAsyncIteration):
            await waiting
        with pytest.raises(exceptions.ChannelWrongStateError):
            await channel.basic_publish("", queue, b"x")
        with pytest.raises(exceptions.ConnectionWrongStateError):
            await conn.channel()
        await conn.wait_closed()

    run(main)
