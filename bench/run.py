"""Run every benchmark scenario against Postier and, in the same run, against Postfix + Dovecot.

    python bench/run.py                 # the full suite (about 15-25 minutes on 2 cores)
    python bench/run.py --quick         # small sizes, a few minutes
    python bench/run.py --only smtp_ingest,pop3_download
    python bench/run.py --only idle --idle-sessions 1000,5000 --idle-shared 500

Needs root on Debian the first time: the reference servers are installed with apt
(``bench/reference/install.sh``). Both servers get the same load from the same generator
(``bench/clients.py``, asyncio on uvloop), one after the other, scenario by scenario. Prints a
table (Postier, reference, ratio Postier / reference, goal from issue 10) and writes
``bench/results/latest.json`` and ``latest.md``. A scenario that fails on one server is
recorded as "not available" with the reason, and the run goes on.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import shutil
import sys
import time
import traceback
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import (
    Target,
    raise_fd_limit,
    start_postier,
    start_reference_target,
    write_results,
)
from bench.load import wait_for_quiet
from bench.scenarios import (
    idle,
    imap_bulk_body,
    imap_first_sync,
    imap_mixed,
    imap_search_text,
    pop3_download,
    smtp_ingest,
)

RESULTS = Path(__file__).resolve().parent / "results"
USERS = 60  # bench1..bench60: each scenario has accounts of its own (see its USER/USERS)


@dataclass
class Sizes:
    smtp_clients: int
    smtp_per_client: int
    sync_messages: int
    bulk_messages: int
    search_messages: int
    pop3_messages: int
    idle_sessions: tuple[int, ...]  # sessions each on its own mailbox, one case per count
    idle_shared: int                # sessions on one shared mailbox (0: not measured)
    idle_deliveries: int
    mixed_seconds: float


FULL = Sizes(20, 200, 10_000, 1000, 100_000, 1000, (1000, 5000), 500, 200, 15.0)
QUICK = Sizes(20, 25, 2000, 300, 10_000, 300, (200,), 100, 20, 5.0)

Scenario = Callable[[Target, Sizes], Awaitable[dict[str, object]]]


async def _mixed(target: Target, sizes: Sizes) -> dict[str, object]:
    return {str(clients): await imap_mixed.run(target, clients, sizes.mixed_seconds)
            for clients in (10, 50)}


SCENARIOS: dict[str, Scenario] = {
    "smtp_ingest": lambda t, s: smtp_ingest.run(t, s.smtp_clients, s.smtp_per_client),
    "imap_first_sync": lambda t, s: imap_first_sync.run(t, s.sync_messages),
    "imap_bulk_body": lambda t, s: imap_bulk_body.run(t, s.bulk_messages),
    "imap_search_text": lambda t, s: imap_search_text.run(t, s.search_messages),
    "pop3_download": lambda t, s: pop3_download.run(t, s.pop3_messages),
    "idle": lambda t, s: idle.run(t, s.idle_sessions, s.idle_shared, s.idle_deliveries),
    "imap_mixed": _mixed,
}


@dataclass(frozen=True)
class Row:
    scenario: str
    label: str                  # {placeholders} filled from the Postier or reference result
    key: str                    # dotted path in the scenario's result
    unit: str
    higher_is_better: bool
    goal: str = "—"
    goal_ratio: float | None = None     # met when ratio >= (higher) or <= (lower) this
    goal_absolute: float | None = None  # met when Postier's value is below this


ROWS = [
    Row("smtp_ingest", "SMTP ingest, {clients} clients × 4 KB, acknowledged (250)",
        "acknowledged_per_s", "msg/s", True, "≥ 2×", 2.0),
    Row("smtp_ingest", "SMTP ingest, {clients} clients × 4 KB, stored in the mailbox",
        "stored_per_s", "msg/s", True, "≥ 2×", 2.0),
    Row("smtp_ingest", "SMTP ingest: server CPU per message", "server_cpu_ms_per_message",
        "ms", False),
    Row("imap_first_sync", "IMAP first sync, {messages} envelopes (median of 3)", "seconds",
        "s", False, "≤ 1×", 1.0),
    Row("imap_first_sync", "IMAP first sync, first fetch after APPEND", "cold_seconds", "s",
        False, "≤ 1×", 1.0),
    Row("imap_bulk_body", "IMAP BODY.PEEK[] of {messages} × 10 KB", "mb_per_s", "MB/s", True),
    Row("imap_search_text", "IMAP SEARCH TEXT in {messages} messages (rare word)", "seconds",
        "s", False, "< 1 s", goal_absolute=1.0),
    Row("imap_search_text", "IMAP SEARCH TEXT in {messages} messages (common word)",
        "common.median", "s", False, "< 1 s", goal_absolute=1.0),
    Row("pop3_download", "POP3 UIDL + RETR of {messages} × 10 KB", "messages_per_s", "msg/s",
        True, "≥ 1×", 1.0),
    Row("pop3_download", "POP3 download throughput", "mb_per_s", "MB/s", True, "≥ 1×", 1.0),
    Row("imap_mixed", "IMAP mixed load, 10 clients", "10.operations_per_s", "ops/s", True,
        "≥ 1×", 1.0),
    Row("imap_mixed", "IMAP mixed load, 10 clients: state errors", "10.state_errors", "", False,
        "0", goal_absolute=0.5),
    Row("imap_mixed", "IMAP mixed load, 50 clients", "50.operations_per_s", "ops/s", True,
        "≥ 1×", 1.0),
    Row("imap_mixed", "IMAP mixed load, 50 clients: state errors", "50.state_errors", "", False,
        "0", goal_absolute=0.5),
]


def _idle_rows(results: dict[str, dict[str, object]]) -> list[Row]:
    """The IDLE rows, one group per case measured (``own_1000``, ``shared_500``, ...)."""
    both = results.get("idle", {})
    names: dict[str, None] = {}
    for result in both.values():
        if isinstance(result, dict):
            names.update((k, None) for k, v in result.items() if isinstance(v, dict))
    rows = []
    for name in names:
        kind, _, count = name.partition("_")
        where = ("each on its own mailbox" if kind == "own" else "on one shared mailbox")
        label = f"IDLE, {int(count):,} sessions {where}"
        rows += [
            Row("idle", f"{label}: memory per connection (PSS)", f"{name}.pss_kb_per_connection",
                "KB", False, "< 55 KB", goal_absolute=55.0),
            Row("idle", f"{label}: wake-up after SMTP delivery, p50", f"{name}.smtp_p50_ms",
                "ms", False),
            Row("idle", f"{label}: wake-up after SMTP delivery, p99", f"{name}.smtp_p99_ms",
                "ms", False, "< 50 ms", goal_absolute=50.0),
            Row("idle", f"{label}: wake-up after STORE in another session, p50",
                f"{name}.store_p50_ms", "ms", False),
            Row("idle", f"{label}: wake-up after STORE in another session, p99",
                f"{name}.store_p99_ms", "ms", False, "< 50 ms", goal_absolute=50.0),
        ]
    return rows


def _lookup(result: object, key: str) -> float | None:
    for part in key.split("."):
        if not isinstance(result, dict) or part not in result:
            return None
        result = result[part]
    return float(result) if isinstance(result, int | float) else None


def _number(value: float | None) -> str:
    if value is None:
        return "n/a"
    if value == 0 or abs(value) >= 100:
        return f"{value:,.0f}"
    if abs(value) >= 10:
        return f"{value:.1f}"
    return f"{value:.3g}"


def build_table(results: dict[str, dict[str, object]]) -> list[dict[str, object]]:
    table = []
    rows = [r for r in ROWS if r.scenario != "imap_mixed"] + _idle_rows(results) + [
        r for r in ROWS if r.scenario == "imap_mixed"]
    for row in rows:
        if row.scenario not in results:
            continue
        both = results[row.scenario]
        postier, reference = both.get("postier"), both.get("reference")
        value_p, value_r = _lookup(postier, row.key), _lookup(reference, row.key)
        source = next((r for r in (postier, reference) if isinstance(r, dict)
                       and "error" not in r), {})
        label = row.label
        for name in ("clients", "messages", "sessions"):
            found = source.get(name) if isinstance(source, dict) else None
            label = label.replace("{" + name + "}",
                                  f"{found:,}" if isinstance(found, int) else "N")
        ratio = (value_p / value_r if value_p is not None and value_r
                 else None)
        met: bool | None = None
        if row.goal_ratio is not None and ratio is not None:
            met = ratio >= row.goal_ratio if row.higher_is_better else ratio <= row.goal_ratio
        elif row.goal_absolute is not None and value_p is not None:
            met = value_p < row.goal_absolute
        table.append({
            "scenario": row.scenario, "measure": label, "unit": row.unit,
            "postier": value_p, "reference": value_r,
            "postier_error": _error(postier), "reference_error": _error(reference),
            "ratio": round(ratio, 3) if ratio is not None else None,
            "higher_is_better": row.higher_is_better, "goal": row.goal, "met": met,
        })
    return table


def _error(result: object) -> str | None:
    return result.get("error") if isinstance(result, dict) else None  # type: ignore[return-value]


def render_markdown(table: list[dict[str, object]]) -> str:
    lines = ["| Measure | Postier | Postfix + Dovecot | Postier / reference | Goal | Met |",
             "|---|---:|---:|---:|---|---|"]
    for row in table:
        unit = f" {row['unit']}" if row["unit"] else ""
        cells = []
        for side in ("postier", "reference"):
            value = row[side]
            cells.append("not available" if value is None else _number(value) + unit)  # type: ignore[arg-type]
        ratio = row["ratio"]
        ratio_text = "—" if ratio is None else f"{ratio:.2f}×"
        met = {True: "yes", False: "**no**", None: ""}[row["met"]]  # type: ignore[index]
        lines.append(f"| {row['measure']} | {cells[0]} | {cells[1]} | {ratio_text} | "
                     f"{row['goal']} | {met} |")
    return "\n".join(lines)


def _shares(result: object, key: str) -> list[float]:
    """Every ``key`` value anywhere in a result (nested results included)."""
    if not isinstance(result, dict):
        return []
    found = [float(result[key])] if isinstance(result.get(key), int | float) else []
    for value in result.values():
        found += _shares(value, key)
    return found


def load_check(results: dict[str, dict[str, object]]) -> list[dict[str, object]]:
    """Per scenario and server: the most CPU the load generator used (share of one core) and
    what other processes on the machine used meanwhile, while the clock ran."""
    rows = []
    for scenario, both in results.items():
        for server, result in both.items():
            client, other = _shares(result, "client_cpu_share"), _shares(result, "other_cpu_share")
            if client or other:
                rows.append({"scenario": scenario, "server": server,
                             "client_cpu_share": max(client, default=None),
                             "other_cpu_share": max(other, default=None)})
    return rows


def render_load_check(rows: list[dict[str, object]]) -> str:
    lines = ["| Scenario | Server | Load generator CPU (cores) | Other processes' CPU (cores) |",
             "|---|---|---:|---:|"]
    for row in rows:
        lines.append(f"| {row['scenario']} | {row['server']} | {row['client_cpu_share']} | "
                     f"{row['other_cpu_share']} |")
    return "\n".join(lines)


def render_text(table: list[dict[str, object]]) -> str:
    header = ("measure", "postier", "reference", "ratio", "goal", "met")
    rows = [header]
    for row in table:
        unit = f" {row['unit']}" if row["unit"] else ""
        values = ["n/a" if row[s] is None else _number(row[s]) + unit  # type: ignore[arg-type]
                  for s in ("postier", "reference")]
        ratio = "-" if row["ratio"] is None else f"{row['ratio']:.2f}x"
        met = {True: "yes", False: "NO", None: ""}[row["met"]]  # type: ignore[index]
        rows.append((str(row["measure"]), *values, ratio, str(row["goal"]), met))
    widths = [max(len(r[i]) for r in rows) for i in range(len(header))]
    return "\n".join("  ".join(cell.ljust(widths[i]) for i, cell in enumerate(r)).rstrip()
                     for r in rows)


# Scenarios short enough to repeat: each server runs them ``--repeat`` times, alternating
# which goes first, and the run with the median headline is kept (the others' headlines are
# listed under "repeats"). This damps other jobs on a shared machine.
REPEATED = {"smtp_ingest": ("acknowledged_per_s", "stored_per_s"),
            "imap_mixed": ("operations_per_s",)}


def _median_run(runs: list[dict[str, object]], keys: tuple[str, ...]) -> dict[str, object]:
    good = [r for r in runs if isinstance(r.get(keys[0]), int | float)]
    if not good:
        return runs[-1]
    ordered = sorted(good, key=lambda r: float(r[keys[0]]))  # type: ignore[arg-type]
    chosen = dict(ordered[(len(ordered) - 1) // 2])
    chosen["repeats"] = {key: [r.get(key) for r in good] for key in keys}
    return chosen


def combine_runs(name: str, runs: list[dict[str, object]]) -> dict[str, object]:
    if len(runs) == 1 or name not in REPEATED:
        return runs[-1]
    keys = REPEATED[name]
    wall = round(sum(float(r.get("wall_seconds", 0)) for r in runs), 1)  # type: ignore[arg-type]
    if name == "imap_mixed":  # one result per client count
        parts = sorted({k for r in runs for k, v in r.items() if isinstance(v, dict)})
        combined: dict[str, object] = {
            part: _median_run([r[part] for r in runs if isinstance(r.get(part), dict)],  # type: ignore[misc]
                              keys) for part in parts}
        if not parts:
            combined = dict(runs[-1])
        combined["wall_seconds"] = wall
        return combined
    result = _median_run(runs, keys)
    result["wall_seconds"] = wall
    return result


async def run_scenarios(names: list[str], targets: list[Target], sizes: Sizes, repeat: int,
                        quiet_wait: float, log: Callable[[str], None]
                        ) -> dict[str, dict[str, object]]:
    results: dict[str, dict[str, object]] = {}
    for name in names:
        runs: dict[str, list[dict[str, object]]] = {t.name: [] for t in targets}
        rounds = repeat if name in REPEATED else 1
        for round_number in range(rounds):
            order = targets if round_number % 2 == 0 else targets[::-1]
            for target in order:
                suffix = f" (round {round_number + 1} of {rounds})" if rounds > 1 else ""
                busy = await asyncio.to_thread(wait_for_quiet, quiet_wait)
                log(f"{name}: {target.name}{suffix} (machine busy before: {busy} cores) ...")
                started = time.perf_counter()
                try:
                    result = await SCENARIOS[name](target, sizes)
                except Exception as exc:  # a scenario that fails on one server is recorded
                    result = {"error": f"not available: {exc}"[:500],
                              "traceback": traceback.format_exc()[-2000:]}
                result["wall_seconds"] = round(time.perf_counter() - started, 1)
                result["machine_busy_before"] = busy
                runs[target.name].append(result)
                log(f"{name}: {target.name} done in {result['wall_seconds']} s"
                    + (f" ({result['error']})" if "error" in result else ""))
        results[name] = {server: combine_runs(name, server_runs)
                         for server, server_runs in runs.items()}
    return results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="small sizes (a few minutes)")
    parser.add_argument("--only", default="", help="comma-separated scenarios: "
                        + ", ".join(SCENARIOS))
    parser.add_argument("--workdir", type=Path, default=Path("/tmp/postier-bench"),
                        help="where both servers keep their data (emptied first)")
    parser.add_argument("--keep", action="store_true", help="keep the work directory")
    parser.add_argument("--no-reference", action="store_true", help="measure Postier only")
    parser.add_argument("--idle-sessions", help="IDLE sessions each on its own mailbox, one case "
                        "per comma-separated count (default 1000,5000; empty: none)")
    parser.add_argument("--idle-shared", type=int,
                        help="IDLE sessions on one shared mailbox (default 500; 0: none)")
    parser.add_argument("--search-messages", type=int,
                        help="messages for SEARCH TEXT (default 100,000)")
    parser.add_argument("--smtp-clients", type=int, help="SMTP clients (default 20)")
    parser.add_argument("--repeat", type=int, default=3,
                        help="rounds of the short scenarios (smtp_ingest, imap_mixed); the "
                        "median is kept (default 3, 1 with --quick)")
    parser.add_argument("--quiet-wait", type=float, default=120.0,
                        help="seconds to wait, before each measurement, for other jobs on the "
                        "machine to calm down (under 0.3 cores busy); 0 to not wait")
    parser.add_argument("--update", action="store_true",
                        help="replace only the scenarios run now in an existing --output file")
    parser.add_argument("--output", type=Path, default=RESULTS / "latest.json")
    args = parser.parse_args(argv)
    names = [n.strip() for n in args.only.split(",") if n.strip()] or list(SCENARIOS)
    unknown = [n for n in names if n not in SCENARIOS]
    if unknown:
        parser.error(f"unknown scenario(s) {', '.join(unknown)}; choose from "
                     + ", ".join(SCENARIOS))
    sizes = QUICK if args.quick else FULL
    if args.quick and "--repeat" not in (sys.argv if argv is None else argv):
        args.repeat = 1
    sizes = Sizes(**{**sizes.__dict__, **{k: v for k, v in {
        "idle_sessions": None if args.idle_sessions is None else tuple(
            int(n) for n in args.idle_sessions.split(",") if n.strip()),
        "idle_shared": args.idle_shared, "search_messages": args.search_messages,
        "smtp_clients": args.smtp_clients}.items() if v is not None}})
    raise_fd_limit()

    def log(text: str) -> None:
        print(f"[{time.strftime('%H:%M:%S')}] {text}", flush=True)

    workdir = args.workdir.resolve()
    targets: list[Target] = []
    try:
        log("starting Postier")
        targets.append(start_postier(workdir / "postier", USERS))
        if not args.no_reference:
            log("starting Postfix + Dovecot")
            targets.append(start_reference_target(workdir / "reference", USERS)[0])
        try:
            import uvloop

            runner: Callable[..., object] = uvloop.run
        except ImportError:
            runner = asyncio.run
        results = runner(run_scenarios(names, targets, sizes, args.repeat, args.quiet_wait,
                                       log))
        assert isinstance(results, dict)
    finally:
        for target in targets:
            target.stop()
        if not args.keep:
            shutil.rmtree(workdir, ignore_errors=True)
    if args.update and args.output.exists():
        # Keep the other scenarios of the earlier run; note which were measured again.
        earlier = json.loads(args.output.read_text())
        updated = {**earlier.get("updated", {}),
                   **{name: time.strftime("%Y-%m-%d %H:%M") for name in results}}
        results = {**earlier.get("scenarios", {}), **results}
    else:
        updated = {}
    table = build_table(results)
    checks = load_check(results)
    write_results(args.output, {
        "command": " ".join(sys.argv if argv is None else ["bench/run.py", *argv]),
        "quick": args.quick, "sizes": sizes.__dict__,
        "servers": {t.name: t.notes for t in targets}, "scenarios": results, "table": table,
        "load_check": checks, **({"updated": updated} if updated else {})})
    args.output.with_suffix(".md").write_text(render_markdown(table) + "\n\n"
                                              + render_load_check(checks) + "\n")
    print()
    print(render_text(table))
    print()
    print(render_load_check(checks))
    print(f"\nwritten: {args.output} and {args.output.with_suffix('.md')}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
