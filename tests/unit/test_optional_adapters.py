"""The framework adapters are optional extras; the legacy adapter names still work.

Each import check runs in a fresh interpreter where the framework cannot be
imported: ``sys.modules[name] = None`` makes any ``import name`` fail, as
if the package were not installed.
"""

from __future__ import annotations

import inspect
import subprocess
import sys
import textwrap

import pytest

from pika.adapters import (
    AsyncoreConnection,
    BaseConnection,
    BlockingConnection,
    IOLoop,
    SelectConnection,
)
from pika.adapters.asyncore_connection import AsyncoreConnection as FromItsModule


def run_without(blocked: list[str], code: str) -> subprocess.CompletedProcess[str]:
    script = "import sys\n"
    script += "".join(f"sys.modules[{name!r}] = None\n" for name in blocked)
    script += textwrap.dedent(code)
    return subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=30, check=False
    )


FRAMEWORKS = ["tornado", "twisted", "gevent"]


def test_pika_and_the_standard_adapters_import_without_any_framework() -> None:
    done = run_without(
        FRAMEWORKS,
        """
        import asyncio, pika, pika.adapters, pika.connection, pika.channel
        from pika.adapters import SelectConnection, AsyncoreConnection, BlockingConnection
        from pika.adapters.asyncio_connection import AsyncioConnection
        loaded = [name for name in sys.modules if name.split(".")[0] in
                  ("tornado", "twisted", "gevent", "zope") and sys.modules[name] is not None]
        assert not loaded, loaded
        print("ok")
        """,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "ok"


@pytest.mark.parametrize("framework", FRAMEWORKS)
def test_an_adapter_without_its_framework_names_the_extra(framework: str) -> None:
    done = run_without(
        [framework],
        f"""
        try:
            import pika.adapters.{framework}_connection
        except ImportError as error:
            print(error)
        else:
            raise SystemExit("imported without {framework}")
        """,
    )
    assert done.returncode == 0, done.stderr
    assert f"pip install pika[{framework}]" in done.stdout


def test_importing_adapters_leaves_the_asyncio_policy_alone() -> None:
    done = run_without(
        [],
        """
        import asyncio
        policy = asyncio.get_event_loop_policy()
        import pika.adapters.asyncio_connection, pika.adapters.tornado_connection
        import pika.adapters.gevent_connection, pika.adapters.twisted_connection
        assert asyncio.get_event_loop_policy() is policy
        assert "twisted.internet.reactor" not in sys.modules, "the reactor was installed"
        print("ok")
        """,
    )
    assert done.returncode == 0, done.stderr


def test_asyncore_connection_is_select_connection_under_its_old_name() -> None:
    assert AsyncoreConnection is FromItsModule
    assert issubclass(AsyncoreConnection, SelectConnection)
    assert issubclass(SelectConnection, BaseConnection)
    assert BlockingConnection.__module__ == "pika.adapters.blocking_connection"
    assert inspect.signature(AsyncoreConnection) == inspect.signature(SelectConnection)
    assert inspect.signature(AsyncoreConnection.create_connection) == inspect.signature(
        SelectConnection.create_connection
    )
    services = AsyncoreConnection._make_nbio(None)
    assert isinstance(services.get_native_ioloop(), IOLoop)
    services.close()
