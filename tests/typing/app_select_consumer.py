"""A SelectConnection consumer driven by callbacks."""

from __future__ import annotations

from typing import Optional

import pika
from pika.channel import Channel
from pika.connection import Connection
from pika.frame import Method
from pika.spec import Basic, BasicProperties, Queue


class Consumer:
    def __init__(self, parameters: pika.URLParameters) -> None:
        self.channel: Optional[Channel] = None
        self.queue = ""
        self.connection = pika.SelectConnection(
            parameters,
            on_open_callback=self.on_open,
            on_open_error_callback=self.on_open_error,
            on_close_callback=self.on_closed,
        )

    def on_open(self, connection: Connection) -> None:
        connection.channel(on_open_callback=self.on_channel)

    def on_open_error(self, connection: Connection, error: BaseException) -> None:
        print("could not connect:", error)
        self.connection.ioloop.stop()

    def on_closed(self, connection: Connection, reason: BaseException) -> None:
        print("closed:", reason)
        self.connection.ioloop.stop()

    def on_channel(self, channel: Channel) -> None:
        self.channel = channel
        channel.add_on_close_callback(self.on_channel_closed)
        channel.queue_declare("", exclusive=True, callback=self.on_declared)

    def on_channel_closed(self, channel: Channel, reason: Exception) -> None:
        print(f"channel {channel.channel_number} closed: {reason}")

    def on_declared(self, reply: Method[Queue.DeclareOk]) -> None:
        assert self.channel is not None
        self.queue = reply.method.queue
        self.channel.basic_qos(prefetch_count=50)
        self.channel.basic_consume(self.queue, self.on_message)
        self.channel.basic_publish("", self.queue, "hello")

    def on_message(
        self, channel: Channel, method: Basic.Deliver, properties: BasicProperties, body: bytes
    ) -> None:
        print(method.delivery_tag, properties.headers, body)
        channel.basic_ack(method.delivery_tag)
        self.connection.close()

    def run(self) -> None:
        self.connection.ioloop.start()


if __name__ == "__main__":
    Consumer(pika.URLParameters("amqp://localhost")).run()
