"""Extra RabbitMQ nodes for tests: a TLS listener, a node to stop and restart, a cluster.

Each ``ExtraBrokerNode`` is a separate RabbitMQ on this machine with its own
node name (``pikatest_<pid>_<n>_<label>@localhost``), AMQP port, distribution
port, config file, enabled-plugins file and data/log directories, all under
one temporary directory. It is booted with ``rabbitmq-server`` in the
foreground as a child process, so a boot failure is seen at once, and
stopped with ``rabbitmqctl shutdown``.

On Debian, ``rabbitmq-server`` and ``rabbitmqctl`` started by root switch to
the ``rabbitmq`` user (``su rabbitmq``), which keeps the environment but sets
HOME to ``/var/lib/rabbitmq``: every node and every CLI call therefore uses
the default node's Erlang cookie (``/var/lib/rabbitmq/.erlang.cookie``), so
nodes can cluster and be managed without copying cookies. The node's files
are handed to that user.
"""

from __future__ import annotations

import datetime
import itertools
import json
import os
import pwd
import re
import secrets
import shutil
import signal
import socket
import ssl
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Optional, Sequence, Union
from urllib.parse import quote

from tests.utils.broker import (
    RabbitmqctlError,
    rabbitmq_installed,
    rabbitmqctl,
    set_vm_memory_high_watermark,
)
from tests.utils.sockets import LOOPBACK, free_ports

NODE_HOST = "localhost"
NODE_PREFIX = "pikatest"
DIR_PREFIX = "pika-test-broker-"
SERVER_USER = "rabbitmq"
DEFAULT_BOOT_TIMEOUT = 90.0
EPMD_PORT = 4369
EXTERNAL_AUTH_PLUGIN = "rabbitmq_auth_mechanism_ssl"

_LABEL = re.compile(r"[A-Za-z0-9]+")
_STALE_NAME = re.compile(rf"{NODE_PREFIX}_(\d+)_\d+_[A-Za-z0-9]+")
_node_numbers = itertools.count(1)


class ExtraNodeError(RuntimeError):
    """An extra node failed to boot or stop; the message includes its log's tail."""


class ExtraNodeUnavailable(RuntimeError):
    """This machine cannot run extra RabbitMQ nodes; the message says why."""


def why_extra_nodes_unavailable() -> Optional[str]:
    """Why extra nodes cannot be started here, or ``None`` if they can."""
    if not rabbitmq_installed():
        return "rabbitmq-server is not installed (on Debian: apt-get install rabbitmq-server)"
    server_user = _server_user()
    if server_user is not None and os.geteuid() not in (0, server_user.pw_uid):
        return f"extra RabbitMQ nodes must be started by root or by the {SERVER_USER} user"
    return None


def _server_user() -> Optional[pwd.struct_passwd]:
    try:
        return pwd.getpwnam(SERVER_USER)
    except KeyError:
        return None


def _give_to_server_user(path: Path) -> None:
    """Make ``path`` and everything below it owned by the user the server runs as."""
    user = _server_user()
    if user is None or os.geteuid() != 0:
        return
    for root, dirs, files in os.walk(path):
        for name in [root, *(os.path.join(root, d) for d in dirs)]:
            os.chown(name, user.pw_uid, user.pw_gid)
        for name in files:
            os.chown(os.path.join(root, name), user.pw_uid, user.pw_gid)


def _node_parent_dir() -> str:
    """A temporary directory every user can traverse (the server is not root)."""
    candidate = Path(tempfile.gettempdir()).resolve()
    for directory in (candidate, *candidate.parents):
        if not directory.stat().st_mode & 0o001:
            return "/tmp"
    return str(candidate)


@dataclass(frozen=True)
class TlsFiles:
    """A throw-away CA, a server certificate for localhost/127.0.0.1 and a client certificate.

    The client certificate's common name is also a broker user when the node
    has EXTERNAL authentication, so it can log in with no password.
    """

    ca_cert: Path
    server_cert: Path
    server_key: Path
    client_cert: Path
    client_key: Path
    client_common_name: str

    @classmethod
    def generate(
        cls,
        directory: Path,
        client_common_name: str = "pika-test-client",
        server_expired: bool = False,
    ) -> TlsFiles:
        """Make the files in ``directory``; ``server_expired`` issues a server
        certificate whose validity ended yesterday."""
        import trustme

        directory.mkdir(parents=True, exist_ok=True)
        ca = trustme.CA()
        if server_expired:
            now = datetime.datetime.now(datetime.timezone.utc)
            server = ca.issue_cert(
                NODE_HOST,
                LOOPBACK,
                not_before=now - datetime.timedelta(days=30),
                not_after=now - datetime.timedelta(days=1),
            )
        else:
            server = ca.issue_cert(NODE_HOST, LOOPBACK)
        # Erlang's TLS rejects a client certificate whose (critical) SAN is empty.
        client = ca.issue_cert(client_common_name, common_name=client_common_name)
        files = cls(
            ca_cert=directory / "ca.pem",
            server_cert=directory / "server.pem",
            server_key=directory / "server.key",
            client_cert=directory / "client.pem",
            client_key=directory / "client.key",
            client_common_name=client_common_name,
        )
        ca.cert_pem.write_to_path(str(files.ca_cert))
        server.cert_chain_pems[0].write_to_path(str(files.server_cert))
        server.private_key_pem.write_to_path(str(files.server_key))
        client.cert_chain_pems[0].write_to_path(str(files.client_cert))
        client.private_key_pem.write_to_path(str(files.client_key))
        return files

    def client_context(self, with_client_cert: bool = True) -> ssl.SSLContext:
        """A client context trusting the test CA, presenting the client certificate if asked."""
        context = ssl.create_default_context(cafile=str(self.ca_cert))
        if with_client_cert:
            context.load_cert_chain(str(self.client_cert), str(self.client_key))
        return context


class ExtraBrokerNode:
    """One extra RabbitMQ node; a context manager that boots it and removes it.

    ``tls`` adds a TLS listener on ``tls_port`` with ``ssl_options.verify =
    verify_peer``; ``fail_if_no_peer_cert`` makes a client certificate
    mandatory; ``expired_server_cert`` gives the listener a certificate
    whose validity has ended; ``external_auth`` enables the ``rabbitmq_auth_mechanism_ssl``
    plugin, offers EXTERNAL and creates a user named after the client
    certificate's common name. ``extra_config`` lines are appended to the
    node's ``rabbitmq.conf``. The guest/guest user works over 127.0.0.1.
    """

    def __init__(
        self,
        label: str = "extra",
        *,
        tls: bool = False,
        fail_if_no_peer_cert: bool = False,
        expired_server_cert: bool = False,
        external_auth: bool = False,
        extra_config: Sequence[str] = (),
        boot_timeout: float = DEFAULT_BOOT_TIMEOUT,
    ) -> None:
        if not _LABEL.fullmatch(label):
            raise ValueError(f"a node label is letters and digits only, not {label!r}")
        if external_auth and not tls:
            raise ValueError("EXTERNAL authentication needs the TLS listener (tls=True)")
        reason = why_extra_nodes_unavailable()
        if reason is not None:
            raise ExtraNodeUnavailable(reason)
        self.name = f"{NODE_PREFIX}_{os.getpid()}_{next(_node_numbers)}_{label}@{NODE_HOST}"
        self.host = LOOPBACK
        self.port, self.dist_port, tls_port = free_ports(3)
        self.tls_port: Optional[int] = tls_port if tls else None
        self.boot_timeout = boot_timeout
        self.external_auth = external_auth
        self.directory = Path(
            tempfile.mkdtemp(prefix=f"{DIR_PREFIX}{os.getpid()}-", dir=_node_parent_dir())
        )
        self._process: Optional[subprocess.Popen[bytes]] = None
        self._provisioned = False
        try:
            self.tls: Optional[TlsFiles] = (
                TlsFiles.generate(self.directory / "tls", server_expired=expired_server_cert)
                if tls
                else None
            )
            self._write_config(fail_if_no_peer_cert, extra_config)
            _give_to_server_user(self.directory)
        except BaseException:
            shutil.rmtree(self.directory, ignore_errors=True)
            raise

    def __repr__(self) -> str:
        return f"<ExtraBrokerNode {self.name} amqp={self.port} tls={self.tls_port}>"

    @property
    def config_file(self) -> Path:
        return self.directory / "rabbitmq.conf"

    @property
    def log_file(self) -> Path:
        return self.directory / "log" / f"{self.name}.log"

    @property
    def console_file(self) -> Path:
        return self.directory / "console.log"

    @property
    def pid_file(self) -> Path:
        """Where the server writes the Erlang VM's pid (it is not the launcher's child)."""
        return self.directory / "node.pid"

    def url(self, user: str = "guest", password: str = "guest", vhost: str = "/") -> str:
        """The node's plain AMQP URL."""
        return self._url("amqp", self.port, user, password, vhost)

    def tls_url(self, user: str = "guest", password: str = "guest", vhost: str = "/") -> str:
        """The node's amqps URL (certificate options are the client's business)."""
        if self.tls_port is None:
            raise ValueError(f"{self.name} has no TLS listener")
        return self._url("amqps", self.tls_port, user, password, vhost)

    def _url(self, scheme: str, port: int, user: str, password: str, vhost: str) -> str:
        path = "/" if vhost == "/" else "/" + quote(vhost, safe="")
        credentials = f"{quote(user, safe='')}:{quote(password, safe='')}"
        return f"{scheme}://{credentials}@{self.host}:{port}{path}"

    def _write_config(self, fail_if_no_peer_cert: bool, extra_config: Sequence[str]) -> None:
        lines = [f"listeners.tcp.1 = {self.host}:{self.port}"]
        if self.tls is not None:
            lines += [
                f"listeners.ssl.1 = {self.host}:{self.tls_port}",
                f"ssl_options.cacertfile = {self.tls.ca_cert}",
                f"ssl_options.certfile = {self.tls.server_cert}",
                f"ssl_options.keyfile = {self.tls.server_key}",
                "ssl_options.verify = verify_peer",
                f"ssl_options.fail_if_no_peer_cert = {str(fail_if_no_peer_cert).lower()}",
            ]
        plugins = []
        if self.external_auth:
            plugins.append(EXTERNAL_AUTH_PLUGIN)
            lines += [
                "auth_mechanisms.1 = PLAIN",
                "auth_mechanisms.2 = AMQPLAIN",
                "auth_mechanisms.3 = EXTERNAL",
                "ssl_cert_login_from = common_name",
            ]
        lines += extra_config
        self.config_file.write_text("\n".join(lines) + "\n")
        (self.directory / "enabled_plugins").write_text(f"[{','.join(plugins)}].\n")

    def _environment(self) -> dict[str, str]:
        return dict(
            os.environ,
            RABBITMQ_NODENAME=self.name,
            RABBITMQ_NODE_PORT=str(self.port),
            RABBITMQ_DIST_PORT=str(self.dist_port),
            RABBITMQ_CONFIG_FILE=str(self.config_file),
            RABBITMQ_ADVANCED_CONFIG_FILE=str(self.directory / "advanced.config"),
            RABBITMQ_ENABLED_PLUGINS_FILE=str(self.directory / "enabled_plugins"),
            RABBITMQ_MNESIA_BASE=str(self.directory / "mnesia"),
            RABBITMQ_LOG_BASE=str(self.directory / "log"),
            RABBITMQ_PID_FILE=str(self.pid_file),
        )

    # -- life cycle ---------------------------------------------------------

    def is_running(self) -> bool:
        """Whether the node's server process is alive (booted or booting)."""
        return self._process is not None and self._process.poll() is None

    def launch(self) -> None:
        """Start the server process without waiting for it (see ``start_nodes``)."""
        if self.is_running():
            return
        with open(self.console_file, "ab") as console:
            self._process = subprocess.Popen(
                ["rabbitmq-server"],
                env=self._environment(),
                stdin=subprocess.DEVNULL,
                stdout=console,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

    def await_startup(self) -> None:
        """Wait until the launched node has booted; raise ``ExtraNodeError`` if it does not."""
        process = self._process
        if process is None:
            raise ExtraNodeError(f"{self.name} was never launched")
        deadline = time.monotonic() + self.boot_timeout
        while True:
            if process.poll() is not None:
                raise ExtraNodeError(
                    f"{self.name} exited with {process.returncode} while booting\n{self.log_tail()}"
                )
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise ExtraNodeError(
                    f"{self.name} did not boot within {self.boot_timeout:g} s\n{self.log_tail()}"
                )
            try:
                # Fails at once until the node has registered with epmd.
                self.rabbitmqctl(
                    "await_startup",
                    "--timeout",
                    str(max(1, int(remaining))),
                    timeout=remaining + 15,
                )
            except (RabbitmqctlError, subprocess.TimeoutExpired):
                time.sleep(0.5)
                continue
            break
        if self.external_auth and not self._provisioned and self.tls is not None:
            self.add_user(self.tls.client_common_name)
        self._provisioned = True

    def start(self) -> None:
        """Boot the node (again, with the same data, after ``stop``) and wait until it runs."""
        if self.is_running():
            return
        self.launch()
        self.await_startup()

    def ensure_running(self) -> None:
        """``start`` if a previous test left the node stopped."""
        self.start()

    def stop(self, timeout: float = 60.0) -> None:
        """Shut the node down and wait for its process to exit; data stays for ``start``."""
        process = self._process
        if process is None:
            return
        if process.poll() is None:
            try:
                self.rabbitmqctl("shutdown", timeout=timeout)
            except (RabbitmqctlError, subprocess.TimeoutExpired):
                pass  # the wait below decides, and kills the process if needed
            try:
                process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self._kill(process)
        self._process = None

    def _kill(self, process: subprocess.Popen[bytes]) -> None:
        """Kill a node that ignored ``shutdown``: its VM (in a session of its own) and launcher."""
        try:
            os.kill(int(self.pid_file.read_text().strip()), signal.SIGKILL)
        except (OSError, ValueError):
            pass  # no pid file yet, or the VM is already gone
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=30)

    def close(self) -> None:
        """Stop the node and delete its directory."""
        try:
            self.stop()
        finally:
            shutil.rmtree(self.directory, ignore_errors=True)

    def __enter__(self) -> ExtraBrokerNode:
        try:
            self.start()
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def log_tail(self, lines: int = 40) -> str:
        """The end of the node's log (or its console output, when the log does not exist yet)."""
        for path in (self.log_file, self.console_file):
            if path.exists() and path.stat().st_size:
                text = path.read_text(errors="replace").splitlines()[-lines:]
                return f"--- last lines of {path} ---\n" + "\n".join(text)
        return f"(no log in {self.directory})"

    # -- management ---------------------------------------------------------

    def rabbitmqctl(self, *args: str, timeout: float = 30) -> str:
        """``rabbitmqctl -n <this node> args...``."""
        return rabbitmqctl(*args, node=self.name, timeout=timeout)

    def add_user(
        self,
        username: str,
        password: Optional[str] = None,
        vhost: str = "/",
        tags: Sequence[str] = (),
    ) -> None:
        """Create a user with full permissions on ``vhost``; no password means EXTERNAL-only."""
        self.rabbitmqctl("add_user", username, password or secrets.token_hex(16))
        if password is None:
            self.rabbitmqctl("clear_password", username)
        self.rabbitmqctl("set_permissions", "-p", vhost, username, ".*", ".*", ".*")
        if tags:
            self.rabbitmqctl("set_user_tags", username, *tags)

    def set_vm_memory_high_watermark(self, limit: Union[float, str]) -> None:
        """See ``tests.utils.broker.set_vm_memory_high_watermark``."""
        set_vm_memory_high_watermark(limit, node=self.name)

    def join_cluster(self, seed: ExtraBrokerNode) -> None:
        """Reset this node and make it join ``seed``'s cluster (its own users are lost)."""
        self.rabbitmqctl("stop_app")
        self.rabbitmqctl("reset")
        self.rabbitmqctl("join_cluster", seed.name, timeout=60)
        self.rabbitmqctl("start_app", timeout=60)

    def running_cluster_nodes(self) -> list[str]:
        """Names of the cluster's nodes that this node sees running."""
        status = json.loads(self.rabbitmqctl("cluster_status", "--formatter", "json"))
        return sorted(status["running_nodes"])


def start_nodes(nodes: Sequence[ExtraBrokerNode]) -> None:
    """Boot several nodes at once (they boot in parallel) and wait for all of them."""
    for node in nodes:
        node.launch()
    for node in nodes:
        node.await_startup()


def form_cluster(nodes: Sequence[ExtraBrokerNode]) -> None:
    """Join every running node after the first to the first one's cluster."""
    seed, *others = nodes
    for node in others:
        node.join_cluster(seed)


def epmd_names() -> list[str]:
    """Short names of the Erlang nodes registered with the local epmd ([] if none runs)."""
    try:
        with socket.create_connection((LOOPBACK, EPMD_PORT), timeout=5) as sock:
            sock.sendall(b"\x00\x01n")  # NAMES_REQ: 2-byte length, then 'n'
            reply = b""
            while chunk := sock.recv(4096):
                reply += chunk
    except OSError:
        return []
    return re.findall(r"^name (\S+) at port \d+$", reply[4:].decode(errors="replace"), re.M)


def _process_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def stop_stale_nodes() -> list[str]:
    """Stop extra nodes, and delete their directories, left by test runs that died.

    A node or directory belongs to a run by the pid in its name; only those
    whose process no longer exists are touched. Returns the nodes stopped.
    """
    stopped = []
    for name in epmd_names():
        match = _STALE_NAME.fullmatch(name)
        if match and not _process_alive(int(match.group(1))):
            node = f"{name}@{NODE_HOST}"
            try:
                rabbitmqctl("shutdown", node=node, timeout=60)
            except (RabbitmqctlError, subprocess.TimeoutExpired):
                continue
            stopped.append(node)
    for directory in Path(_node_parent_dir()).glob(f"{DIR_PREFIX}*"):
        pid = directory.name[len(DIR_PREFIX) :].split("-", 1)[0]
        if pid.isdigit() and not _process_alive(int(pid)):
            shutil.rmtree(directory, ignore_errors=True)
    return stopped
