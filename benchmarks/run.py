"""Benchmark this project against PyPI's pika, interleaved, and report medians.

    python benchmarks/run.py            # full run (about 6-9 minutes)
    python benchmarks/run.py --quick    # one short round (about a minute)
    make bench                          # the same as the full run

Run it with the project's interpreter (``.venv/bin/python``): that is the
interpreter measuring this project. PyPI's pika is installed by this command
into its own virtualenv, ``benchmarks/.venv-bench`` (ignored by git), with
matplotlib for the chart; both use the same Python.

Every scenario of `scenarios.py` runs in a fresh process per library and
round, alternating which library goes first (A/B, then B/A, ...), so that a
change in the machine's load hits both alike. The table shows the median of
the rounds, the ratio between the two libraries and the client CPU per
message (getrusage of the measuring process). The ``*_otel`` scenarios are
this project traced with ``pika.otel`` (into OpenTelemetry's SDK), compared
with the same scenario untraced, and the report says how much client CPU
tracing adds per message.

Beside the rivals of the main table, a second table puts this project
next to other clients: aio-pika's figures for the 1 MiB and RPC scenarios
(its drivers in `aio_scenarios.py`, run by the benchmark virtualenv in the
same rounds, beside PyPI pika's), and rabbitmq-c's for the blocking publish
and consume scenarios, with this project's client CPU per message as a
multiple of the C client's. rabbitmq-c's driver (`rabbitmq_c.c`) is
compiled at bench time when a C compiler (``$CC``, default ``cc``) and
librabbitmq's headers are present (Debian/Ubuntu: ``librabbitmq-dev``);
otherwise one line says why it is skipped. Results go to
``benchmarks/results/`` (ignored by git): ``latest.json``, a timestamped
copy, ``table.md`` and ``chart.png``; ``--save-chart`` also copies the
chart to ``benchmarks/chart.png``, the one the README shows.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, NamedTuple, Optional
from urllib.parse import urlsplit

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
RESULTS = HERE / "results"
BENCH_VENV = HERE / ".venv-bench"
SCENARIO_TIMEOUT = 300.0
DEFAULT_URL = "amqp://guest:guest@127.0.0.1:5672/"
PYPI_PIKA = "1.4.4"
AIO_PIKA = "10.2.1"

OURS = "ours"
PYPI = "pypi"
UNTRACED = "this project, untraced"
AIO = "aio-pika"
CLIB = "rabbitmq-c"
PEERS = (AIO, CLIB)
C_DRIVER = HERE / "rabbitmq_c.c"
C_BINARY = RESULTS / "rabbitmq_c"


class Scenario(NamedTuple):
    name: str
    label: str
    metric: str  # the key of the headline figure in the scenario's result
    higher_is_better: bool
    target: Optional[float]  # the target for this project, if any
    cpu_target_us: Optional[float]
    rival: str = "PyPI pika"  # what the benchmark virtualenv runs for it
    # When set, the rival is this project running that scenario instead (the
    # traced scenarios are compared with the same ones untraced).
    baseline: Optional[str] = None
    # Peers shown in the second table: the `aio_scenarios.py` scenario whose
    # run in the benchmark virtualenv is aio-pika's figure, and whether
    # rabbitmq-c's driver has this scenario.
    aio_pika: Optional[str] = None
    rabbitmq_c: bool = False


SCENARIOS = [
    Scenario(
        "blocking_publish",
        "BlockingConnection publish, no confirms",
        "msgs_per_s",
        True,
        45_000,
        10,
        rabbitmq_c=True,
    ),
    Scenario(
        "select_publish", "SelectConnection publish, no confirms", "msgs_per_s", True, 50_000, 8
    ),
    Scenario(
        "blocking_consume",
        "BlockingConnection consume, prefetch 1000, ack each",
        "msgs_per_s",
        True,
        28_000,
        12,
        rabbitmq_c=True,
    ),
    Scenario(
        "select_consume",
        "SelectConnection consume, prefetch 1000, ack each",
        "msgs_per_s",
        True,
        30_000,
        10,
    ),
    Scenario(
        "confirms",
        "Blocking publish, every confirm checked (ours: pipelined)",
        "msgs_per_s",
        True,
        20_000,
        None,
    ),
    Scenario(
        "select_confirms",
        "SelectConnection publish, confirm window 1000",
        "msgs_per_s",
        True,
        None,
        None,
    ),
    Scenario(
        "rpc",
        "RPC round trip over direct reply-to (p50)",
        "p50_us",
        False,
        450,
        None,
        aio_pika="aio_rpc",
    ),
    Scenario(
        "large",
        "1 MiB messages, publish and consume",
        "mb_per_s",
        True,
        600,
        None,
        aio_pika="aio_large",
    ),
    Scenario(
        "blocking_publish_otel",
        "BlockingConnection publish, traced with pika.otel",
        "msgs_per_s",
        True,
        None,
        None,
        UNTRACED,
        "blocking_publish",
    ),
    Scenario(
        "blocking_consume_otel",
        "BlockingConnection consume, ack each, traced with pika.otel",
        "msgs_per_s",
        True,
        None,
        None,
        UNTRACED,
        "blocking_consume",
    ),
    Scenario(
        "aio_publish", "pika.aio publish, no confirms", "msgs_per_s", True, None, None, "aio-pika"
    ),
    Scenario(
        "aio_consume",
        "pika.aio consume, prefetch 1000, ack each",
        "msgs_per_s",
        True,
        None,
        None,
        "aio-pika",
    ),
    Scenario(
        "aio_confirms",
        "pika.aio confirmed publishes, gather of 20,000",
        "msgs_per_s",
        True,
        20_000,
        None,
        "aio-pika",
    ),
    Scenario(
        "aio_rpc",
        "pika.aio RPC over direct reply-to (p50)",
        "p50_us",
        False,
        None,
        None,
        "aio-pika",
    ),
]

UNITS = {"msgs_per_s": "msgs/s", "p50_us": "µs", "mb_per_s": "MB/s"}


def bench_python() -> Path:
    return BENCH_VENV / "bin" / "python"


def ensure_bench_venv(pypi_version: str) -> None:
    """Create the benchmark virtualenv with PyPI's pika, aio-pika and
    matplotlib, once."""
    wanted = f"pika=={pypi_version} aio-pika=={AIO_PIKA} matplotlib"
    marker = BENCH_VENV / ".installed"
    if marker.exists() and marker.read_text() == wanted:
        return
    print(f"bench: installing {wanted} into {BENCH_VENV.relative_to(ROOT)}", flush=True)
    if BENCH_VENV.exists():
        shutil.rmtree(BENCH_VENV)
    subprocess.run([sys.executable, "-m", "venv", str(BENCH_VENV)], check=True)
    subprocess.run(
        [str(bench_python()), "-m", "pip", "install", "--quiet", *wanted.split()], check=True
    )
    marker.write_text(wanted)


def check_broker(url: str) -> None:
    parts = urlsplit(url)
    host, port = parts.hostname or "127.0.0.1", parts.port or 5672
    try:
        socket.create_connection((host, port), timeout=5).close()
    except OSError as exc:
        raise SystemExit(
            f"bench: no broker at {host}:{port} ({exc}); start RabbitMQ "
            "(python3 scripts/ensure_broker.py) or set BENCH_URL"
        ) from None


def build_rabbitmq_c() -> Optional[Path]:
    """Compile rabbitmq-c's driver; None (after saying why) when it cannot be."""
    compiler = os.environ.get("CC", "cc")
    if shutil.which(compiler) is None:
        print(f"bench: rabbitmq-c skipped: no C compiler ({compiler}; set CC)", flush=True)
        return None
    C_BINARY.parent.mkdir(exist_ok=True)
    command = [compiler, "-O2", "-o", str(C_BINARY), str(C_DRIVER), "-lrabbitmq"]
    built = subprocess.run(command, capture_output=True, check=False)
    if built.returncode != 0:
        errors = built.stderr.decode(errors="replace").strip().splitlines()
        print(
            "bench: rabbitmq-c skipped: its driver does not build here, librabbitmq's "
            "headers or library are missing (Debian/Ubuntu: apt-get install "
            f"librabbitmq-dev); {compiler} said: {errors[0] if errors else built.returncode}",
            flush=True,
        )
        return None
    return C_BINARY


def scenario_argument(name: str, quick: bool) -> str:
    """The argument `scenarios.py` gives scenario ``name`` (seconds or a count)."""
    from scenarios import SCENARIOS as DRIVERS

    _function, full, short = DRIVERS[name]
    return str(short if quick else full)


def run_scenario(library: str, name: str, quick: bool, url: str) -> dict[str, Any]:
    """One scenario in a fresh process; a failure is retried once (the broker
    is shared: another program may have closed our connection)."""
    result = run_once(library, name, quick, url)
    if "error" in result:
        retry = run_once(library, name, quick, url)
        retry["retried_after"] = result["error"]
        result = retry
    return result


def run_once(library: str, name: str, quick: bool, url: str) -> dict[str, Any]:
    """One scenario in a fresh process of ``library``'s interpreter."""
    env = dict(os.environ, BENCH_URL=url)
    command = [str(HERE / "scenarios.py"), name, *(["--quick"] if quick else [])]
    if library == CLIB:
        command = [str(C_BINARY), url, name, scenario_argument(name, quick)]
    elif library == OURS:
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
        command.insert(0, sys.executable)
    else:
        env.pop("PYTHONPATH", None)
        command.insert(0, str(bench_python()))
    try:
        done = subprocess.run(
            command, capture_output=True, env=env, timeout=SCENARIO_TIMEOUT, check=False
        )
    except subprocess.TimeoutExpired:
        return {"error": f"timed out after {SCENARIO_TIMEOUT:g} s"}
    lines = done.stdout.decode().strip().splitlines()
    if done.returncode != 0 or not lines:
        tail = done.stderr.decode().strip().splitlines()[-1:] or [f"exit {done.returncode}"]
        return {"error": tail[0]}
    result: dict[str, Any] = json.loads(lines[-1])
    return result


def describe(result: dict[str, Any], metric: str) -> str:
    if "error" in result:
        return f"error: {result['error']}"
    return f"{result[metric]:,.0f} {UNITS[metric]}, {result['cpu_us_per_msg']:,.1f} µs CPU/msg"


def median_of(runs: list[dict[str, Any]], key: str) -> Optional[float]:
    values = [run[key] for run in runs if "error" not in run and key in run]
    return statistics.median(values) if values else None


def summarise(runs: dict[str, dict[str, list[dict[str, Any]]]]) -> list[dict[str, Any]]:
    rows = []
    for scenario in SCENARIOS:
        name, metric, higher = scenario.name, scenario.metric, scenario.higher_is_better
        if name not in runs:
            continue
        row: dict[str, Any] = dict(scenario._asdict(), unit=UNITS[metric])
        for library in (PYPI, OURS):
            library_runs = runs[name][library]
            row[library] = median_of(library_runs, metric)
            row[f"{library}_cpu_us"] = median_of(library_runs, "cpu_us_per_msg")
            row[f"{library}_runs"] = len([r for r in library_runs if "error" not in r])
            errors = [r["error"] for r in library_runs if "error" in r]
            row[f"{library}_errors"] = errors
        if row[OURS] and row[PYPI]:
            ratio = row[OURS] / row[PYPI] if higher else row[PYPI] / row[OURS]
            row["speedup"] = ratio
        else:
            row["speedup"] = None
        modes = {r.get("mode") for r in runs[name][PYPI] + runs[name][OURS] if r.get("mode")}
        row["modes"] = sorted(modes)
        for peer in PEERS:
            peer_runs = runs[name].get(peer, [])
            row[peer] = median_of(peer_runs, metric)
            row[f"{peer}_cpu_us"] = median_of(peer_runs, "cpu_us_per_msg")
            row[f"{peer}_errors"] = [r["error"] for r in peer_runs if "error" in r]
        rows.append(row)
    return rows


def _number(value: Optional[float], unit: str) -> str:
    if value is None:
        return "n/a"
    if unit == "µs":
        return f"{value:,.0f} µs"
    return f"{value:,.0f}"


def _cpu(value: Optional[float]) -> str:
    if value is None:
        return "n/a"
    return f"{value / 1000:,.2f} ms" if value >= 1000 else f"{value:,.1f} µs"


def _target(row: dict[str, Any]) -> str:
    parts = []
    target, cpu_target = row["target"], row["cpu_target_us"]
    ours, ours_cpu = row[OURS], row[f"{OURS}_cpu_us"]
    if target is not None:
        sign = "≥" if row["higher_is_better"] else "≤"
        met = ours is not None and (ours >= target if row["higher_is_better"] else ours <= target)
        parts.append(f"{sign} {target:,} {'✓' if met else '✗'}")
    if cpu_target is not None:
        met = ours_cpu is not None and ours_cpu <= cpu_target
        parts.append(f"≤ {cpu_target} µs {'✓' if met else '✗'}")
    return ", ".join(parts) or "-"


def markdown_table(rows: list[dict[str, Any]], pypi_version: str) -> str:
    lines = [
        "| scenario | unit | compared with | theirs | this project | ratio "
        "| client CPU/msg, theirs | client CPU/msg, this project | target (this project) |",
        "|---|---|---|---:|---:|---:|---:|---:|---|",
    ]
    versions = {
        "PyPI pika": f"PyPI pika {pypi_version}",
        "aio-pika": f"aio-pika {AIO_PIKA}",
        UNTRACED: UNTRACED,
    }
    for row in rows:
        ratio = f"{row['speedup']:.2f}x" if row["speedup"] else "n/a"
        lines.append(
            f"| {row['label']} | {row['unit']} | {versions[row['rival']]} "
            f"| {_number(row[PYPI], row['unit'])} "
            f"| {_number(row[OURS], row['unit'])} | {ratio} | {_cpu(row[f'{PYPI}_cpu_us'])} "
            f"| {_cpu(row[f'{OURS}_cpu_us'])} | {_target(row)} |"
        )
    return "\n".join(lines)


def _times(ours: Optional[float], theirs: Optional[float], higher: bool) -> str:
    """How many times better (above 1) or worse this project's figure is."""
    if not ours or not theirs:
        return "n/a"
    return f"{ours / theirs if higher else theirs / ours:.2f}x"


def peers_table(rows: list[dict[str, Any]], pypi_version: str) -> str:
    """This project beside PyPI pika, aio-pika and rabbitmq-c where they ran."""
    rows = [row for row in rows if row["aio_pika"] or row["rabbitmq_c"]]
    if not rows:
        return ""
    lines = [
        f"| scenario | unit | PyPI pika {pypi_version} | aio-pika {AIO_PIKA} | rabbitmq-c "
        "| this project | vs pika | vs aio-pika | vs rabbitmq-c | client CPU/msg, "
        "this project | client CPU/msg, rabbitmq-c | CPU/msg, this project / rabbitmq-c |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for row in rows:
        unit, higher, ours = row["unit"], row["higher_is_better"], row[OURS]
        ours_cpu, c_cpu = row[f"{OURS}_cpu_us"], row[f"{CLIB}_cpu_us"]
        cpu_ratio = f"{ours_cpu / c_cpu:.2f}" if ours_cpu and c_cpu else "n/a"
        lines.append(
            f"| {row['label']} | {unit} | {_number(row[PYPI], unit)} "
            f"| {_number(row[AIO], unit)} | {_number(row[CLIB], unit)} "
            f"| {_number(ours, unit)} | {_times(ours, row[PYPI], higher)} "
            f"| {_times(ours, row[AIO], higher)} | {_times(ours, row[CLIB], higher)} "
            f"| {_cpu(ours_cpu)} | {_cpu(c_cpu)} | {cpu_ratio} |"
        )
    return "\n".join(lines)


def machine() -> dict[str, Any]:
    return {
        "python": platform.python_version(),
        "platform": platform.platform(),
        "cpus": os.cpu_count(),
        "load_average": os.getloadavg() if hasattr(os, "getloadavg") else None,
    }


def main(argv: Optional[list[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="one short round")
    parser.add_argument("--rounds", type=int, default=None, help="rounds (default 3, quick 1)")
    parser.add_argument(
        "--scenario",
        action="append",
        choices=[scenario.name for scenario in SCENARIOS],
        help="run only this scenario (repeatable)",
    )
    parser.add_argument("--pypi-version", default=PYPI_PIKA, help=f"default {PYPI_PIKA}")
    parser.add_argument(
        "--save-chart", action="store_true", help="also copy the chart to benchmarks/chart.png"
    )
    args = parser.parse_args(argv)
    url = os.environ.get("BENCH_URL", DEFAULT_URL)
    rounds = args.rounds or (1 if args.quick else 3)
    names = args.scenario or [scenario.name for scenario in SCENARIOS]
    metrics = {scenario.name: scenario.metric for scenario in SCENARIOS}
    baselines = {scenario.name: scenario.baseline for scenario in SCENARIOS}
    by_name = {scenario.name: scenario for scenario in SCENARIOS}

    check_broker(url)
    if any(baselines[name] is None for name in names):
        ensure_bench_venv(args.pypi_version)
    c_binary = build_rabbitmq_c() if any(by_name[name].rabbitmq_c for name in names) else None
    started = time.time()
    before = machine()
    runs: dict[str, dict[str, list[dict[str, Any]]]] = {
        name: {OURS: [], PYPI: [], AIO: [], CLIB: []} for name in names
    }
    for round_number in range(rounds):
        order = (OURS, PYPI) if round_number % 2 == 0 else (PYPI, OURS)
        for name in names:
            for library in order:
                baseline = baselines[name] if library == PYPI else None
                if baseline is not None:
                    result = run_scenario(OURS, baseline, args.quick, url)
                else:
                    result = run_scenario(library, name, args.quick, url)
                result["round"] = round_number
                runs[name][library].append(result)
                shown = "untraced" if baseline is not None else library
                print(
                    f"round {round_number + 1}/{rounds}  {name:<17} {shown:<5} "
                    f"{describe(result, metrics[name])}",
                    flush=True,
                )
            peers = []
            if by_name[name].aio_pika:
                peers.append((AIO, PYPI, by_name[name].aio_pika))
            if by_name[name].rabbitmq_c and c_binary is not None:
                peers.append((CLIB, CLIB, name))
            for peer, runner, driver in peers:
                result = run_scenario(runner, driver, args.quick, url)
                result["round"] = round_number
                runs[name][peer].append(result)
                print(
                    f"round {round_number + 1}/{rounds}  {name:<17} {peer:<5} "
                    f"{describe(result, metrics[name])}",
                    flush=True,
                )
    rows = summarise(runs)
    table = markdown_table(rows, args.pypi_version)
    peers = peers_table(rows, args.pypi_version)
    command = "python benchmarks/run.py" + (" --quick" if args.quick else "")
    report = {
        "command": command,
        "started": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(started)),
        "seconds": round(time.time() - started, 1),
        "rounds": rounds,
        "quick": args.quick,
        "pypi_version": args.pypi_version,
        "machine_before": before,
        "machine_after": machine(),
        "rows": rows,
        "runs": runs,
    }
    RESULTS.mkdir(exist_ok=True)
    stamp = time.strftime("%Y%m%d-%H%M%S", time.gmtime(started))
    for path in (RESULTS / "latest.json", RESULTS / f"bench-{stamp}.json"):
        path.write_text(json.dumps(report, indent=2))
    (RESULTS / "table.md").write_text(table + "\n" + (f"\n{peers}\n" if peers else ""))
    print()
    print(table)
    if peers:
        print()
        print(peers)
    for row in rows:
        if row["baseline"] and row[f"{OURS}_cpu_us"] and row[f"{PYPI}_cpu_us"]:
            added = row[f"{OURS}_cpu_us"] - row[f"{PYPI}_cpu_us"]
            print(f"{row['label']}: tracing adds {added:,.1f} µs of client CPU per message")
    print(
        f"\nmedians of {rounds} interleaved round(s); load average before "
        f"{before['load_average']}, after {report['machine_after']['load_average']}; "
        f"{report['seconds']:.0f} s"
    )
    chart = RESULTS / "chart.png"
    if not bench_python().exists():
        return 0
    drawn = subprocess.run(
        [str(bench_python()), str(HERE / "chart.py"), str(RESULTS / "latest.json"), str(chart)],
        check=False,
    )
    if drawn.returncode == 0:
        print(f"results: {RESULTS / 'latest.json'}, chart: {chart}")
        if args.save_chart:
            shutil.copyfile(chart, HERE / "chart.png")
            print(f"chart copied to {HERE / 'chart.png'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
