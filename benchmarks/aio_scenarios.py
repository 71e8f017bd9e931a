"""The asyncio scenarios: `pika.aio` against aio-pika, the same work each.

``scenarios.py`` hands the ``aio_*`` scenarios to this module. With the
project's interpreter, ``import pika.aio`` succeeds and the scenario runs
on this project; in the benchmark virtualenv (PyPI pika, which has no
``pika.aio``, and aio-pika installed by ``run.py``) it runs on aio-pika.
Both sides connect with their recovering connection (``pika.aio.connect``
recovers by default; aio-pika's ``connect_robust``) and use their usual
idioms: an async iterator with an ack per message for consuming, one
``await`` per publish, ``asyncio.gather`` for concurrent confirmed
publishes, and direct reply-to for RPC with the server in a process of its
own running the same library.
"""

from __future__ import annotations

import asyncio
import statistics
import subprocess
import sys
import time
import uuid
from typing import Any, Callable

from scenarios import LARGE, LARGE_BATCH, PREFETCH, REPLY_TO, SMALL, URL, Window, bulk, throughput

try:
    import pika.aio as ours
except ImportError:  # the benchmark virtualenv: measure aio-pika
    ours = None  # type: ignore[assignment]

CONFIRM_BATCH = 20_000


def library() -> str:
    """Which library this process measures."""
    if ours is not None:
        return "pika.aio"
    import aio_pika

    return f"aio-pika {aio_pika.__version__}"


# ------------------------------------------------------------- this project


async def _ours_publish(count: int) -> dict[str, Any]:
    async with ours.connect(URL) as conn, conn.channel() as channel:
        queue = str((await channel.queue_declare("", exclusive=True)).method.queue)
        with Window() as window:
            for _ in range(count):
                await channel.basic_publish("", queue, SMALL)
            await channel.queue_declare(queue, passive=True)
        return throughput(window, count)


async def _ours_consume(count: int) -> dict[str, Any]:
    async with ours.connect(URL) as conn, conn.channel() as channel:
        queue = str((await channel.queue_declare("", exclusive=True)).method.queue)
        await channel.confirm_delivery()
        for start in range(0, count, 5000):
            await asyncio.gather(
                *(channel.basic_publish("", queue, SMALL) for _ in range(min(5000, count - start)))
            )
        await channel.basic_qos(prefetch_count=PREFETCH)
        received = 0
        with Window() as window:
            async with channel.consume(queue) as messages:
                async for method, _properties, _body in messages:
                    assert method is not None
                    await channel.basic_ack(method.delivery_tag or 0)
                    received += 1
                    if received == count:
                        break
        return throughput(window, count)


async def _ours_confirms(count: int) -> dict[str, Any]:
    async with ours.connect(URL) as conn, conn.channel() as channel:
        queue = str((await channel.queue_declare("", exclusive=True)).method.queue)
        await channel.confirm_delivery()
        with Window() as window:
            await asyncio.gather(*(channel.basic_publish("", queue, SMALL) for _ in range(count)))
        return throughput(window, count)


async def _ours_rpc(queue: str, count: int) -> list[float]:
    async with ours.connect(URL) as conn, conn.channel() as channel:
        loop = asyncio.get_running_loop()
        waiting: dict[str, asyncio.Future[bytes]] = {}

        def on_reply(_ch: Any, _method: Any, properties: Any, body: bytes) -> None:
            future = waiting.pop(str(properties.correlation_id), None)
            if future is not None:
                future.set_result(body)

        await channel.basic_consume(REPLY_TO, on_reply, auto_ack=True)
        from pika import spec

        async def call(number: int) -> float:
            future = waiting[str(number)] = loop.create_future()
            properties = spec.BasicProperties(reply_to=REPLY_TO, correlation_id=str(number))
            started = time.perf_counter()
            await channel.basic_publish("", queue, SMALL, properties)
            await future
            return time.perf_counter() - started

        return await _rpc_rounds(call, count, lambda: channel.basic_publish("", queue, b"stop"))


async def _ours_rpc_server(queue: str) -> None:
    from pika import spec

    async with ours.connect(URL) as conn, conn.channel() as channel:
        await channel.queue_declare(queue, auto_delete=True)
        await channel.basic_qos(prefetch_count=10)
        print("ready", flush=True)
        async with channel.consume(queue, inactivity_timeout=30) as messages:
            async for method, properties, body in messages:
                if method is None or properties is None or body == b"stop":
                    break
                reply = spec.BasicProperties(correlation_id=properties.correlation_id)
                await channel.basic_publish("", str(properties.reply_to), body or b"", reply)
                await channel.basic_ack(method.delivery_tag or 0)


async def _ours_large(count: int) -> dict[str, Any]:
    async with ours.connect(URL) as conn, conn.channel() as channel:
        queue = str((await channel.queue_declare("", exclusive=True)).method.queue)
        await channel.basic_qos(prefetch_count=LARGE_BATCH * 2)
        async with channel.consume(queue) as messages:
            iterator = messages.__aiter__()
            with Window() as window:
                for _ in range(0, count, LARGE_BATCH):
                    for _ in range(LARGE_BATCH):
                        await channel.basic_publish("", queue, LARGE)
                    for _ in range(LARGE_BATCH):
                        method, _properties, body = await iterator.__anext__()
                        assert method is not None and len(body or b"") == len(LARGE)
                        await channel.basic_ack(method.delivery_tag or 0)
        return bulk(window, count, len(LARGE))


# ------------------------------------------------------------------ aio-pika


async def _theirs_publish(count: int) -> dict[str, Any]:
    import aio_pika

    connection = await aio_pika.connect_robust(URL)
    async with connection:
        channel = await connection.channel(publisher_confirms=False)
        queue = await channel.declare_queue("", exclusive=True)
        exchange = channel.default_exchange
        with Window() as window:
            for _ in range(count):
                await exchange.publish(aio_pika.Message(SMALL), routing_key=queue.name)
            await channel.declare_queue(queue.name, passive=True)
        return throughput(window, count)


async def _theirs_consume(count: int) -> dict[str, Any]:
    import aio_pika

    connection = await aio_pika.connect_robust(URL)
    async with connection:
        channel = await connection.channel()
        queue = await channel.declare_queue("", exclusive=True)
        for start in range(0, count, 5000):
            await asyncio.gather(
                *(
                    channel.default_exchange.publish(
                        aio_pika.Message(SMALL), routing_key=queue.name
                    )
                    for _ in range(min(5000, count - start))
                )
            )
        await channel.set_qos(prefetch_count=PREFETCH)
        received = 0
        with Window() as window:
            async with queue.iterator() as messages:
                async for message in messages:
                    await message.ack()
                    received += 1
                    if received == count:
                        break
        return throughput(window, count)


async def _theirs_confirms(count: int) -> dict[str, Any]:
    import aio_pika

    connection = await aio_pika.connect_robust(URL)
    async with connection:
        channel = await connection.channel()
        queue = await channel.declare_queue("", exclusive=True)
        exchange = channel.default_exchange
        with Window() as window:
            await asyncio.gather(
                *(
                    exchange.publish(aio_pika.Message(SMALL), routing_key=queue.name)
                    for _ in range(count)
                )
            )
        return throughput(window, count)


async def _theirs_rpc(queue: str, count: int) -> list[float]:
    import aio_pika

    connection = await aio_pika.connect_robust(URL)
    async with connection:
        channel = await connection.channel(publisher_confirms=False)
        loop = asyncio.get_running_loop()
        waiting: dict[str, asyncio.Future[bytes]] = {}

        async def on_reply(message: Any) -> None:
            future = waiting.pop(str(message.correlation_id), None)
            if future is not None:
                future.set_result(message.body)

        replies = await channel.get_queue(REPLY_TO)
        await replies.consume(on_reply, no_ack=True)
        exchange = channel.default_exchange

        async def call(number: int) -> float:
            future = waiting[str(number)] = loop.create_future()
            message = aio_pika.Message(SMALL, reply_to=REPLY_TO, correlation_id=str(number))
            started = time.perf_counter()
            await exchange.publish(message, routing_key=queue)
            await future
            return time.perf_counter() - started

        async def stop() -> None:
            await exchange.publish(aio_pika.Message(b"stop"), routing_key=queue)

        return await _rpc_rounds(call, count, stop)


async def _theirs_rpc_server(queue: str) -> None:
    import aio_pika

    connection = await aio_pika.connect_robust(URL)
    async with connection:
        channel = await connection.channel(publisher_confirms=False)
        await channel.set_qos(prefetch_count=10)
        requests = await channel.declare_queue(queue, auto_delete=True)
        print("ready", flush=True)
        async with requests.iterator(timeout=30) as messages:
            async for message in messages:
                if message.body == b"stop":
                    await message.ack()
                    break
                reply = aio_pika.Message(message.body, correlation_id=message.correlation_id)
                await channel.default_exchange.publish(reply, routing_key=str(message.reply_to))
                await message.ack()


async def _theirs_large(count: int) -> dict[str, Any]:
    import aio_pika

    connection = await aio_pika.connect_robust(URL)
    async with connection:
        channel = await connection.channel(publisher_confirms=False)
        await channel.set_qos(prefetch_count=LARGE_BATCH * 2)
        queue = await channel.declare_queue("", exclusive=True)
        exchange = channel.default_exchange
        async with queue.iterator() as messages:
            iterator = messages.__aiter__()
            with Window() as window:
                for _ in range(0, count, LARGE_BATCH):
                    for _ in range(LARGE_BATCH):
                        await exchange.publish(aio_pika.Message(LARGE), routing_key=queue.name)
                    for _ in range(LARGE_BATCH):
                        message = await iterator.__anext__()
                        assert len(message.body) == len(LARGE)
                        await message.ack()
        return bulk(window, count, len(LARGE))


# ------------------------------------------------------------------- shared


async def _rpc_rounds(
    call: Callable[[int], Any], count: int, stop: Callable[[], Any]
) -> list[float]:
    for number in range(max(50, count // 10)):
        await call(number)
    latencies = []
    with Window() as window:
        for number in range(count):
            latencies.append(await call(count + number))
    await stop()
    _RPC_WINDOW.append(window)
    return latencies


_RPC_WINDOW: list[Window] = []


def rpc(count: int) -> dict[str, Any]:
    """Request/reply over direct reply-to; the server is another process."""
    queue = f"bench-aio-rpc-{uuid.uuid4().hex[:12]}"
    server = subprocess.Popen(
        [sys.executable, sys.argv[0], "aio-rpc-server", queue], stdout=subprocess.PIPE
    )
    assert server.stdout is not None
    try:
        if server.stdout.readline().strip() != b"ready":
            raise RuntimeError("the RPC server did not start")
        client = _ours_rpc if ours is not None else _theirs_rpc
        latencies = sorted(asyncio.run(client(queue, count)))
    finally:
        server.wait(timeout=30)
    window = _RPC_WINDOW[-1]
    return {
        "library": library(),
        "count": count,
        "p50_us": statistics.median(latencies) * 1e6,
        "p99_us": latencies[int(len(latencies) * 0.99) - 1] * 1e6,
        **window.per_message(count),
    }


def rpc_server(queue: str) -> None:
    asyncio.run((_ours_rpc_server if ours is not None else _theirs_rpc_server)(queue))


def _runner(mine: Callable[[int], Any], theirs: Callable[[int], Any]) -> Callable[[int], Any]:
    def run(count: int) -> dict[str, Any]:
        result: dict[str, Any] = asyncio.run((mine if ours is not None else theirs)(count))
        result["library"] = library()
        return result

    return run


publish = _runner(_ours_publish, _theirs_publish)
consume = _runner(_ours_consume, _theirs_consume)
confirms = _runner(_ours_confirms, _theirs_confirms)
large = _runner(_ours_large, _theirs_large)
