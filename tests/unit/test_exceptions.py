"""pika.exceptions: the hierarchy, constructor signatures and messages."""

from __future__ import annotations

import inspect
import pickle

import pytest

from pika import exceptions

# Every public exception and its direct parent, as in Pika's interface.
HIERARCHY = [
    ("AMQPError", Exception),
    ("AMQPConnectionError", exceptions.AMQPError),
    ("AMQPChannelError", exceptions.AMQPError),
    ("AMQPHeartbeatTimeout", exceptions.AMQPConnectionError),
    ("AuthenticationError", exceptions.AMQPConnectionError),
    ("BodyTooLongError", exceptions.ProtocolSyntaxError),
    ("ChannelClosed", exceptions.AMQPChannelError),
    ("ChannelClosedByBroker", exceptions.ChannelClosed),
    ("ChannelClosedByClient", exceptions.ChannelClosed),
    ("ChannelError", Exception),
    ("ChannelWrongStateError", exceptions.AMQPChannelError),
    ("ConnectionBlockedTimeout", exceptions.AMQPConnectionError),
    ("ConnectionClosed", exceptions.AMQPConnectionError),
    ("ConnectionClosedByBroker", exceptions.ConnectionClosed),
    ("ConnectionClosedByClient", exceptions.ConnectionClosed),
    ("ConnectionInterrupted", exceptions.AMQPConnectionError),
    ("ConnectionOpenAborted", exceptions.AMQPConnectionError),
    ("ConnectionOpenFailed", exceptions.AMQPConnectionError),
    ("ConnectionWrongStateError", exceptions.AMQPConnectionError),
    ("ConsumerCancelled", exceptions.AMQPChannelError),
    ("DuplicateConsumerTag", exceptions.AMQPChannelError),
    ("DuplicateGetOkCallback", exceptions.ChannelError),
    ("IncompatibleProtocolError", exceptions.AMQPConnectionError),
    ("InvalidChannelNumber", exceptions.AMQPError),
    ("InvalidFieldTypeException", exceptions.ProtocolSyntaxError),
    ("InvalidFrameError", exceptions.ProtocolSyntaxError),
    ("MessageTooLargeError", exceptions.AMQPChannelError),
    ("MethodNotImplemented", exceptions.AMQPError),
    ("NackError", exceptions.AMQPChannelError),
    ("NoFreeChannels", exceptions.AMQPConnectionError),
    ("ProbableAccessDeniedError", exceptions.AMQPConnectionError),
    ("ProbableAuthenticationError", exceptions.AMQPConnectionError),
    ("ProtocolSyntaxError", exceptions.AMQPError),
    ("ProtocolVersionMismatch", exceptions.ProtocolSyntaxError),
    ("RecoveryWaitTimeout", exceptions.AMQPConnectionError),
    ("ReentrancyError", Exception),
    ("ShortStringTooLong", exceptions.AMQPError),
    ("StreamLostError", exceptions.AMQPConnectionError),
    ("UnexpectedFrameError", exceptions.ProtocolSyntaxError),
    ("UnroutableError", exceptions.AMQPChannelError),
    ("UnsupportedAMQPFieldException", exceptions.ProtocolSyntaxError),
    ("WorkQueueFullError", exceptions.AMQPConnectionError),
]


class _Returned:
    """A returned message as the blocking adapter hands it over."""

    def __init__(self, body: bytes) -> None:
        self.method = None
        self.properties = None
        self.body = body


@pytest.mark.parametrize(("name", "parent"), HIERARCHY)
def test_class_has_interface_parent(name: str, parent: type) -> None:
    cls = getattr(exceptions, name)
    assert cls.__bases__[0] is parent
    assert all(base.__name__.startswith("_") for base in cls.__bases__[1:])


@pytest.mark.parametrize(("name", "parent"), HIERARCHY)
def test_class_has_one_line_docstring(name: str, parent: type) -> None:
    doc = getattr(exceptions, name).__doc__
    assert doc and "\n" not in doc.strip()


def test_every_public_exception_is_listed() -> None:
    public = {
        name
        for name, obj in vars(exceptions).items()
        if inspect.isclass(obj) and issubclass(obj, BaseException) and not name.startswith("_")
    }
    assert public == {name for name, _ in HIERARCHY}


@pytest.mark.parametrize(
    ("cls", "signature"),
    [
        (exceptions.AMQPConnectionError, "(*args, host=None, port=None)"),
        (exceptions.ConnectionClosed, "(reply_code, reply_text, host=None, port=None)"),
        (exceptions.ChannelClosed, "(reply_code, reply_text)"),
        (exceptions.NackError, "(messages)"),
        (exceptions.UnroutableError, "(messages)"),
    ],
)
def test_constructor_signature(cls: type, signature: str) -> None:
    params = inspect.signature(cls).parameters.values()
    assert f"({', '.join(str(p.replace(annotation=p.empty)) for p in params)})" == signature


@pytest.mark.parametrize(
    ("exc", "text", "representation"),
    [
        (exceptions.AMQPError(), "", "AMQPError"),
        (exceptions.InvalidFrameError("frame too big"), "frame too big", None),
        (exceptions.StreamLostError("EOF"), "EOF", "StreamLostError: EOF"),
        (
            exceptions.StreamLostError("EOF", host="rabbit", port=5672),
            "EOF (broker rabbit:5672)",
            None,
        ),
        (
            exceptions.AMQPConnectionError(host="::1", port=5671),
            "broker [::1]:5671",
            None,
        ),
        (exceptions.AMQPConnectionError("refused", host="rabbit"), "refused (broker rabbit)", None),
        (
            exceptions.ConnectionClosedByBroker(320, "CONNECTION_FORCED - shutdown"),
            "(320) 'CONNECTION_FORCED - shutdown'",
            "ConnectionClosedByBroker: (320) 'CONNECTION_FORCED - shutdown'",
        ),
        (
            exceptions.ConnectionClosedByClient(200, "Normal shutdown", "localhost", 5672),
            "(200) 'Normal shutdown' (broker localhost:5672)",
            None,
        ),
        (
            exceptions.ChannelClosedByBroker(404, "NOT_FOUND - no queue 'q'"),
            "(404) \"NOT_FOUND - no queue 'q'\"",
            "ChannelClosedByBroker: (404) \"NOT_FOUND - no queue 'q'\"",
        ),
        (
            exceptions.NackError([_Returned(b"a")]),
            "1 message rejected by the broker with Basic.Nack",
            None,
        ),
        (
            exceptions.UnroutableError([_Returned(b"a"), _Returned(b"b")]),
            "2 messages returned by the broker as unroutable",
            None,
        ),
    ],
)
def test_str_and_repr(exc: Exception, text: str, representation: str | None) -> None:
    assert str(exc) == text
    expected_repr = representation or f"{type(exc).__name__}: {text}"
    assert repr(exc) == expected_repr


@pytest.mark.parametrize("cls", [exceptions.ConnectionClosed, exceptions.ConnectionClosedByBroker])
def test_connection_closed_properties(cls: type[exceptions.ConnectionClosed]) -> None:
    exc = cls(403, b"ACCESS_REFUSED", host="h", port=1)
    assert (exc.reply_code, exc.reply_text, exc.host, exc.port) == (403, "ACCESS_REFUSED", "h", 1)
    assert isinstance(exc, exceptions.AMQPConnectionError)


def test_reply_text_bytes_that_are_not_utf8_still_render() -> None:
    exc = exceptions.ChannelClosed(406, b"PRECONDITION_FAILED \xff")
    assert exc.reply_text == "PRECONDITION_FAILED \ufffd"


@pytest.mark.parametrize(
    "cls", [exceptions.ChannelClosedByBroker, exceptions.ChannelClosedByClient]
)
def test_channel_closed_properties(cls: type[exceptions.ChannelClosed]) -> None:
    exc = cls(404, "NOT_FOUND")
    assert (exc.reply_code, exc.reply_text) == (404, "NOT_FOUND")


@pytest.mark.parametrize("cls", [exceptions.NackError, exceptions.UnroutableError])
def test_messages_are_kept_as_a_list(cls: type[exceptions.NackError]) -> None:
    returned = (_Returned(b"x"),)
    exc = cls(returned)
    assert exc.messages == list(returned)


@pytest.mark.parametrize(
    "exc",
    [
        exceptions.ConnectionClosedByBroker(320, "CONNECTION_FORCED", host="h", port=5672),
        exceptions.StreamLostError("EOF", host="h", port=5672),
        exceptions.ChannelClosedByClient(200, "Normal shutdown"),
    ],
)
def test_pickle_round_trip_keeps_everything(exc: Exception) -> None:
    copy = pickle.loads(pickle.dumps(exc))
    assert type(copy) is type(exc)
    assert str(copy) == str(exc)
    assert copy.args == exc.args


def test_connection_open_failed_is_caught_as_a_connection_error_and_carries_the_reason() -> None:
    reason = exceptions.StreamLostError("EOF", host="h", port=5672)
    with pytest.raises(exceptions.AMQPConnectionError) as caught:
        raise exceptions.ConnectionOpenFailed(reason)
    failure = caught.value
    assert isinstance(failure, exceptions.ConnectionOpenFailed)
    assert failure.error is reason and failure.args == (reason,) and failure.__cause__ is reason
    assert str(failure) == "the connection could not open: StreamLostError: EOF (broker h:5672)"
    # A SystemExit too (the only kind asyncio lets out of run_forever), whose
    # exit code is the message, so that uncaught it exits with status 1.
    assert isinstance(failure, SystemExit) and isinstance(failure, Exception)
    assert failure.code == f"pika: {failure!r}"
    copy = pickle.loads(pickle.dumps(failure))
    assert type(copy) is exceptions.ConnectionOpenFailed and str(copy) == str(failure)


def test_uncaught_connection_open_failed_exits_with_status_1_and_its_message() -> None:
    import subprocess
    import sys

    program = (
        "from pika import exceptions\n"
        "raise exceptions.ConnectionOpenFailed(exceptions.StreamLostError('EOF'))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", program], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 1
    assert "the connection could not open: StreamLostError: EOF" in done.stderr
