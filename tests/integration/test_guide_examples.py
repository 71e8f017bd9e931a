"""The complete programs of the documentation's guides run as written.

Every ``code-block:: python`` of the getting-started and thread-safety
guides is a whole program: each runs in a subprocess with a timeout against
the test broker (the broker URL of the examples is replaced by the tests')
and must exit 0 without writing to stderr. The queues they declare
(``guide.*``) are deleted afterwards.
"""

from __future__ import annotations

import re
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from tests.integration.blocking_support import open_connection

pytestmark = [pytest.mark.broker, pytest.mark.timeout(300)]

GUIDES = Path(__file__).resolve().parents[2] / "docs" / "guide"
PAGES = ("getting-started.rst", "thread-safety.rst")
EXAMPLE_URL = "amqp://guest:guest@127.0.0.1:5672/"
BLOCK = re.compile(r"\.\. code-block:: python\n\n((?:   .*\n|\n)+)")
QUEUE = re.compile(r"""["'](guide\.[\w.]+)["']""")


def programs() -> list[tuple[str, str]]:
    """``(page:number, source)`` of every Python block of the guide pages."""
    found = []
    for page in PAGES:
        for number, block in enumerate(BLOCK.findall((GUIDES / page).read_text()), start=1):
            found.append((f"{page}:{number}", textwrap.dedent(block)))
    return found


PROGRAMS = programs()


@pytest.fixture
def cleanup(broker_url: str) -> Iterator[set[str]]:
    queues: set[str] = set()
    yield queues
    with open_connection(broker_url) as connection:
        channel = connection.channel()
        for queue in sorted(queues):
            channel.queue_delete(queue)


def test_the_guides_have_programs() -> None:
    # Nine: blocking, select, async/await, asyncio, Tornado, Twisted, gevent,
    # thread-safe (two).
    assert len(PROGRAMS) == 9
    assert all(
        EXAMPLE_URL in source or "ConnectionParameters()" in source for _, source in PROGRAMS
    )


@pytest.mark.parametrize(("where", "source"), PROGRAMS, ids=[where for where, _ in PROGRAMS])
def test_guide_program_runs(broker_url: str, cleanup: set[str], where: str, source: str) -> None:
    cleanup.update(QUEUE.findall(source))
    address = urlsplit(broker_url)
    program = source.replace(EXAMPLE_URL, broker_url).replace(
        '"127.0.0.1", 5672', f'"{address.hostname}", {address.port or 5672}'
    )
    done = subprocess.run(
        [sys.executable, "-c", program], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stderr == ""
