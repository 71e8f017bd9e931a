"""pika.parameters: defaults, validation, ConnectionParameters, URLParameters, SSLOptions."""

from __future__ import annotations

import pathlib
import ssl
from typing import Any

import pytest
import trustme
from cryptography.hazmat.primitives import serialization

from pika.credentials import ExternalCredentials, PlainCredentials
from pika.parameters import (
    ConnectionParameters,
    Parameters,
    SSLOptions,
    URLParameters,
    ssl_options_from_dict,
)

SECRET = "s3cr3t-Pa55"


def _heartbeat_callback(connection: Any, proposal: int) -> int:
    return min(proposal, 30)


def _tls() -> SSLOptions:
    return SSLOptions(ssl.create_default_context(), "rabbit.example")


DEFAULTS = [
    ("DEFAULT_BLOCKED_CONNECTION_TIMEOUT", None),
    ("DEFAULT_CHANNEL_MAX", 65535),
    ("DEFAULT_CLIENT_PROPERTIES", None),
    ("DEFAULT_CONNECTION_ATTEMPTS", 1),
    ("DEFAULT_CREDENTIALS", PlainCredentials("guest", "guest")),
    ("DEFAULT_FRAME_MAX", 131072),
    ("DEFAULT_HEARTBEAT_TIMEOUT", None),
    ("DEFAULT_HOST", "localhost"),
    ("DEFAULT_LOCALE", "en_US"),
    ("DEFAULT_PASSWORD", "guest"),
    ("DEFAULT_PORT", 5672),
    ("DEFAULT_RETRY_DELAY", 2.0),
    ("DEFAULT_SOCKET_TIMEOUT", 10.0),
    ("DEFAULT_SSL", False),
    ("DEFAULT_SSL_OPTIONS", None),
    ("DEFAULT_SSL_PORT", 5671),
    ("DEFAULT_STACK_TIMEOUT", 15.0),
    ("DEFAULT_TCP_OPTIONS", None),
    ("DEFAULT_USERNAME", "guest"),
    ("DEFAULT_VIRTUAL_HOST", "/"),
]

# (attribute, the DEFAULT_* constant that is its initial value)
INITIAL = [
    ("blocked_connection_timeout", "DEFAULT_BLOCKED_CONNECTION_TIMEOUT"),
    ("channel_max", "DEFAULT_CHANNEL_MAX"),
    ("client_properties", "DEFAULT_CLIENT_PROPERTIES"),
    ("connection_attempts", "DEFAULT_CONNECTION_ATTEMPTS"),
    ("credentials", "DEFAULT_CREDENTIALS"),
    ("frame_max", "DEFAULT_FRAME_MAX"),
    ("heartbeat", "DEFAULT_HEARTBEAT_TIMEOUT"),
    ("host", "DEFAULT_HOST"),
    ("locale", "DEFAULT_LOCALE"),
    ("max_message_size", "DEFAULT_MAX_MESSAGE_SIZE"),
    ("port", "DEFAULT_PORT"),
    ("retry_delay", "DEFAULT_RETRY_DELAY"),
    ("socket_timeout", "DEFAULT_SOCKET_TIMEOUT"),
    ("ssl_options", "DEFAULT_SSL_OPTIONS"),
    ("stack_timeout", "DEFAULT_STACK_TIMEOUT"),
    ("tcp_options", "DEFAULT_TCP_OPTIONS"),
    ("virtual_host", "DEFAULT_VIRTUAL_HOST"),
]

VALID = [
    ("host", "rabbit.example"),
    ("host", "::1"),
    ("port", 1),
    ("port", 65535),
    ("virtual_host", ""),
    ("virtual_host", "prod/orders"),
    ("credentials", PlainCredentials("u", "p")),
    ("credentials", ExternalCredentials()),
    ("ssl_options", None),
    ("channel_max", 1),
    ("channel_max", 65535),
    ("frame_max", 4096),
    ("frame_max", 2**31 - 1),
    ("heartbeat", 0),
    ("heartbeat", 65535),
    ("heartbeat", None),
    ("heartbeat", _heartbeat_callback),
    ("connection_attempts", 1),
    ("connection_attempts", 1000),
    ("retry_delay", 0),
    ("retry_delay", 0.5),
    ("socket_timeout", 0.25),
    ("socket_timeout", None),
    ("stack_timeout", 30),
    ("stack_timeout", None),
    ("blocked_connection_timeout", 60.0),
    ("blocked_connection_timeout", None),
    ("locale", "de_DE"),
    ("client_properties", {"connection_name": "worker-1"}),
    ("client_properties", None),
    ("tcp_options", {"TCP_KEEPIDLE": 60}),
    ("tcp_options", None),
    ("max_message_size", 0),
    ("max_message_size", 1),
    ("max_message_size", 2**40),
]

INVALID = [
    ("host", 123, TypeError),
    ("host", "", ValueError),
    ("host", None, TypeError),
    ("port", "5672", TypeError),
    ("port", 5672.0, TypeError),
    ("port", True, TypeError),
    ("port", 0, ValueError),
    ("port", 65536, ValueError),
    ("virtual_host", None, TypeError),
    ("virtual_host", b"/", TypeError),
    ("credentials", ("user", SECRET), TypeError),
    ("credentials", None, TypeError),
    ("ssl_options", ssl.create_default_context(), TypeError),
    ("ssl_options", {"verify": False}, TypeError),
    ("channel_max", 0, ValueError),
    ("channel_max", 65536, ValueError),
    ("channel_max", "10", TypeError),
    ("frame_max", 4095, ValueError),
    ("frame_max", 2**31, ValueError),
    ("frame_max", 131072.0, TypeError),
    ("heartbeat", -1, ValueError),
    ("max_message_size", -1, ValueError),
    ("max_message_size", 1.5, TypeError),
    ("max_message_size", None, TypeError),
    ("max_message_size", True, TypeError),
    ("heartbeat", 65536, ValueError),
    ("heartbeat", 1.5, TypeError),
    ("heartbeat", "60", TypeError),
    ("heartbeat", False, TypeError),
    ("connection_attempts", 0, ValueError),
    ("connection_attempts", None, TypeError),
    ("connection_attempts", 2.0, TypeError),
    ("retry_delay", -0.1, ValueError),
    ("retry_delay", float("nan"), ValueError),
    ("retry_delay", None, TypeError),
    ("retry_delay", "2", TypeError),
    ("socket_timeout", 0, ValueError),
    ("socket_timeout", -1, ValueError),
    ("socket_timeout", "10", TypeError),
    ("stack_timeout", 0.0, ValueError),
    ("stack_timeout", True, TypeError),
    ("blocked_connection_timeout", -5, ValueError),
    ("blocked_connection_timeout", [], TypeError),
    ("locale", "", ValueError),
    ("locale", 1, TypeError),
    ("client_properties", [("a", 1)], TypeError),
    ("client_properties", "{}", TypeError),
    ("tcp_options", 1, TypeError),
]


@pytest.mark.parametrize(("name", "value"), DEFAULTS)
def test_default_constants(name: str, value: object) -> None:
    assert getattr(Parameters, name) == value


@pytest.mark.parametrize(("attribute", "constant"), INITIAL)
def test_initial_values_are_the_defaults(attribute: str, constant: str) -> None:
    assert getattr(Parameters(), attribute) == getattr(Parameters, constant)


def test_default_credentials_are_not_shared() -> None:
    first, second = Parameters(), Parameters()
    assert first.credentials is not second.credentials
    assert first.credentials is not Parameters.DEFAULT_CREDENTIALS


@pytest.mark.parametrize(("attribute", "value"), VALID)
def test_valid_value_is_stored(attribute: str, value: object) -> None:
    params = Parameters()
    setattr(params, attribute, value)
    assert getattr(params, attribute) == value


def test_ssl_options_value_is_stored() -> None:
    params = Parameters()
    tls = _tls()
    params.ssl_options = tls
    assert params.ssl_options is tls


@pytest.mark.parametrize(("attribute", "value", "error"), INVALID)
def test_invalid_value_is_rejected(attribute: str, value: object, error: type) -> None:
    params = Parameters()
    before = getattr(params, attribute)
    with pytest.raises(error) as info:
        setattr(params, attribute, value)
    assert str(info.value).startswith(f"{attribute} must")
    assert SECRET not in str(info.value)
    assert getattr(params, attribute) == before


def test_equality() -> None:
    assert Parameters() == Parameters()
    assert ConnectionParameters() == Parameters()
    changed = Parameters()
    changed.heartbeat = 5
    assert changed != Parameters()
    assert Parameters() != "localhost"


def test_repr_shows_where_but_not_password() -> None:
    params = ConnectionParameters(
        host="rabbit", port=5673, credentials=PlainCredentials("alice", SECRET)
    )
    text = repr(params)
    assert text.startswith("<ConnectionParameters host='rabbit' port=5673 virtual_host='/'")
    assert "alice" in text and SECRET not in text and SECRET not in str(params)


# ConnectionParameters


def test_connection_parameters_every_argument() -> None:
    tls = _tls()
    creds = PlainCredentials("u", "p")
    params = ConnectionParameters(
        host="rabbit",
        port=5999,
        virtual_host="v",
        credentials=creds,
        channel_max=10,
        frame_max=8192,
        heartbeat=15,
        ssl_options=tls,
        connection_attempts=3,
        retry_delay=1.5,
        socket_timeout=4.0,
        stack_timeout=9.0,
        locale="fr_FR",
        blocked_connection_timeout=20.0,
        client_properties={"connection_name": "x"},
        tcp_options={"TCP_KEEPIDLE": 1},
    )
    assert (params.host, params.port, params.virtual_host) == ("rabbit", 5999, "v")
    assert params.credentials is creds and params.ssl_options is tls
    assert (params.channel_max, params.frame_max, params.heartbeat) == (10, 8192, 15)
    assert (params.connection_attempts, params.retry_delay) == (3, 1.5)
    assert (params.socket_timeout, params.stack_timeout) == (4.0, 9.0)
    assert (params.locale, params.blocked_connection_timeout) == ("fr_FR", 20.0)
    assert params.client_properties == {"connection_name": "x"}
    assert params.tcp_options == {"TCP_KEEPIDLE": 1}


@pytest.mark.parametrize(
    ("kwargs", "port"),
    [
        ({}, 5672),
        ({"ssl_options": None}, 5672),
        ({"ssl_options": "TLS"}, 5671),
        ({"ssl_options": "TLS", "port": 5672}, 5672),
        ({"port": 1234}, 1234),
    ],
)
def test_connection_parameters_port_default(kwargs: dict[str, Any], port: int) -> None:
    if kwargs.get("ssl_options") == "TLS":
        kwargs["ssl_options"] = _tls()
    assert ConnectionParameters(**kwargs).port == port


def test_connection_parameters_default_marker_means_default() -> None:
    marker = ConnectionParameters._DEFAULT
    assert ConnectionParameters(host=marker, heartbeat=marker) == Parameters()


def test_connection_parameters_unknown_keyword() -> None:
    with pytest.raises(TypeError, match="unexpected keyword arguments: backpressure, ssl"):
        ConnectionParameters(ssl=True, backpressure=False)


def test_connection_parameters_validates() -> None:
    with pytest.raises(ValueError, match=r"^heartbeat must"):
        ConnectionParameters(heartbeat=-3)


# URLParameters

URLS = [
    ("amqp://", {"host": "localhost", "port": 5672, "virtual_host": "/", "ssl_options": None}),
    ("amqp://rabbit", {"host": "rabbit", "port": 5672, "virtual_host": "/"}),
    ("amqp://rabbit/", {"virtual_host": "/"}),
    ("amqp://rabbit/%2f", {"virtual_host": "/"}),
    ("amqp://rabbit/%2F", {"virtual_host": "/"}),
    ("amqp://rabbit/orders", {"virtual_host": "orders"}),
    ("amqp://rabbit/a%2Fb%20c", {"virtual_host": "a/b c"}),
    ("amqp://rabbit:5673", {"port": 5673}),
    ("amqp://:5673", {"host": "localhost", "port": 5673}),
    ("amqp://[::1]", {"host": "::1", "port": 5672}),
    ("amqp://[::1]:5673/v", {"host": "::1", "port": 5673, "virtual_host": "v"}),
    ("amqp://[fe80::1%25eth0]", {"host": "fe80::1%eth0"}),
    ("amqp://192.0.2.7:1", {"host": "192.0.2.7", "port": 1}),
    ("AMQP://Rabbit.Example", {"host": "rabbit.example"}),
    ("amqp://bob:pw@rabbit", {"credentials": PlainCredentials("bob", "pw")}),
    ("amqp://bob@rabbit", {"credentials": PlainCredentials("bob", "guest")}),
    ("amqp://:@rabbit", {"credentials": PlainCredentials("", "")}),
    (
        "amqp://us%3Aer:p%40ss%2Fw%3Ard%23%3F@rabbit",
        {"credentials": PlainCredentials("us:er", "p@ss/w:rd#?")},
    ),
    ("amqp://b%C3%B6b:pa+ss@rabbit", {"credentials": PlainCredentials("b\u00f6b", "pa+ss")}),
    ("amqp://rabbit?heartbeat=30", {"heartbeat": 30}),
    ("amqp://rabbit?heartbeat=0", {"heartbeat": 0}),
    ("amqp://rabbit?heartbeat_interval=12", {"heartbeat": 12}),
    ("amqp://rabbit?channel_max=100", {"channel_max": 100}),
    ("amqp://rabbit?frame_max=8192", {"frame_max": 8192}),
    ("amqp://rabbit?connection_attempts=5", {"connection_attempts": 5}),
    ("amqp://rabbit?retry_delay=0.5", {"retry_delay": 0.5}),
    ("amqp://rabbit?socket_timeout=3", {"socket_timeout": 3.0}),
    ("amqp://rabbit?stack_timeout=7.5", {"stack_timeout": 7.5}),
    ("amqp://rabbit?blocked_connection_timeout=60", {"blocked_connection_timeout": 60.0}),
    ("amqp://rabbit?locale=de_DE", {"locale": "de_DE"}),
    ("amqp://rabbit?max_message_size=0", {"max_message_size": 0}),
    ("amqp://rabbit?max_message_size=1048576", {"max_message_size": 1048576}),
    (
        "amqp://rabbit?client_properties={'connection_name':'worker%201','n':[1,2]}",
        {"client_properties": {"connection_name": "worker 1", "n": [1, 2]}},
    ),
    (
        "amqp://rabbit?tcp_options={'TCP_KEEPIDLE':60,'TCP_USER_TIMEOUT':1000}",
        {"tcp_options": {"TCP_KEEPIDLE": 60, "TCP_USER_TIMEOUT": 1000}},
    ),
    (
        "amqp://u:p@rabbit:5999/v?heartbeat=5&channel_max=9&&locale=en_GB",
        {
            "host": "rabbit",
            "port": 5999,
            "virtual_host": "v",
            "heartbeat": 5,
            "channel_max": 9,
            "locale": "en_GB",
            "credentials": PlainCredentials("u", "p"),
        },
    ),
    ("amqps://rabbit", {"port": 5671}),
    ("amqps://rabbit:5999", {"port": 5999}),
    ("amqp://rabbit?ssl_options={'verify':False}", {"port": 5671}),
]


@pytest.mark.parametrize(("url", "expected"), URLS)
def test_url(url: str, expected: dict[str, Any]) -> None:
    params = URLParameters(url)
    assert {name: getattr(params, name) for name in expected} == expected


def test_url_without_options_equals_defaults() -> None:
    assert URLParameters("amqp://guest:guest@localhost:5672/%2F") == Parameters()


URL_ERRORS = [
    ("http://rabbit", "URL scheme must be amqp or amqps, not 'http'"),
    ("rabbit:5672", "URL scheme must be amqp or amqps"),
    (f"amqp://u:{SECRET}@rabbit:port", "URL authority is malformed"),
    (f"amqp://u:{SECRET}@rabbit:70000", "URL authority is malformed"),
    (f"amqp://u:{SECRET}@[::1/v", "URL authority is malformed"),
    (f"amqp://u:{SECRET}@rabbit:0", "port must be between 1 and 65535, not 0"),
    (f"amqp://u:{SECRET[:4]}#{SECRET[4:]}@rabbit", "URL must not contain '#'"),
    (f"amqp://u:{SECRET}@rabbit/v#", "URL must not contain '#'"),
    (f"amqp://u:{SECRET}@rabbit?heartbeat=abc", "URL option heartbeat must be an integer"),
    (f"amqp://u:{SECRET}@rabbit?heartbeat=-1", "heartbeat must be between 0 and 65535, not -1"),
    ("amqp://rabbit?heartbeat", "URL option heartbeat must be an integer"),
    ("amqp://rabbit?heartbeat_interval=x", "URL option heartbeat_interval must be an integer"),
    ("amqp://rabbit?heartbeat=1&heartbeat=2", "URL option heartbeat is given more than once"),
    ("amqp://rabbit?heartbeat=1&heartbeat_interval=2", "heartbeat_interval is given more than"),
    ("amqp://rabbit?channel_max=0", "channel_max must be between 1 and 65535, not 0"),
    ("amqp://rabbit?channel_max=1.5", "URL option channel_max must be an integer"),
    ("amqp://rabbit?frame_max=100", "frame_max must be between 4096 and 2147483647, not 100"),
    ("amqp://rabbit?connection_attempts=0", "connection_attempts must be >= 1, not 0"),
    ("amqp://rabbit?max_message_size=-1", "max_message_size must be >= 0, not -1"),
    ("amqp://rabbit?max_message_size=1e6", "URL option max_message_size must be an integer"),
    ("amqp://rabbit?retry_delay=soon", "URL option retry_delay must be a number"),
    ("amqp://rabbit?retry_delay=-1", "retry_delay must be >= 0 seconds, not -1.0"),
    ("amqp://rabbit?socket_timeout=0", "socket_timeout must be > 0 seconds or None, not 0.0"),
    ("amqp://rabbit?stack_timeout=nan", "stack_timeout must be > 0 seconds or None, not nan"),
    ("amqp://rabbit?blocked_connection_timeout=x", "blocked_connection_timeout must be a number"),
    ("amqp://rabbit?locale=", "locale must not be empty"),
    ("amqp://rabbit?client_properties=[1]", "client_properties must be a Python dict literal"),
    ("amqp://rabbit?client_properties={", "client_properties must be a Python dict literal"),
    (
        "amqp://rabbit?client_properties=__import__('os').getcwd()",
        "client_properties must be a Python dict literal",
    ),
    ("amqp://rabbit?tcp_options=5", "tcp_options must be a Python dict literal"),
    (f"amqp://rabbit?ssl_options={{'password':'{SECRET}'", "ssl_options must be a Python dict"),
    ("amqp://rabbit?hearbeat=5&x=1", "unknown URL options: 'hearbeat', 'x' (known: "),
    (f"amqp://u:p@rabbit?{SECRET}?x=1", "unknown URL options: (a malformed option)"),
    ("amqps://rabbit?ssl_options={'verify':'maybe'}", "ssl_options verify must be True, False"),
    ("amqps://rabbit?ssl_options={'cert_reqs':2}", "unknown ssl_options keys: cert_reqs"),
    (
        "amqps://rabbit?ssl_options={'cafile':'a','ca_certs':'b'}",
        "ssl_options: give cafile or ca_certs, not both",
    ),
    (
        f"amqps://rabbit?ssl_options={{'keyfile':'k.pem','password':'{SECRET}'}}",
        "ssl_options: keyfile and password need a certfile",
    ),
    (
        "amqps://rabbit?ssl_options={'cafile':'/nonexistent/ca.pem'}",
        "ssl_options: cannot load the CA certificates",
    ),
    (
        f"amqps://rabbit?ssl_options={{'certfile':'/nonexistent/c.pem','password':'{SECRET}'}}",
        "ssl_options: cannot load certfile '/nonexistent/c.pem'",
    ),
    ("amqps://rabbit?ssl_options={'ciphers':'NO-SUCH-CIPHER'}", "ssl_options: ciphers rejected"),
    ("amqps://rabbit?ssl_options={'server_hostname':5}", "server_hostname must be a str"),
]


@pytest.mark.parametrize(("url", "message"), URL_ERRORS)
def test_url_error(url: str, message: str) -> None:
    with pytest.raises(ValueError) as info:
        URLParameters(url)
    text = str(info.value)
    assert message in text
    assert SECRET not in text and SECRET[:4] not in text and SECRET[4:] not in text


def test_url_must_be_text() -> None:
    with pytest.raises(TypeError, match=r"^url must be a str, not bytes"):
        URLParameters(b"amqp://rabbit")  # type: ignore[arg-type]


def test_url_repr_hides_password() -> None:
    params = URLParameters(f"amqps://alice:{SECRET}@rabbit/%2F?heartbeat=5")
    assert SECRET not in repr(params) and SECRET not in str(params)
    assert "alice" in repr(params)


# TLS


def test_amqps_gets_a_verifying_default_context() -> None:
    options = URLParameters("amqps://Rabbit.Example/").ssl_options
    assert options is not None
    assert options.server_hostname == "rabbit.example"
    assert options.context.verify_mode == ssl.CERT_REQUIRED
    assert options.context.check_hostname is True


@pytest.mark.parametrize(
    ("verify", "mode", "check_hostname"),
    [
        ("False", ssl.CERT_NONE, False),
        ("'verify_none'", ssl.CERT_NONE, False),
        ("True", ssl.CERT_REQUIRED, True),
        ("'verify_peer'", ssl.CERT_REQUIRED, True),
    ],
)
def test_ssl_options_verify(verify: str, mode: ssl.VerifyMode, check_hostname: bool) -> None:
    options = URLParameters(f"amqps://rabbit?ssl_options={{'verify':{verify}}}").ssl_options
    assert options is not None
    assert options.context.verify_mode == mode
    assert options.context.check_hostname is check_hostname


def test_ssl_options_server_hostname() -> None:
    url = "amqps://10.0.0.5?ssl_options={'server_hostname':'rabbit.example'}"
    options = URLParameters(url).ssl_options
    assert options is not None and options.server_hostname == "rabbit.example"


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> dict[str, pathlib.Path]:
    """A CA, and a client certificate with its key in clear and encrypted with SECRET."""
    folder = tmp_path_factory.mktemp("pki")
    ca = trustme.CA()
    client = ca.issue_cert("client.example")
    paths = {name: folder / f"{name}.pem" for name in ("ca", "cert", "key", "encrypted_key")}
    ca.cert_pem.write_to_path(str(paths["ca"]))
    client.cert_chain_pems[0].write_to_path(str(paths["cert"]))
    client.private_key_pem.write_to_path(str(paths["key"]))
    key = serialization.load_pem_private_key(client.private_key_pem.bytes(), password=None)
    paths["encrypted_key"].write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.BestAvailableEncryption(SECRET.encode()),
        )
    )
    return paths


@pytest.mark.parametrize("ca_key", ["cafile", "ca_certs"])
def test_ssl_options_loads_ca_and_client_certificate(
    pki: dict[str, pathlib.Path], ca_key: str
) -> None:
    options = ssl_options_from_dict(
        {ca_key: str(pki["ca"]), "certfile": str(pki["cert"]), "keyfile": str(pki["key"])},
        "rabbit",
    )
    assert options.server_hostname == "rabbit"
    assert options.context.cert_store_stats()["x509_ca"] >= 1


def test_ssl_options_capath_and_cadata(pki: dict[str, pathlib.Path]) -> None:
    settings = {"capath": str(pki["ca"].parent), "cadata": pki["ca"].read_text()}
    options = ssl_options_from_dict(settings, "rabbit")
    assert options.context.cert_store_stats()["x509_ca"] >= 1


def test_ssl_options_encrypted_key(pki: dict[str, pathlib.Path]) -> None:
    settings = {"certfile": str(pki["cert"]), "keyfile": str(pki["encrypted_key"])}
    ssl_options_from_dict({**settings, "password": SECRET}, "rabbit")
    with pytest.raises(ValueError, match="cannot load certfile") as info:
        ssl_options_from_dict({**settings, "password": "wrong-" + SECRET}, "rabbit")
    assert SECRET not in str(info.value)


def test_ssl_options_through_a_url(pki: dict[str, pathlib.Path]) -> None:
    url = f"amqps://rabbit?ssl_options={{'cafile':'{pki['ca']}','ciphers':'HIGH'}}"
    options = URLParameters(url).ssl_options
    assert options is not None and options.context.cert_store_stats()["x509_ca"] == 1


def test_ssl_options_slots() -> None:
    tls = _tls()
    assert SSLOptions.__slots__ == ("context", "server_hostname")
    assert SSLOptions(tls.context).server_hostname is None
    assert repr(tls) == "<SSLOptions server_hostname='rabbit.example'>"
    with pytest.raises(AttributeError):
        tls.extra = 1  # type: ignore[attr-defined]


def test_ssl_options_needs_a_context() -> None:
    with pytest.raises(TypeError, match=r"^context must be an ssl\.SSLContext, not dict"):
        SSLOptions({"verify": False})  # type: ignore[arg-type]
