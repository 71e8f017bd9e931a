"""pika.credentials: SASL PLAIN and EXTERNAL responses, erasure, equality."""

from __future__ import annotations

from typing import Union

import pytest

from pika import credentials
from pika.credentials import ExternalCredentials, PlainCredentials


class _Start:
    """The one field of Connection.Start that credentials read."""

    def __init__(self, mechanisms: Union[bytes, str]) -> None:
        self.mechanisms = mechanisms


@pytest.mark.parametrize(
    ("mechanisms", "expected"),
    [
        (b"AMQPLAIN PLAIN", ("PLAIN", b"\0guest\0guest")),
        (b"PLAIN", ("PLAIN", b"\0guest\0guest")),
        ("PLAIN AMQPLAIN", ("PLAIN", b"\0guest\0guest")),
        (bytearray(b"plain"), ("PLAIN", b"\0guest\0guest")),
        (b"AMQPLAIN", (None, None)),
        (b"EXTERNAL", (None, None)),
        (b"PLAINTEXT", (None, None)),
        (b"", (None, None)),
    ],
)
def test_plain_response(mechanisms: Union[bytes, str], expected: tuple[object, object]) -> None:
    assert PlainCredentials("guest", "guest").response_for(_Start(mechanisms)) == expected


def test_plain_response_is_utf8() -> None:
    creds = PlainCredentials("j\u00fcrgen", "p\u00e4ss")
    assert creds.response_for(_Start(b"PLAIN")) == ("PLAIN", "\0j\u00fcrgen\0p\u00e4ss".encode())


@pytest.mark.parametrize(
    ("mechanisms", "expected"),
    [
        (b"EXTERNAL PLAIN", ("EXTERNAL", b"")),
        (b"AMQPLAIN PLAIN", (None, None)),
    ],
)
def test_external_response(mechanisms: bytes, expected: tuple[object, object]) -> None:
    assert ExternalCredentials().response_for(_Start(mechanisms)) == expected


@pytest.mark.parametrize(("erase", "password_after"), [(True, ""), (False, "secret")])
def test_erase_credentials(erase: bool, password_after: str) -> None:
    creds = PlainCredentials("user", "secret", erase_on_connect=erase)
    creds.erase_credentials()
    assert creds.password == password_after
    assert creds.username == "user"


def test_external_erase_is_harmless() -> None:
    creds = ExternalCredentials()
    creds.erase_credentials()
    assert creds.response_for(_Start(b"EXTERNAL")) == ("EXTERNAL", b"")


@pytest.mark.parametrize(
    ("left", "right", "equal"),
    [
        (PlainCredentials("u", "p"), PlainCredentials("u", "p"), True),
        (PlainCredentials("u", "p"), PlainCredentials("u", "q"), False),
        (PlainCredentials("u", "p"), PlainCredentials("v", "p"), False),
        (PlainCredentials("u", "p", True), PlainCredentials("u", "p", False), False),
        (PlainCredentials("u", "p"), ExternalCredentials(), False),
        (ExternalCredentials(), ExternalCredentials(), True),
        (PlainCredentials("u", "p"), ("u", "p"), False),
    ],
)
def test_equality(left: object, right: object, equal: bool) -> None:
    assert (left == right) is equal
    assert (left != right) is not equal
    assert (right == left) is equal


def test_password_never_in_repr_or_str() -> None:
    creds = PlainCredentials("alice", "s3cr3t-pw")
    for text in (repr(creds), str(creds)):
        assert "s3cr3t-pw" not in text
        assert "alice" in text


def test_types() -> None:
    assert PlainCredentials.TYPE == "PLAIN"
    assert ExternalCredentials.TYPE == "EXTERNAL"
    assert [PlainCredentials, ExternalCredentials] == credentials.VALID_TYPES
