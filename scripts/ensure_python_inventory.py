#!/usr/bin/env python3
"""Put Python's Sphinx inventory where the documentation build reads it.

The site links to Python's documentation (intersphinx) without fetching
anything over the network: the inventory comes from the ``python3-doc``
package's HTML documentation. This script

* finds ``/usr/share/doc/python3*/html/objects.inv``, installing Debian's
  ``python3-doc`` first when it is missing and we are root with apt-get;
* copies it to ``docs/_build/python-objects.inv`` (what ``docs/conf.py`` reads);
* otherwise exits 2 and says how to get it.

Runs with the machine's python3, standard library only.
"""

from __future__ import annotations

import glob
import os
import shutil
import subprocess
import sys
from pathlib import Path

TARGET = Path(__file__).resolve().parent.parent / "docs" / "_build" / "python-objects.inv"
PATTERN = "/usr/share/doc/python3*/html/objects.inv"
EXIT_MISSING = 2


def find_inventory() -> str | None:
    """Return the newest installed Python documentation inventory, or None."""
    found = sorted(glob.glob(PATTERN))
    return found[-1] if found else None


def install_python_docs() -> None:
    """Install Debian's python3-doc when we may (root, apt-get present)."""
    if os.geteuid() != 0 or shutil.which("apt-get") is None:
        return
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    quiet = {"stdout": subprocess.DEVNULL, "env": env, "check": False}
    subprocess.run(["apt-get", "install", "-y", "-qq", "python3-doc"], **quiet)
    if find_inventory() is None:
        subprocess.run(["apt-get", "update", "-qq"], **quiet)
        subprocess.run(["apt-get", "install", "-y", "-qq", "python3-doc"], **quiet)


def main() -> int:
    """Copy the inventory into place; return the exit code."""
    source = find_inventory()
    if source is None:
        install_python_docs()
        source = find_inventory()
    if source is None:
        print(
            "Python's documentation inventory is missing: install the python3-doc"
            f" package (it provides {PATTERN}).",
            file=sys.stderr,
        )
        return EXIT_MISSING
    TARGET.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(source, TARGET)
    return 0


if __name__ == "__main__":
    sys.exit(main())
