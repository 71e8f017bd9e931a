"""A pure-Python AMQP 0-9-1 client for RabbitMQ with Pika's public interface."""

__version__ = "2.0.0.dev0"
