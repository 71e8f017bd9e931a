"""Draw the benchmark chart from ``run.py``'s results (runs in the benchmark virtualenv).

    python chart.py results/latest.json results/chart.png

Left: how many times faster this project is than PyPI's pika (aio-pika for
the pika.aio scenarios), per scenario
(throughput ratio; for the RPC round trip, the ratio of the p50 latencies).
Right: the client CPU time per message of each library, on a log scale.
"""

from __future__ import annotations

import json
import sys
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt

OURS_COLOUR = "#2a7ab0"
PYPI_COLOUR = "#b0b0b0"


def draw(report: dict[str, Any], path: str) -> None:
    # Traced scenarios compare this project with itself: not in the chart.
    rows = [row for row in report["rows"] if row["speedup"] is not None and not row.get("baseline")]
    labels = [row["label"] for row in rows][::-1]
    speedups = [row["speedup"] for row in rows][::-1]
    figure, (left, right) = plt.subplots(
        1, 2, figsize=(13, 0.55 * len(rows) + 1.8), gridspec_kw={"width_ratios": [1.1, 1]}
    )
    positions = range(len(rows))
    left.barh(positions, speedups, color=OURS_COLOUR)
    left.axvline(1.0, color="black", linewidth=0.8)
    left.set_yticks(list(positions), labels, fontsize=8)
    # The pika.aio rows are measured against aio-pika, the others against PyPI pika.
    rivals = " or ".join(dict.fromkeys(row["rival"] for row in report["rows"] if row in rows))
    left.set_xlabel(f"times the row's rival, {rivals} (higher is better)")
    left.set_title(f"Speed relative to {rivals}", fontsize=10)
    for position, value in zip(positions, speedups):
        left.text(value, position, f" {value:.2f}x", va="center", fontsize=8)
    left.set_xlim(0, max(speedups) * 1.2)

    height = 0.38
    ours_cpu = [row["ours_cpu_us"] for row in rows][::-1]
    pypi_cpu = [row["pypi_cpu_us"] for row in rows][::-1]
    right.barh(
        [p + height / 2 for p in positions],
        pypi_cpu,
        height,
        color=PYPI_COLOUR,
        label=f"the row's rival ({rivals}; PyPI pika is {report['pypi_version']})",
    )
    right.barh(
        [p - height / 2 for p in positions],
        ours_cpu,
        height,
        color=OURS_COLOUR,
        label="this project",
    )
    right.set_xscale("log")
    right.set_yticks(list(positions), [""] * len(rows))
    right.set_xlabel("client CPU per message, µs (log scale, lower is better)")
    right.set_title("Client CPU per message", fontsize=10)
    right.legend(fontsize=8, loc="upper center", bbox_to_anchor=(0.5, -0.16), ncol=2, frameon=False)
    for position, value in zip(positions, ours_cpu):
        right.text(value, position - height / 2, f" {value:,.1f}", va="center", fontsize=7)
    for position, value in zip(positions, pypi_cpu):
        right.text(value, position + height / 2, f" {value:,.1f}", va="center", fontsize=7)
    figure.suptitle(
        f"{report['command']}: medians of {report['rounds']} interleaved round(s), "
        f"{report['started'][:10]}, "
        f"{report['machine_before']['cpus']} cores shared with the broker",
        fontsize=9,
    )
    figure.tight_layout()
    figure.savefig(path, dpi=110)


if __name__ == "__main__":
    with open(sys.argv[1]) as stream:
        draw(json.load(stream), sys.argv[2])
