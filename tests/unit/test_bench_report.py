"""`benchmarks/run.py`'s reporting: the peers table (aio-pika beside PyPI
pika, rabbitmq-c's figures and the CPU ratio against it) and the line that
says why rabbitmq-c is skipped."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))

import run


def result(value: float, cpu: float, metric: str = "msgs_per_s") -> dict[str, Any]:
    return {metric: value, "cpu_us_per_msg": cpu}


def test_peers_table_reads_medians_ratios_and_cpu_against_rabbitmq_c() -> None:
    runs = {
        "blocking_publish": {
            run.OURS: [result(60_000, 4.0), result(50_000, 5.0), result(55_000, 4.5)],
            run.PYPI: [result(20_000, 46.0)],
            run.AIO: [],
            run.CLIB: [result(70_000, 2.0), result(69_000, 3.0), {"error": "refused"}],
        },
        "large": {
            run.OURS: [result(600.0, 2000.0, "mb_per_s")],
            run.PYPI: [result(250.0, 4000.0, "mb_per_s")],
            run.AIO: [result(400.0, 2500.0, "mb_per_s")],
            run.CLIB: [],
        },
    }
    rows = run.summarise(runs)
    publish, large = rows
    assert publish[run.CLIB] == 69_500 and publish[f"{run.CLIB}_cpu_us"] == 2.5
    assert publish[f"{run.CLIB}_errors"] == ["refused"]
    assert large[run.AIO] == 400.0
    table = run.peers_table(rows, "1.4.4").splitlines()
    assert "aio-pika" in table[0] and "rabbitmq-c" in table[0]
    publish_line, large_line = table[2:]
    # 55,000 msgs/s is 2.75x pika's and 0.79x rabbitmq-c's; 4.5 µs of CPU is 1.80x 2.5 µs.
    assert "| 2.75x | n/a | 0.79x | 4.5 µs | 2.5 µs | 1.80 |" in publish_line
    # 600 MB/s is 2.40x pika's 250 and 1.50x aio-pika's 400; no rabbitmq-c figure.
    assert "| 250 | 400 | n/a | 600 | 2.40x | 1.50x | n/a |" in large_line


def test_only_scenarios_with_peers_are_in_the_peers_table() -> None:
    runs = {"select_publish": {run.OURS: [result(1.0, 1.0)], run.PYPI: [result(1.0, 1.0)]}}
    assert run.peers_table(run.summarise(runs), "1.4.4") == ""


def test_rabbitmq_c_is_skipped_with_a_reason_without_a_compiler(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("CC", "no-such-compiler-here")
    assert run.build_rabbitmq_c() is None
    assert "rabbitmq-c skipped: no C compiler (no-such-compiler-here" in capsys.readouterr().out


def test_rabbitmq_c_is_skipped_with_a_reason_when_it_does_not_build(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    compiler = tmp_path / "cc"
    compiler.write_text("#!/bin/sh\necho 'fatal error: amqp.h: No such file' >&2\nexit 1\n")
    compiler.chmod(0o755)
    monkeypatch.setenv("CC", str(compiler))
    monkeypatch.setattr(run, "C_BINARY", tmp_path / "rabbitmq_c")
    assert run.build_rabbitmq_c() is None
    out = capsys.readouterr().out
    assert "librabbitmq-dev" in out and "amqp.h: No such file" in out
