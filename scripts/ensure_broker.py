#!/usr/bin/env python3
"""Make sure an AMQP 0-9-1 broker answers where the tests will look for it.

Runs with the machine's python3 (standard library only), before the test run:

* the URL comes from PIKA_TEST_URL, else AMQP_URL, else
  amqp://guest:guest@127.0.0.1:5672/;
* if that endpoint answers the AMQP protocol header with Connection.Start,
  print which broker is used and exit 0;
* if nothing listens there and the host is this machine's default broker
  address, start the local RabbitMQ (installing it first with apt-get when
  it is missing and we are root on Debian) and wait for it;
* otherwise exit 2 and say how to get a broker.

The password in the URL is never printed.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.utils.amqp_probe import (
    BrokerAddress,
    BrokerProbeError,
    BrokerUnreachable,
    broker_url,
    check_broker,
    parse_broker_url,
)

DEFAULT_NODE_PORT = 5672
BOOT_WAIT_SECONDS = 60.0
EXIT_NO_BROKER = 2

HOW_TO_GET_ONE = (
    "To get a broker: install RabbitMQ (on Debian: apt-get install rabbitmq-server, "
    "then rabbitmq-server -detached), or point PIKA_TEST_URL at one, e.g. "
    "PIKA_TEST_URL=amqp://user:password@host:5672/"
)


def fail(message: str) -> int:
    print(f"ensure_broker: {message}", file=sys.stderr)
    print(f"ensure_broker: {HOW_TO_GET_ONE}", file=sys.stderr)
    return EXIT_NO_BROKER


def install_rabbitmq() -> bool:
    """Install Debian's rabbitmq-server package; False if this machine cannot."""
    if shutil.which("apt-get") is None or os.geteuid() != 0:
        return False
    print("ensure_broker: rabbitmq-server is not installed; installing it with apt-get", flush=True)
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    for command in (["apt-get", "update"], ["apt-get", "install", "-y", "rabbitmq-server"]):
        if subprocess.run(command, env=env, check=False).returncode != 0:
            print(f"ensure_broker: {' '.join(command)} failed", file=sys.stderr)
            return False
    return shutil.which("rabbitmq-server") is not None


def wait_for_broker(address: BrokerAddress, seconds: float) -> BrokerProbeError | None:
    """Probe until the broker answers; the last error if it never did."""
    deadline = time.monotonic() + seconds
    while True:
        try:
            check_broker(address)
            return None
        except BrokerProbeError as exc:
            if time.monotonic() >= deadline:
                return exc
        time.sleep(1.0)


def start_local_broker(address: BrokerAddress) -> int:
    if shutil.which("rabbitmq-server") is None and not install_rabbitmq():
        return fail(
            f"nothing answers at {address.host}:{address.port}, rabbitmq-server is not "
            "installed, and it cannot be installed here (needs root and apt-get)."
        )
    print("ensure_broker: starting the local RabbitMQ (rabbitmq-server -detached)", flush=True)
    # A node that is already booting makes this exit non-zero: waiting decides.
    subprocess.run(["rabbitmq-server", "-detached"], check=False)
    error = wait_for_broker(address, BOOT_WAIT_SECONDS)
    if error is not None:
        return fail(
            f"started rabbitmq-server but {address.host}:{address.port} did not answer "
            f"within {BOOT_WAIT_SECONDS:g} s: {error}"
        )
    return report(address)


def report(address: BrokerAddress) -> int:
    print(f"ensure_broker: using the AMQP 0-9-1 broker at {address.redacted_url}", flush=True)
    return 0


def main() -> int:
    try:
        address = parse_broker_url(broker_url())
    except ValueError as exc:
        return fail(str(exc))
    try:
        check_broker(address)
    except BrokerUnreachable as exc:
        if address.is_local and address.port == DEFAULT_NODE_PORT:
            return start_local_broker(address)
        return fail(f"no broker at {address.redacted_url}: {exc}")
    except BrokerProbeError as exc:
        return fail(f"{address.redacted_url} answers but is not an AMQP 0-9-1 broker: {exc}")
    return report(address)


if __name__ == "__main__":
    sys.exit(main())
