"""The sans-I/O AMQP connection: one state machine, no sockets, no clock.

It speaks AMQP 0-9-1, or 0-8 when `EngineConfig.amqp_version` says so; what
differs between the versions is data in `pika.engine.dialects`.

Feed it bytes (`receive_data`), take events out (`next_event`), give it
commands (`open_channel`, `publish`, `send_method`, `close`...), take the
bytes to send (`take_output`), and call `timer_due(now)` once the caller's
clock reaches `deadline`.

Connection states (`pika.states.EngineState`), in order::

    INIT -> AWAIT_START -> AWAIT_TUNE -> AWAIT_OPEN_OK -> OPEN -> CLOSING -> CLOSED

Any state may jump to CLOSED (stream lost, heartbeat timeout, broker close).
CLOSING means we sent Connection.Close and wait for Close-Ok; every other
incoming frame is then discarded, as the specification asks.

Channel states (`pika.states.EngineChannelState`): OPENING -> OPEN ->
CLOSING; a channel that we and the broker closed at the same time waits in
AWAIT_CLOSE_OK so its number is not reused before the broker's Close-Ok for
it has arrived.
"""

from __future__ import annotations

import collections
from typing import Any

from pika import amqp_object, exceptions, spec, spec08
from pika.engine import events
from pika.engine.channels import EngineChannel as _Channel
from pika.engine.channels import channel_opened
from pika.engine.content import NO_EVENT as _NO_EVENT
from pika.engine.content import ContentReader
from pika.engine.dialects import DIALECTS, redirect_error
from pika.engine.heartbeat import HeartbeatMonitor
from pika.engine.inbound import Buffer
from pika.engine.outbound import BytesLike, FrameWriter
from pika.engine.rules import CONNECTION_CLASS, CONTENT_METHODS, SERVER_METHODS, ProtocolViolation
from pika.engine.tuning import EngineConfig, client_properties, negotiate_heartbeat, negotiate_limit
from pika.frame import HEARTBEAT_BYTES, decode_method, scan_frame
from pika.states import EngineChannelState, EngineState

# States are compared by identity on the paths of every frame (`is` costs
# less than the str and int comparisons of these enums).
INIT = EngineState.INIT
AWAIT_START = EngineState.AWAIT_START
AWAIT_TUNE = EngineState.AWAIT_TUNE
AWAIT_OPEN_OK = EngineState.AWAIT_OPEN_OK
OPEN = EngineState.OPEN
CLOSING = EngineState.CLOSING
CLOSED = EngineState.CLOSED

CH_OPENING = EngineChannelState.OPENING
CH_OPEN = EngineChannelState.OPEN
CH_CLOSING = EngineChannelState.CLOSING
CH_AWAIT_CLOSE_OK = EngineChannelState.AWAIT_CLOSE_OK

_FRAME_METHOD = spec.FRAME_METHOD
_FRAME_HEADER = spec.FRAME_HEADER
_FRAME_BODY = spec.FRAME_BODY
_FRAME_HEARTBEAT = spec.FRAME_HEARTBEAT
_FRAME_END = spec.FRAME_END
_CHANNEL_CLOSE = spec.Channel.Close.INDEX
_CHANNEL_CLOSE_OK = spec.Channel.CloseOk.INDEX
_CHANNEL_OPEN_OK = spec.Channel.OpenOk.INDEX
_CHANNEL_FLOW = spec.Channel.Flow.INDEX
_ACCESS_REQUEST_OK = spec.Access.RequestOk.INDEX
#: First octets that are no AMQP frame: a protocol header ("AMQP"), a TLS
#: alert or handshake record (followed by 3, TLS's major version).
_NOT_AMQP = (b"A", b"\x15", b"\x16")
_SERVER_CONTENT_METHODS = CONTENT_METHODS & SERVER_METHODS
#: AMQP 0-9-1's frame-min-size (``spec.FRAME_MIN_SIZE`` keeps Pika's value).
FRAME_MIN_SIZE = 4096

Event = events.Event
_CONTENT_RECEIVED = events.ContentReceived


def _close_reason(method: Any) -> tuple[int, str]:
    """Reply code and text of a Close method, whatever the peer put there."""
    text = method.reply_text
    if isinstance(text, bytes):
        text = text.decode("utf-8", "replace")
    return int(method.reply_code or 0), str(text)


class ConnectionEngine(ContentReader):
    """One AMQP connection's protocol state. See the module docstring."""

    def __init__(self, config: EngineConfig) -> None:
        self.config = config
        self.state: EngineState = INIT
        self.server_properties: dict[str, Any] = {}
        self.channel_max = config.channel_max
        self.frame_max = config.frame_max
        self.heartbeat = 0
        self.known_hosts = ""
        self._init_inbound()
        self._max_frame = max(config.frame_max, FRAME_MIN_SIZE)
        self._max_message = config.max_message_size or -1
        self._limits_changed()
        #: The AMQP version spoken (`pika.engine.dialects.Dialect`).
        self.dialect = DIALECTS[config.amqp_version]
        self._methods = self.dialect.methods
        self._server_methods = self.dialect.server_methods
        self._reads_deliver = self._methods.get(spec.Basic.Deliver.INDEX) is spec.Basic.Deliver
        # Outgoing methods need checking (and tickets) in versions other than 0-9-1.
        self._checks_methods = bool(self.dialect.missing)
        self._writer = FrameWriter(self._max_frame, self.dialect.outgoing)
        self._channels: dict[int, _Channel] = {}
        self._events: collections.deque[Event] = collections.deque()
        self._monitor: HeartbeatMonitor | None = None
        self._now = 0.0
        self._close_code = 0
        self._close_text = ""
        self._close_error: Exception | None = None

    # ------------------------------------------------------------------ I/O side

    def start(self, now: float) -> None:
        """Begin the handshake: queue the protocol header."""
        if self.state != INIT:
            raise exceptions.ConnectionWrongStateError(f"engine already started ({self.state})")
        self._now = now
        self.state = AWAIT_START
        self._writer.raw(self.dialect.header)

    def take_output(self) -> list[BytesLike]:
        """Everything queued for the wire since the last call."""
        out = self._writer.take()
        if out and self._monitor is not None:
            self._monitor.sent = True
        return out

    @property
    def has_output(self) -> bool:
        return bool(self._writer)

    @property
    def deadline(self) -> float | None:
        """When `timer_due` must next be called, in the caller's clock."""
        if self._monitor is None or self.state == CLOSED:
            return None
        return self._monitor.next_tick

    def timer_due(self, now: float) -> None:
        """Run the heartbeat bookkeeping for time ``now``."""
        self._now = now
        monitor = self._monitor
        if monitor is None or self.state == CLOSED or now < monitor.next_tick:
            return
        send, dead = monitor.tick(now)
        if dead:
            self._terminate(
                exceptions.AMQPHeartbeatTimeout(
                    f"no data from the broker for {2 * monitor.interval:g} seconds "
                    f"(two heartbeat intervals of {monitor.interval:g} s)"
                )
            )
        elif send:
            self._writer.raw(HEARTBEAT_BYTES)

    def connection_lost(self, error: BaseException | None) -> None:
        """The transport is gone; queue the final event unless already closed."""
        if self.state == CLOSED:
            return
        detail = f": {error!r}" if error is not None else ""
        exc: Exception
        if self.state in (INIT, AWAIT_START):
            what = (
                "the TLS session ended before the broker sent Connection.Start (the broker "
                "may require a client certificate, or refuse this client's TLS settings)"
                if self.config.tls
                else "the stream closed before the broker sent Connection.Start"
            )
            exc = exceptions.IncompatibleProtocolError(f"{what}{detail}")
        elif self.state == AWAIT_TUNE and not self._refusal_is_announced():
            exc = exceptions.ProbableAuthenticationError(
                f"the broker closed the stream after the login was sent{detail}"
            )
        elif self.state == AWAIT_OPEN_OK:
            exc = exceptions.ProbableAccessDeniedError(
                f"the broker closed the stream while opening virtual host "
                f"{self.config.virtual_host!r}{detail}"
            )
        else:
            exc = exceptions.StreamLostError(f"Stream connection lost{detail}")
        self._terminate(exc)

    # ------------------------------------------------------------------ events

    def next_event(self) -> Event | None:
        """The next event, or None when more bytes are needed."""
        events_ = self._events
        while not events_:
            if self.state is CLOSED:
                return None
            if self._pos >= len(self._buf) and self._rest is None:
                return None  # nothing buffered: the usual end of a read
            try:
                event = self._next_frame()
            except ProtocolViolation as violation:
                self._violation(violation)
                continue
            if event is None:
                return None
            if event is not _NO_EVENT:
                return event  # type: ignore[return-value]
        return events_.popleft()

    def _refusal_is_announced(self) -> bool:
        """A broker with the authentication_failure_close capability refuses
        a login with Connection.Close (403), so a stream lost during the
        login is then a lost stream, not a refused login."""
        capabilities = self.server_properties.get("capabilities")
        return isinstance(capabilities, dict) and bool(
            capabilities.get("authentication_failure_close")
        )

    def _next_frame(self) -> object:
        buf = self._buf
        pos = self._pos
        if self.state is AWAIT_START and buf[pos : pos + 1] in _NOT_AMQP:
            outcome = self._not_amqp(buf, pos)
            if outcome is not False:
                return outcome
        try:
            found = scan_frame(buf, pos, self._max_frame)
        except exceptions.InvalidFrameError as exc:
            raise ProtocolViolation(spec.FRAME_ERROR, str(exc)) from None
        if found is None:
            if self._rest is None:
                return None
            self._take_rest()
            return _NO_EVENT
        frame_type, channel, start, end = found
        self._pos = end
        if self._monitor is not None:
            self._monitor.received = True
        if self.state is CLOSING:
            return self._while_closing(buf, frame_type, channel, start, end - 1)
        if frame_type == _FRAME_METHOD:
            method: amqp_object.Method | events.ContentReceived | None = (
                self._delivery(buf, start, end - 1, channel) if self._reads_deliver else None
            )
            if method is None:
                try:
                    method = decode_method(buf, start, end - 1, self._methods)
                except exceptions.ProtocolSyntaxError as exc:
                    raise ProtocolViolation(spec.SYNTAX_ERROR, str(exc)) from None
            elif isinstance(method, _CONTENT_RECEIVED):
                return method
            if channel:
                return self._channel_method(channel, method)
            return self._connection_method(method)
        if frame_type == _FRAME_BODY:
            return self._body(channel, buf, start, end - 1)
        if frame_type == _FRAME_HEADER:
            return self._header(channel, buf, start, end - 1)
        if frame_type == _FRAME_HEARTBEAT:
            if channel:
                raise ProtocolViolation(spec.FRAME_ERROR, f"heartbeat frame on channel {channel}")
            if end - 1 != start:
                raise ProtocolViolation(spec.FRAME_ERROR, "heartbeat frame with a payload")
            return _NO_EVENT
        raise ProtocolViolation(spec.FRAME_ERROR, f"unknown frame type {frame_type}")

    def _not_amqp(self, buf: Buffer, pos: int) -> object:
        """An AMQP protocol header (the server offers another version) or a
        TLS record (the port expects TLS) where Connection.Start was expected.
        None: more bytes are needed; False: neither."""
        error: Exception
        if buf[pos : pos + 4] == b"AMQP":
            if len(buf) - pos < 8:
                return None
            error = self.dialect.offered_error(bytes(buf[pos : pos + 8]))
        elif buf[pos + 1 : pos + 2] == b"\x03":
            error = exceptions.IncompatibleProtocolError(
                "the server answered with TLS instead of AMQP: this port expects TLS "
                "connections (set ssl_options, or use an amqps:// URL)"
            )
        else:
            return False
        self._pos = len(buf)
        self._terminate(error)
        return _NO_EVENT

    # --------------------------------------------------------------- channel methods

    def _channel_method(self, channel: int, method: amqp_object.Method) -> object:
        index = method.INDEX
        if index in _SERVER_CONTENT_METHODS:
            # The hot path: a delivery on an open channel between messages.
            chan = self._channels.get(channel)
            if chan is not None and chan.state == CH_OPEN and chan.content_method is None:
                message = self._whole_message(channel, method)
                if message is not None:
                    return message
                chan.content_method = method
                return _NO_EVENT
        if index not in self._server_methods:
            raise ProtocolViolation(
                spec.COMMAND_INVALID, f"the broker may not send {method.NAME}", index
            )
        if index >> 16 == CONNECTION_CLASS:
            raise ProtocolViolation(
                spec.COMMAND_INVALID, f"{method.NAME} on channel {channel}", index
            )
        chan = self._channels.get(channel)
        if chan is None:
            raise ProtocolViolation(
                spec.CHANNEL_ERROR, f"{method.NAME} on unopened channel {channel}", index
            )
        if chan.content_method is not None:
            raise ProtocolViolation(
                spec.UNEXPECTED_FRAME,
                f"{method.NAME} on channel {channel} while a message's content was expected",
                index,
            )
        state = chan.state
        if state == CH_OPEN:
            if index in CONTENT_METHODS:
                message = self._whole_message(channel, method)
                if message is not None:
                    return message
                chan.content_method = method
                return _NO_EVENT
            if index == _CHANNEL_CLOSE:
                return self._broker_closed_channel(chan, method)  # type: ignore[arg-type]
            if index == _CHANNEL_FLOW:
                self._writer.method(channel, spec.Channel.FlowOk(method.active))  # type: ignore[attr-defined]
            elif index in (_CHANNEL_CLOSE_OK, _CHANNEL_OPEN_OK):
                raise ProtocolViolation(
                    spec.UNEXPECTED_FRAME, f"{method.NAME} on open channel {channel}", index
                )
            return events.MethodReceived(channel, method)
        if state == CH_OPENING:
            if index in (_CHANNEL_OPEN_OK, _ACCESS_REQUEST_OK):
                if channel_opened(chan, method, self.dialect.access_ticket, self._writer):
                    chan.state = CH_OPEN
                    return events.ChannelOpened(channel)
                return _NO_EVENT
            if index == _CHANNEL_CLOSE:
                return self._broker_closed_channel(chan, method)  # type: ignore[arg-type]
            raise ProtocolViolation(
                spec.UNEXPECTED_FRAME, f"{method.NAME} on channel {channel} before OpenOk", index
            )
        # We sent Channel.Close: discard everything but Close and Close-Ok.
        if index == _CHANNEL_CLOSE_OK:
            del self._channels[channel]
            if state == CH_CLOSING:
                return events.ChannelClosed(channel, chan.close_code, chan.close_text, False)
            return _NO_EVENT
        if index == _CHANNEL_CLOSE and state == CH_CLOSING:
            self._writer.method(channel, spec.Channel.CloseOk())
            chan.state = CH_AWAIT_CLOSE_OK
            return events.ChannelClosed(channel, *_close_reason(method), True)
        if index in CONTENT_METHODS:
            chan.content_method = method
        return _NO_EVENT

    def _broker_closed_channel(self, chan: _Channel, method: spec.Channel.Close) -> object:
        self._writer.method(chan.number, spec.Channel.CloseOk())
        del self._channels[chan.number]
        return events.ChannelClosed(chan.number, *_close_reason(method), True)

    # ------------------------------------------------------------ connection methods

    def _connection_method(self, method: amqp_object.Method) -> object:
        index = method.INDEX
        if index >> 16 != CONNECTION_CLASS or index not in self._server_methods:
            raise ProtocolViolation(
                spec.COMMAND_INVALID, f"{method.NAME} may not be sent on channel 0", index
            )
        if isinstance(method, spec.Connection.Close):
            return self._broker_closed_connection(method)
        state = self.state
        if state == OPEN:
            if isinstance(method, spec.Connection.Blocked):
                return events.ConnectionBlocked(method)
            if isinstance(method, spec.Connection.Unblocked):
                return events.ConnectionUnblocked(method)
            if isinstance(method, spec.Connection.UpdateSecretOk):
                return events.MethodReceived(0, method)
        elif state == AWAIT_START and isinstance(method, spec.Connection.Start):
            return self._on_start(method)
        elif state == AWAIT_TUNE and isinstance(method, spec.Connection.Secure):
            _mechanism, response = self.config.credentials.response_for(method)
            self._writer.method(0, spec.Connection.SecureOk(response))
            return _NO_EVENT
        elif state == AWAIT_TUNE and isinstance(method, spec.Connection.Tune):
            return self._on_tune(method)
        elif state == AWAIT_OPEN_OK and isinstance(method, spec08.Connection.Redirect):
            self._terminate(redirect_error(method))
            return _NO_EVENT
        elif state == AWAIT_OPEN_OK and isinstance(method, spec.Connection.OpenOk):
            self.state = OPEN
            self.known_hosts = method.known_hosts
            return events.ConnectionOpened(self.server_properties, self.known_hosts)
        raise ProtocolViolation(
            spec.UNEXPECTED_FRAME, f"{method.NAME} in connection state {state}", index
        )

    def _on_start(self, start: spec.Connection.Start) -> object:
        if (start.version_major, start.version_minor) != self.dialect.start_version:
            self._terminate(
                exceptions.IncompatibleProtocolError(
                    f"the broker speaks AMQP {start.version_major}-{start.version_minor}, "
                    f"not {self.dialect.name}"
                )
            )
            return _NO_EVENT
        self.server_properties = start.server_properties or {}
        credentials = self.config.credentials
        mechanism, response = credentials.response_for(start)
        if mechanism is None:
            offered = start.mechanisms.decode("utf-8", "replace")
            self._terminate(
                exceptions.AuthenticationError(
                    f"the broker offers the mechanisms {offered!r}, none of which the "
                    f"{type(credentials).__name__} can use"
                )
            )
            return _NO_EVENT
        self._writer.method(
            0,
            spec.Connection.StartOk(
                client_properties(self.config.client_properties, self.dialect.lacks_capabilities),
                mechanism,
                response,
                self.config.locale,
            ),
        )
        credentials.erase_credentials()
        self.state = AWAIT_TUNE
        return _NO_EVENT

    def _on_tune(self, tune: spec.Connection.Tune) -> object:
        config = self.config
        channel_max = negotiate_limit(config.channel_max, tune.channel_max) or 65535
        frame_max = negotiate_limit(config.frame_max, tune.frame_max) or 2**31 - 1
        heartbeat = negotiate_heartbeat(config.heartbeat, tune.heartbeat)
        if frame_max < FRAME_MIN_SIZE:
            raise ProtocolViolation(
                spec.NOT_ALLOWED,
                f"the broker proposed frame_max {tune.frame_max}, below the "
                f"minimum of {FRAME_MIN_SIZE}",
                tune.INDEX,
            )
        self.channel_max = min(channel_max, 65535)
        self.frame_max = frame_max
        self.heartbeat = heartbeat
        self._max_frame = frame_max
        self._limits_changed()
        self._writer.set_frame_max(frame_max)
        writer = self._writer
        writer.method(0, spec.Connection.TuneOk(self.channel_max, frame_max, heartbeat))
        writer.method(0, spec.Connection.Open(config.virtual_host))
        if heartbeat:
            self._monitor = HeartbeatMonitor(heartbeat, self._now)
        self.state = AWAIT_OPEN_OK
        return _NO_EVENT

    def _broker_closed_connection(self, close: spec.Connection.Close) -> object:
        self._writer.method(0, spec.Connection.CloseOk())
        code, text = _close_reason(close)
        exc: Exception
        if self.state == AWAIT_TUNE:
            exc = exceptions.ProbableAuthenticationError(f"({code}) {text}")
        elif self.state == AWAIT_OPEN_OK:
            exc = exceptions.ProbableAccessDeniedError(f"({code}) {text}")
        else:
            exc = exceptions.ConnectionClosedByBroker(code, text)
        self._terminate(exc)
        return _NO_EVENT

    def _while_closing(
        self, buf: Buffer, frame_type: int, channel: int, start: int, end: int
    ) -> object:
        if frame_type != _FRAME_METHOD or channel:
            return _NO_EVENT
        try:
            method = decode_method(buf, start, end, self._methods)
        except exceptions.ProtocolSyntaxError:
            return _NO_EVENT
        if isinstance(method, spec.Connection.CloseOk):
            error = self._close_error or exceptions.ConnectionClosedByClient(
                self._close_code, self._close_text
            )
            self._terminate(error)
        elif isinstance(method, spec.Connection.Close):
            self._broker_closed_connection(method)
        return _NO_EVENT

    # ------------------------------------------------------------------ endings

    def _violation(self, violation: ProtocolViolation) -> None:
        """The peer broke the protocol: close with the matching reply code."""
        if self.state in (OPEN, AWAIT_OPEN_OK, AWAIT_TUNE):
            self._begin_close(
                violation.reply_code,
                violation.reply_text,
                violation.method_index,
                exceptions.ConnectionClosedByClient(violation.reply_code, violation.reply_text),
            )
        else:
            self._terminate(
                exceptions.ConnectionClosedByClient(violation.reply_code, violation.reply_text)
            )
        # Nothing after the offending frame can be trusted.
        self._buf = b""
        self._pos = 0
        self._rest = None

    def _begin_close(
        self, reply_code: int, reply_text: str, method_index: int, error: Exception | None
    ) -> None:
        self._writer.method(
            0,
            spec.Connection.Close(
                reply_code, reply_text, method_index >> 16, method_index & 0xFFFF
            ),
        )
        self._close_code = reply_code
        self._close_text = reply_text
        self._close_error = error
        self.state = CLOSING

    def _terminate(self, error: Exception) -> None:
        self.state = CLOSED
        self._channels.clear()
        self._events.append(events.ConnectionClosed(error))

    # ------------------------------------------------------------------ commands

    def close(self, reply_code: int = 200, reply_text: str = "Normal shutdown") -> None:
        """Start the close handshake (or end an unfinished opening at once)."""
        if self.state in (CLOSING, CLOSED):
            raise exceptions.ConnectionWrongStateError(
                f"connection is already {self.state.lower()}"
            )
        if self.state != OPEN:
            self._terminate(
                exceptions.ConnectionOpenAborted(
                    f"connection closed by the client while opening ({self.state})"
                )
            )
            return
        self._begin_close(reply_code, reply_text, 0, None)

    def abort(self, error: Exception) -> None:
        """End the connection at once (no handshake), reporting ``error``."""
        if self.state != CLOSED:
            self._terminate(error)

    def allocate_channel_number(self) -> int:
        """The lowest free channel number."""
        channels = self._channels
        for number in range(1, self.channel_max + 1):
            if number not in channels:
                return number
        raise exceptions.NoFreeChannels(f"all {self.channel_max} channels are in use")

    def open_channel(self, channel_number: int) -> None:
        self._require_open()
        if not 0 < channel_number <= self.channel_max:
            raise exceptions.InvalidChannelNumber(
                f"channel number {channel_number} is outside 1..{self.channel_max}"
            )
        if channel_number in self._channels:
            raise exceptions.InvalidChannelNumber(f"channel {channel_number} is already in use")
        self._channels[channel_number] = _Channel(channel_number)
        self._writer.method(channel_number, spec.Channel.Open())

    def close_channel(self, channel_number: int, reply_code: int, reply_text: str) -> None:
        chan = self._open_channel(channel_number)
        chan.state = CH_CLOSING
        chan.close_code = reply_code
        chan.close_text = reply_text
        self._writer.method(channel_number, spec.Channel.Close(reply_code, reply_text, 0, 0))

    def send_method(self, channel_number: int, method: amqp_object.Method) -> None:
        """Send a method without content on an open channel (or channel 0).

        Raises UnsupportedByAMQPVersion, before anything is sent, for a
        method the connection's AMQP version lacks."""
        if channel_number:
            chan = self._open_channel(channel_number)
            if self._checks_methods:
                self.dialect.check(method)
                if chan.ticket and hasattr(method, "ticket"):
                    method.ticket = chan.ticket
        else:
            self._require_open()
            if self._checks_methods:
                self.dialect.check(method)
        self._writer.method(channel_number, method)

    def acknowledge(
        self, channel_number: int, method_index: int, delivery_tag: int, flags: int
    ) -> None:
        """Basic.Ack, Basic.Nack or Basic.Reject without building a method object."""
        chan = self._channels.get(channel_number)
        if chan is None or chan.state is not CH_OPEN or self.state is not OPEN:
            self._open_channel(channel_number)
        self._writer.acknowledgement(channel_number, method_index, delivery_tag, flags)

    def publish(
        self,
        channel_number: int,
        exchange: str,
        routing_key: str,
        body: BytesLike,
        properties: spec.BasicProperties | None = None,
        mandatory: bool = False,
    ) -> None:
        """Basic.Publish: method, header and body frames in one append."""
        chan = self._channels.get(channel_number)
        if chan is None or chan.state is not CH_OPEN or self.state is not OPEN:
            self._open_channel(channel_number)
        self._writer.publish(channel_number, exchange, routing_key, body, properties, mandatory)

    def update_secret(self, new_secret: str, reason: str) -> None:
        self.send_method(0, spec.Connection.UpdateSecret(new_secret, reason))

    def _require_open(self) -> None:
        if self.state != OPEN:
            raise exceptions.ConnectionWrongStateError(
                f"connection is not open (state {self.state})"
            )

    def _open_channel(self, channel_number: int) -> _Channel:
        self._require_open()
        chan = self._channels.get(channel_number)
        if chan is None or chan.state != CH_OPEN:
            state = (
                "closed" if chan is None else ("opening" if chan.state == CH_OPENING else "closing")
            )
            raise exceptions.ChannelWrongStateError(f"channel {channel_number} is {state}")
        return chan
