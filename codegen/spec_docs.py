"""What each AMQP method argument and content property means, for the
docstrings that ``generate_spec.py`` writes into ``pika/spec.py``.

Keys are the Python names of the fields (``global`` is ``global_qos``). A
name used by several methods with different meanings has a text that fits
each; ``FIELD_DOCS_BY_METHOD`` overrides one method's field where it does not.
"""

from __future__ import annotations

import textwrap
from collections.abc import Sequence

FIELD_DOCS = {
    "active": "True to start (or resume) the flow of content, False to stop it; in "
    "``Access.Request``, ask for active access.",
    "app_id": "Identifier of the application that made the message.",
    "arguments": "Extra arguments for broker extensions (an AMQP field table).",
    "auto_delete": "Delete the entity once its last user (binding or consumer) goes.",
    "capabilities": "Reserved; empty.",
    "challenge": "The SASL challenge to answer.",
    "channel_id": "Reserved; empty.",
    "channel_max": "Most channels: proposed by the server, then agreed by the client "
    "(0: no limit).",
    "class_id": "The class of the method that caused the close, or 0.",
    "client_properties": "What the client announces about itself (product, version, "
    "capabilities...), as a field table.",
    "cluster_id": "Reserved (deprecated).",
    "consumer_count": "How many consumers the queue has.",
    "consumer_tag": "The consumer's tag (set by the client or, when empty, the server).",
    "content_encoding": "MIME content encoding of the body, such as ``gzip``.",
    "content_type": "MIME content type of the body, such as ``application/json``.",
    "correlation_id": "Application correlation identifier (e.g. the request a reply answers).",
    "delivery_mode": "1 (transient) or 2 (persistent: written to disk by durable queues).",
    "delivery_tag": "The delivery's number on its channel, counted by the server from 1.",
    "destination": "The exchange that receives what the binding routes.",
    "durable": "Keep the entity across server restarts.",
    "exchange": "Name of the exchange.",
    "exclusive": "Exclusive use: by this connection only (a queue) or as the queue's "
    "only consumer.",
    "expiration": "Per-message time to live, in milliseconds, as a string.",
    "frame_max": "Largest frame in bytes: proposed by the server, then agreed by the "
    "client (0: no limit).",
    "global_qos": "Apply the limit to the whole channel rather than to each consumer.",
    "headers": "Application headers, as a field table.",
    "heartbeat": "Heartbeat interval in seconds: proposed by the server, then agreed by "
    "the client (0: none).",
    "if_empty": "Delete only if the queue holds no messages.",
    "if_unused": "Delete only if the entity is not in use (no bindings or no consumers).",
    "immediate": "Unsupported by RabbitMQ; must be False.",
    "insist": "Reserved; False.",
    "internal": "Publishers may not publish to the exchange; only other exchanges may route to it.",
    "known_hosts": "Reserved; empty.",
    "locale": "The locale the client chose for the server's messages.",
    "locales": "The locales the server offers, separated by spaces.",
    "mandatory": "Return the message if no queue takes it.",
    "mechanism": "The SASL mechanism the client chose.",
    "mechanisms": "The SASL mechanisms the server offers, separated by spaces.",
    "message_count": "How many messages the queue holds (or held: purged or deleted).",
    "message_id": "Application message identifier.",
    "method_id": "The method that caused the close, or 0.",
    "multiple": "Cover every outstanding delivery up to and including ``delivery_tag``.",
    "new_secret": "The new secret (password or token).",
    "no_ack": "The server counts messages as acknowledged once sent.",
    "no_local": "Unsupported by RabbitMQ; False.",
    "nowait": "Ask the server not to reply.",
    "out_of_band": "Reserved; empty.",
    "passive": "Only check that the entity exists; create or change nothing.",
    "prefetch_count": "Most unacknowledged messages (0: no limit).",
    "prefetch_size": "Most bytes of unacknowledged bodies (0: no limit).",
    "priority": "Message priority, 0 to 9 (queues declared with ``x-max-priority`` honour it).",
    "queue": "Name of the queue.",
    "read": "Ask for read access.",
    "realm": "The access realm.",
    "reason": "Why (for the server's log, or why it blocked the connection).",
    "redelivered": "The message was delivered before and not acknowledged.",
    "reply_code": "The reply code (e.g. 200 for success, 404 not found, 312 no route).",
    "reply_text": "The reply text.",
    "reply_to": "Where to send the reply: a queue name or ``amq.rabbitmq.reply-to``.",
    "requeue": "Requeue the messages rather than discarding or dead-lettering them.",
    "response": "The SASL response (for PLAIN: ``\\0user\\0password``).",
    "routing_key": "The routing key (of the message, or the binding key).",
    "server_properties": "What the server announces about itself (product, version, "
    "capabilities...), as a field table.",
    "source": "The exchange that the binding routes from.",
    "ticket": "Reserved (access tickets are deprecated); 0.",
    "timestamp": "Message timestamp, in seconds since the epoch.",
    "type": "The exchange type (``direct``, ``fanout``, ``topic``, ``headers``...), or "
    "the message type name.",
    "user_id": "The user who published the message (RabbitMQ checks it against the "
    "connection's user).",
    "version_major": "The protocol major version the server speaks.",
    "version_minor": "The protocol minor version the server speaks.",
    "virtual_host": "The virtual host to open.",
    "write": "Ask for write access.",
    # Fields that only AMQP 0-8 (pika.spec08) has.
    "broadcast": "Deliver a staged file or stream message to every consumer of the queue.",
    "consume_rate": "Messages per second the consumer can take (0: no limit).",
    "content_checksum": "Checksum of the staged content (0-8 File class).",
    "content_size": "Size in bytes of the staged content (0-8 File class).",
    "data_name": "Name of the data set the test server streams back.",
    "details": "Further information the Tunnel class carries.",
    "dtx_identifier": "Identifier of the distributed transaction.",
    "filename": "Name under which the file was staged.",
    "global": "Apply the setting to the whole connection rather than the channel.",
    "host": "The server host a redirect or a proxy is about (0-8 Connection.Open/Redirect).",
    "identifier": "Staging identifier of a file message.",
    "integer_1": "First test integer (0-8 Test class).",
    "integer_2": "Second test integer (0-8 Test class).",
    "integer_3": "Third test integer (0-8 Test class).",
    "integer_4": "Fourth test integer (0-8 Test class).",
    "integer_op": "Operation to apply to the test integers.",
    "integer_result": "Result of the test operation on the integers.",
    "meta_data": "Metadata of the tunnelled content.",
    "operation": "The operation the Test class asks for.",
    "proxy_name": "Name of the proxy the tunnel goes through.",
    "result": "Result the server returns for the test request.",
    "staged_size": "Bytes of the file message already staged.",
    "string_1": "First test string (0-8 Test class).",
    "string_2": "Second test string (0-8 Test class).",
    "string_op": "Operation to apply to the test strings.",
    "string_result": "Result of the test operation on the strings.",
    "table": "Field table the Test class sends back.",
}
"""The meaning of each field, by Python name."""

FIELD_DOCS_BY_METHOD = {
    ("Queue.DeclareOk", "queue"): "Name of the queue (the server's choice if it was "
    "declared as ``''``).",
}
"""Overrides of `FIELD_DOCS` for one method's field: (qualified name, field) to text."""


def class_docstring(summary: str, fields: Sequence[str], owner: str) -> list[str]:
    """A generated class's docstring lines (at one indent): ``summary``, then
    ``Args:`` documenting each of ``fields`` (Python names) of ``owner``."""
    if not fields:
        return [f'    """{summary}"""']
    lines = [f'    """{summary}', "", "    Args:"]
    for name in fields:
        text = FIELD_DOCS_BY_METHOD.get((owner, name), FIELD_DOCS[name])
        lines.extend(
            textwrap.wrap(
                f"{name}: {text}",
                96,
                initial_indent="        ",
                subsequent_indent="            ",
                break_on_hyphens=False,
            )
        )
    lines.append('    """')
    return lines
