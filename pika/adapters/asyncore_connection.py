"""`AsyncoreConnection`: the name older Pika programs use for the selector connection.

Python's ``asyncore`` module is gone (removed in 3.12) and nothing here
needs it: the name stands for `SelectConnection`, with its parameters and
its `IOLoop`, so those programs keep running unchanged.
"""

from __future__ import annotations

from pika.adapters.select_connection import SelectConnection

__all__ = ["AsyncoreConnection"]


class AsyncoreConnection(SelectConnection):
    """`SelectConnection` under its old name: same parameters, same loop."""
