"""Run one fuzz harness under atheris (libFuzzer) with the pika package instrumented.

    python -m tests.fuzz.run TARGET --corpus DIR [--seconds N] [--runs N]

TARGET is one of `targets.TARGETS` (frame, table, engine). DIR holds the
corpus (built by `tests.fuzz.seeds` when empty) and grows with what the
fuzzer finds; crashing inputs are written to DIR/../crashes/. The exit code
is 0 when no input broke the harness. libFuzzer's last status line gives
the executions (``#N``) and the coverage reached (``cov:`` edges of the
instrumented code, ``ft:`` features).
"""

from __future__ import annotations

import argparse
import pathlib
import subprocess
import sys

import atheris

with atheris.instrument_imports(include=["pika"]):
    import pika.data
    import pika.engine
    import pika.frame  # noqa: F401

from tests.fuzz.targets import TARGETS


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("target", choices=sorted(TARGETS))
    parser.add_argument("--corpus", type=pathlib.Path, required=True)
    parser.add_argument("--seconds", type=int, default=0, help="time budget (0: no limit)")
    parser.add_argument("--runs", type=int, default=-1, help="executions (-1: no limit)")
    args = parser.parse_args(argv)
    corpus = args.corpus / args.target
    if not corpus.is_dir() or not any(corpus.iterdir()):
        # In a process of its own: the recording runs pytest, which must not
        # be loaded (and instrumented) here.
        subprocess.run(
            [sys.executable, "-m", "tests.fuzz.seeds", str(args.corpus)],
            check=True,
            stdout=subprocess.DEVNULL,
        )
    crashes = args.corpus.parent / "crashes"
    crashes.mkdir(parents=True, exist_ok=True)
    libfuzzer_args = [
        sys.argv[0],
        str(corpus),
        f"-artifact_prefix={crashes}/{args.target}-",
        f"-runs={args.runs}",
        "-max_len=65536",
        "-print_final_stats=1",
    ]
    if args.seconds:
        libfuzzer_args.append(f"-max_total_time={args.seconds}")
    atheris.Setup(libfuzzer_args, TARGETS[args.target])
    atheris.Fuzz()


if __name__ == "__main__":
    main(sys.argv[1:])
