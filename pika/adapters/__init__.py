"""Connection adapters: each joins the protocol engine to one event loop or I/O model.

Importing this package loads only the standard library's adapters. The
framework adapters are separate modules, each needing its extra:
`pika.adapters.tornado_connection` (``pika[tornado]``),
`pika.adapters.twisted_connection` (``pika[twisted]``) and
`pika.adapters.gevent_connection` (``pika[gevent]``);
`pika.adapters.asyncio_connection` needs nothing more.
"""

from pika.adapters.asyncore_connection import AsyncoreConnection
from pika.adapters.base_connection import BaseConnection
from pika.adapters.blocking_connection import BlockingConnection
from pika.adapters.select_connection import IOLoop, SelectConnection

__all__ = [
    "AsyncoreConnection",
    "BaseConnection",
    "BlockingConnection",
    "IOLoop",
    "SelectConnection",
]
