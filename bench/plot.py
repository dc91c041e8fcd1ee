"""SMTP ingest throughput against concurrency (1, 5, 10, 20, 50 clients) for Postier and for
Postfix + Dovecot, measured in one run, drawn with matplotlib.

    python bench/plot.py                     # measure, then draw bench/results/smtp_concurrency.png
    python bench/plot.py --from FILE.json    # draw from an earlier measurement

Each point sends the same total number of 4 KB messages (``--messages``, default 2,000),
spread over the clients. Two lines per server: acknowledged (250 after DATA) and stored in the
recipient's mailbox (for the reference, after LMTP delivery into Dovecot).
Needs matplotlib (``pip install -r bench/requirements.txt``).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import shutil
import sys
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import (
    raise_fd_limit,
    start_postier,
    start_reference_target,
    write_results,
)
from bench.load import wait_for_quiet
from bench.scenarios import smtp_ingest

RESULTS = Path(__file__).resolve().parent / "results"
CONCURRENCY = [1, 5, 10, 20, 50]


def measure(total: int, workdir: Path, concurrency: list[int],
            quiet_wait: float) -> dict[str, object]:
    """Both servers at each concurrency in turn (interleaved, so a busy spell on a shared
    machine hits both), after waiting for the machine to be quiet."""
    raise_fd_limit()
    users = len(smtp_ingest.USERS)
    targets = []
    try:
        targets.append(start_postier(workdir / "postier", users))
        targets.append(start_reference_target(workdir / "reference", users)[0])
        series: dict[str, list[dict[str, object]]] = {t.name: [] for t in targets}

        async def sweep() -> None:
            for target in targets:
                await smtp_ingest.ingest(target, 2, 10)  # warm-up
            for clients in concurrency:
                for target in targets:
                    busy = await asyncio.to_thread(wait_for_quiet, quiet_wait)
                    point = await smtp_ingest.ingest(target, clients, max(1, total // clients))
                    point["machine_busy_before"] = busy
                    series[target.name].append(point)
                    print(f"{target.name}: {clients} clients: "
                          f"{point['acknowledged_per_s']} acknowledged/s, "
                          f"{point['stored_per_s']} stored/s", flush=True)

        asyncio.run(sweep())
    finally:
        for target in targets:
            target.stop()
        shutil.rmtree(workdir, ignore_errors=True)
    return {"total_messages": total, "concurrency": concurrency, "series": series}


def draw(data: dict[str, object], output: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    series = data["series"]
    assert isinstance(series, dict)
    figure, axes = plt.subplots(figsize=(8, 5))
    styles = {"postier": ("Postier", "tab:blue"), "reference": ("Postfix + Dovecot", "tab:orange")}
    for name, points in series.items():
        label, colour = styles.get(name, (name, None))
        clients = [p["clients"] for p in points]
        stored = [p["stored_per_s"] for p in points]
        acknowledged = [p["acknowledged_per_s"] for p in points]
        if stored == acknowledged:  # 250 only once stored: one line says both
            axes.plot(clients, stored, marker="o", color=colour,
                      label=f"{label}: acknowledged = stored in the mailbox")
            continue
        axes.plot(clients, stored, marker="o", color=colour,
                  label=f"{label}: stored in the mailbox")
        axes.plot(clients, acknowledged, marker="s", linestyle="--", color=colour, alpha=0.6,
                  label=f"{label}: acknowledged (250)")
    axes.set_xscale("log")
    axes.set_xticks(data["concurrency"])  # type: ignore[arg-type]
    axes.get_xaxis().set_major_formatter(matplotlib.ticker.ScalarFormatter())
    axes.set_xlabel("concurrent SMTP clients")
    axes.set_ylabel("4 KB messages per second (durable)")
    date = str(data.get("date", ""))[:10]
    axes.set_title(f"SMTP ingest against concurrency ({data.get('total_messages')} messages "
                   f"per point{', ' + date if date else ''})")
    axes.set_ylim(bottom=0)
    axes.grid(True, alpha=0.3)
    axes.legend(fontsize=8)
    figure.tight_layout()
    output.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(output, dpi=110)
    print(f"written: {output}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--from", dest="source", type=Path, help="draw from this JSON file")
    parser.add_argument("--messages", type=int, default=2000, help="messages per point")
    parser.add_argument("--workdir", type=Path, default=Path("/tmp/postier-bench-plot"))
    parser.add_argument("--output", type=Path, default=RESULTS / "smtp_concurrency.png")
    parser.add_argument("--quiet-wait", type=float, default=120.0,
                        help="seconds to wait for other jobs to calm down before each point")
    args = parser.parse_args()
    if args.source:
        data = json.loads(args.source.read_text())
    else:
        data = measure(args.messages, args.workdir.resolve(), CONCURRENCY, args.quiet_wait)
        json_path = args.output.with_suffix(".json")
        write_results(json_path, data)
        data = json.loads(json_path.read_text())
    draw(data, args.output)
    return 0


if __name__ == "__main__":
    sys.exit(main())
