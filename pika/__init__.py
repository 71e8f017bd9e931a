"""A pure-Python AMQP 0-9-1 client for RabbitMQ with Pika's public interface."""

__version__ = "2.0.0.dev0"

import logging

from pika.adapters.base_connection import BaseConnection
from pika.adapters.blocking_connection import BlockingConnection
from pika.adapters.select_connection import SelectConnection
from pika.adapters.thread_safe_connection import Connection
from pika.adapters.utils.connection_workflow import AMQPConnectionWorkflow
from pika.connection import ConnectionParameters, SSLOptions, URLParameters
from pika.credentials import PlainCredentials
from pika.delivery_mode import DeliveryMode
from pika.spec import BasicProperties

# The library logs under "pika"; where records go is the application's choice.
logging.getLogger(__name__).addHandler(logging.NullHandler())

__all__ = [
    "AMQPConnectionWorkflow",
    "BaseConnection",
    "BasicProperties",
    "BlockingConnection",
    "Connection",
    "ConnectionParameters",
    "DeliveryMode",
    "PlainCredentials",
    "SSLOptions",
    "SelectConnection",
    "URLParameters",
    "__version__",
]
