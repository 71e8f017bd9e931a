"""The thread-safe connection's default limits (Pika's values).

Apart from `pika.adapters.thread_safe_connection` so that its generated
operations module can name them in signatures without an import cycle.
"""

#: Seconds a synchronous call waits for the broker's reply by default.
DEFAULT_RPC_TIMEOUT = 10

#: Callbacks a channel's worker thread may have waiting before the I/O thread blocks.
DEFAULT_WORK_QUEUE_MAXSIZE = 1000

#: Seconds the I/O thread waits for room in a full work queue before giving up.
DEFAULT_WORK_QUEUE_PUT_TIMEOUT = 30.0
