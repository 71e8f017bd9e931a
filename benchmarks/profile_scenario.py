"""Profile one benchmark scenario's measured part with cProfile, per message.

    .venv/bin/python benchmarks/profile_scenario.py select_consume [--quick] [--top 25]

Runs the scenario of `scenarios.py` in this process with the profiler on
only while the scenario measures (connecting and filling queues are left
out), then lists the functions that cost the most, with their own time per
message. cProfile slows Python code down several times, evenly enough that
the ranking and the shares hold; the scenario's own figures printed first
are those of the profiled run, not a benchmark. Run it with the benchmark
virtualenv's interpreter to profile PyPI's pika the same way.
"""

from __future__ import annotations

import argparse
import cProfile
import json
import pstats
import sys

import scenarios


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("scenario", choices=sorted(scenarios.SCENARIOS))
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--top", type=int, default=25, help="functions to list (25)")
    args = parser.parse_args()
    function, full, quick = scenarios.SCENARIOS[args.scenario]
    profiler = cProfile.Profile()
    scenarios.PROFILER = profiler
    result = function(quick if args.quick else full)
    print(json.dumps(result))
    count = result["count"]
    stats = pstats.Stats(profiler)
    total = sum(entry[2] for entry in stats.stats.values())  # type: ignore[attr-defined]
    rows = sorted(stats.stats.items(), key=lambda item: item[1][2], reverse=True)  # type: ignore[attr-defined]
    print(
        f"\nprofiled: {total / count * 1e6:.1f} µs per message in all; top {args.top} by own time"
    )
    print(f"{'own µs/msg':>10} {'share':>6} {'cum µs/msg':>10} {'calls/msg':>9}  function")
    for (path, line, name), (_prim, calls, own, cumulative, _callers) in rows[: args.top]:
        where = f"{path.rsplit('/', 2)[-2:][-1]}:{line}" if line else path
        print(
            f"{own / count * 1e6:10.2f} {own / total:6.1%} {cumulative / count * 1e6:10.2f} "
            f"{calls / count:9.2f}  {name} ({where})"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
