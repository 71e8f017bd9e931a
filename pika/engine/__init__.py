"""The sans-I/O protocol engine: see `connection_engine` and ARCHITECTURE.md."""

from pika.engine import events
from pika.engine.connection_engine import ConnectionEngine
from pika.engine.tuning import EngineConfig

__all__ = ["ConnectionEngine", "EngineConfig", "events"]
