"""Checks of what applications hand to the library, in one place.

Every channel surface (callback, blocking, thread-safe, Twisted) and the
connection classes call these functions, so one kind of bad argument gets
one kind of exception with one wording wherever it is passed. Messages name
the parameter and the type received, never the value of something that may
be a secret.

The ``require_*`` functions share their parameters: ``value`` is what the
application passed, ``name`` the parameter's name (for the message), and
``optional``, where a function has it, whether None is accepted. They
return None and raise on a bad value.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Callable, Union

from pika import spec

if TYPE_CHECKING:
    from pika.parameters import Parameters

#: What `basic_publish` accepts as a body (a str is sent as UTF-8).
Body = Union[bytes, bytearray, memoryview, str]


def _require(value: Any, name: str, optional: bool, accepted: bool, expected: str) -> None:
    """Raise TypeError (``name`` must be ``expected``) unless ``accepted`` or an optional None."""
    if value is None and optional:
        return
    if not accepted:
        raise TypeError(f"{name} must be {expected}, got {type(value).__name__}")


def require_callable(value: Any, name: str, *, optional: bool = False) -> None:
    """Raise unless ``value`` is callable (or None, when ``optional``).

    Raises:
        TypeError: ``value`` is not callable.
    """
    _require(value, name, optional, callable(value), "callable")


def require_str(value: Any, name: str, *, optional: bool = False) -> None:
    """Raise unless ``value`` is a str (or None, when ``optional``).

    Raises:
        TypeError: ``value`` is not a str.
    """
    _require(value, name, optional, isinstance(value, str), "a str")


def require_exchange_type(value: Any, name: str = "exchange_type") -> None:
    """Raise unless ``value`` is a str (an `ExchangeType` member is one).

    Raises:
        TypeError: anything else.
    """
    require_str(value, name)


def require_delivery_tag(value: Any) -> None:
    """Raise unless ``value`` is an int usable as a delivery tag.

    Raises:
        TypeError: ``value`` is not an int (a bool is refused too).
    """
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"delivery_tag must be an int, got {type(value).__name__}")


def require_non_negative(value: Any, name: str) -> None:
    """Raise unless ``value`` is an int >= 0 (prefetch sizes and counts).

    Raises:
        TypeError: ``value`` is not an int.
        ValueError: ``value`` is negative.
    """
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{name} must be an int, got {type(value).__name__}")
    if value < 0:
        raise ValueError(f"{name} must be >= 0, got {value}")


def require_timeout(value: Any, name: str = "timeout") -> None:
    """Raise unless ``value`` is None (wait forever) or a number of seconds >= 0.

    Raises:
        ValueError: ``value`` is not a number >= 0 or None.
    """
    if value is None:
        return
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
        raise ValueError(f"{name} must be a number >= 0 or None, got {value!r}")


def message_body(body: Any) -> bytes | bytearray | memoryview:
    """The bytes to publish for ``body``: a str is encoded as UTF-8.

    Raises:
        TypeError: ``body`` is neither bytes-like nor a str.
    """
    if isinstance(body, str):
        return body.encode("utf-8")
    if not isinstance(body, (bytes, bytearray, memoryview)):
        raise TypeError(f"body must be bytes or str, got {type(body).__name__}")
    return body


def require_properties(properties: Any) -> None:
    """Raise unless ``properties`` is None or a `pika.spec.BasicProperties`.

    Raises:
        TypeError: anything else.
    """
    if properties is not None and not isinstance(properties, spec.BasicProperties):
        raise TypeError(
            "properties must be a pika.spec.BasicProperties instance, got "
            f"{type(properties).__name__}"
        )


def require_window(window: Any) -> None:
    """Raise unless ``window`` (unconfirmed messages in flight) is an int >= 1.

    Raises:
        ValueError: anything else.
    """
    if not isinstance(window, int) or isinstance(window, bool) or window < 1:
        raise ValueError(f"window must be an int >= 1, got {window!r}")


def parameters_list(parameters: Any, *, urls: bool = False) -> list[Parameters]:
    """``parameters`` (None, one `Parameters`, or a sequence of them) as a list.

    None stands for the default `ConnectionParameters`. With ``urls``, a
    str (alone or in the sequence) is an AMQP URL, made into `URLParameters`.

    Raises:
        TypeError: ``parameters`` is not a `Parameters` (or, with ``urls``, a
            str) or a sequence of them.
        ValueError: the sequence is empty, or a URL is malformed.
    """
    from pika.parameters import ConnectionParameters, Parameters, URLParameters

    if parameters is None:
        return [ConnectionParameters()]
    if isinstance(parameters, Parameters):
        return [parameters]
    if urls and isinstance(parameters, str):
        return [URLParameters(parameters)]
    if isinstance(parameters, Sequence) and not isinstance(parameters, (str, bytes)):
        candidates = [
            URLParameters(item) if urls and isinstance(item, str) else item for item in parameters
        ]
        if all(isinstance(item, Parameters) for item in candidates):
            if not candidates:
                raise ValueError("parameters must not be an empty sequence")
            return candidates
    wanted = "a pika.connection.Parameters instance" + (", an AMQP URL str," if urls else "")
    raise TypeError(
        f"parameters must be {wanted} or a sequence of them, got {type(parameters).__name__}"
    )


def checked_callback(value: Any, name: str = "callback") -> Callable[..., Any]:
    """``value`` itself, once `require_callable` accepted it (for one-line registrations)."""
    require_callable(value, name)
    result: Callable[..., Any] = value
    return result
