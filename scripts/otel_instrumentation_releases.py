#!/usr/bin/env python3
"""Run the OpenTelemetry instrumentation tests against several of its releases.

    python3 scripts/otel_instrumentation_releases.py [--keep] [RELEASE ...]

The ``dev`` extra installs the newest ``opentelemetry-instrumentation-pika``
in its range; older releases pin other versions of OpenTelemetry's own
packages, so each release gets a virtualenv of its own (in a temporary
directory): this library installed from the work tree without
dependencies (it has none), the release with the SDK of the same
OpenTelemetry release train (instrumentation 0.Nb* goes with SDK 1.(N-21)),
pytest and pytest-timeout. Then
``tests/integration/test_otel_instrumentation.py`` runs in it against the
broker the tests use. Prints one line per release and exits non-zero if
any failed. Needs the package index and a broker; takes about a minute per
release. ``--keep`` leaves the virtualenvs in place and prints where.
"""

from __future__ import annotations

import argparse
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TEST_FILE = "tests/integration/test_otel_instrumentation.py"

# The last two years of releases, sampled across the change in 0.56b0
# (from then on the callback Connection is patched too).
DEFAULT_RELEASES = ("0.45b0", "0.50b0", "0.55b0", "0.56b0", "0.60b0", "0.63b0", "0.66b1")


def sdk_for(release: str) -> str:
    """The SDK requirement released with instrumentation ``release``."""
    match = re.fullmatch(r"0\.(\d+)b\d+", release)
    if match is None:
        raise ValueError(f"not an instrumentation release like 0.66b1: {release!r}")
    return f"opentelemetry-sdk==1.{int(match.group(1)) - 21}.*"


def run_release(release: str, base: Path) -> tuple[bool, str]:
    """Build the release's virtualenv under ``base`` and run the tests there;
    returns (passed, pytest's summary line or the failing step's output)."""
    venv = base / f"otel-{release}"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    python = str(venv / "bin" / "python")
    steps = [
        [python, "-m", "pip", "install", "--quiet", "--no-deps", "-e", str(ROOT)],
        [
            python,
            "-m",
            "pip",
            "install",
            "--quiet",
            f"opentelemetry-instrumentation-pika=={release}",
            sdk_for(release),
            "pytest>=7",
            "pytest-timeout>=2",
        ],
    ]
    for step in steps:
        done = subprocess.run(step, capture_output=True, text=True)
        if done.returncode:
            return False, f"{' '.join(step[3:6])} failed:\n{done.stdout}{done.stderr}"
    done = subprocess.run(
        [python, "-m", "pytest", "-q", "-p", "no:cacheprovider", TEST_FILE],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    lines = [line for line in done.stdout.splitlines() if line.strip()]
    summary = lines[-1] if lines else done.stderr.strip()
    if done.returncode:
        return False, f"{summary}\n{done.stdout[-3000:]}"
    return True, summary


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("releases", nargs="*", default=list(DEFAULT_RELEASES))
    parser.add_argument("--keep", action="store_true", help="keep the virtualenvs")
    args = parser.parse_args()
    base = Path(tempfile.mkdtemp(prefix="otel-releases-"))
    failed = 0
    try:
        for release in args.releases:
            passed, summary = run_release(release, base)
            failed += not passed
            print(f"{release:>8}  {'ok    ' if passed else 'FAILED'}  {summary}", flush=True)
    finally:
        if args.keep:
            print(f"virtualenvs kept in {base}")
        else:
            shutil.rmtree(base, ignore_errors=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
