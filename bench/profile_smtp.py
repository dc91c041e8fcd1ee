"""Profile Postier's SMTP ingest hot path: py-spy samples the ``postier serve`` process while
the smtp_ingest load runs, then prints the functions with the most samples, by own time and
by time including callees. Two recordings, one load run each:

- ``gil``: only the thread holding the GIL, i.e. where Python spends its single core;
- ``wall``: every thread that is not idle (the event loop, the store's writer thread, the
  thread pool), so time in fsync, SQLite and waits for the GIL shows up too.

    python bench/profile_smtp.py [--clients 20] [--messages 200] [--rate 250]

Writes the collapsed stacks to ``bench/results/smtp_ingest_profile_{gil,wall}.txt`` (load them
into speedscope or flamegraph.pl for a picture) and the summary to ``smtp_ingest_profile.md``.
Needs py-spy (``pip install -r bench/requirements.txt``) and permission to ptrace (root).
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import raise_fd_limit, start_postier
from bench.scenarios import smtp_ingest

RESULTS = Path(__file__).resolve().parent / "results"


def _frame_name(frame: str) -> str:
    # py-spy raw frames look like "function (path/to/file.py:123)"; drop the line number so
    # samples of one function add up.
    name, _, location = frame.partition(" (")
    path = location.rsplit(":", 1)[0]
    for marker in ("site-packages/", "lib/python3.11/", "postier-snap/", "/work/main/"):
        if marker in path:
            path = path.split(marker, 1)[1]
    return f"{name} ({path})"


def summarise(raw: Path, top: int) -> str:
    own: collections.Counter[str] = collections.Counter()
    inclusive: collections.Counter[str] = collections.Counter()
    total = 0
    for line in raw.read_text().splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack or not count_text.isdigit():
            continue
        count = int(count_text)
        frames = [_frame_name(f) for f in stack.split(";") if f and not f.startswith("thread (")]
        total += count
        if frames:
            own[frames[-1]] += count
        for frame in set(frames):
            inclusive[frame] += count
    lines = [f"{total} samples", "",
             "| Own time | Function |", "|---:|---|"]
    lines += [f"| {100 * n / total:.1f}% | `{name}` |" for name, n in own.most_common(top)]
    lines += ["", "| Including callees | Function |", "|---:|---|"]
    lines += [f"| {100 * n / total:.1f}% | `{name}` |"
              for name, n in inclusive.most_common(top * 2)
              if not name.startswith(("<module>", "_run_module_as_main", "_run_code", "run ("))]
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--clients", type=int, default=20)
    parser.add_argument("--messages", type=int, default=200, help="per client")
    parser.add_argument("--rate", type=int, default=250, help="py-spy samples per second")
    parser.add_argument("--top", type=int, default=25)
    parser.add_argument("--workdir", type=Path, default=Path("/tmp/postier-bench-profile"))
    args = parser.parse_args()
    if shutil.which("py-spy") is None:
        parser.error("py-spy is missing: pip install -r bench/requirements.txt")
    raise_fd_limit()
    RESULTS.mkdir(parents=True, exist_ok=True)
    target = start_postier(args.workdir.resolve(), len(smtp_ingest.USERS))
    sections = []
    try:
        asyncio.run(smtp_ingest.ingest(target, 2, 10))  # warm-up, not sampled
        for mode, flags, title in (
                ("gil", ["--gil"], "Where the GIL is held (Python CPU)"),
                ("wall", [], "All threads that are not idle (wall time)")):
            raw = RESULTS / f"smtp_ingest_profile_{mode}.txt"
            raw.unlink(missing_ok=True)
            spy = subprocess.Popen(["py-spy", "record", "--pid", str(target.root_pids()[0]),
                                    "--rate", str(args.rate), "--format", "raw",
                                    "--output", str(raw), "--nonblocking", *flags],
                                   stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
            time.sleep(1.0)
            result = asyncio.run(smtp_ingest.ingest(target, args.clients, args.messages))
            spy.send_signal(signal.SIGINT)
            _, errors = spy.communicate(timeout=60)
            if not raw.exists():
                raise RuntimeError(f"py-spy wrote nothing: {errors.decode()[-1000:]}")
            text = summarise(raw, args.top)
            if mode == "gil":
                # py-spy samples only while some thread holds the GIL: the share of the run's
                # samples says how busy the interpreter was (1.0: CPU-bound on one core).
                held = int(text.split()[0]) / (args.rate * float(result["seconds"]))  # type: ignore[arg-type]
                text = f"GIL held about {100 * min(held, 1):.0f}% of the time.\n\n" + text
            sections.append(f"## {title}\n\nWhile sampled: {result['acknowledged_per_s']} "
                            f"messages/s ({args.clients} clients × {args.messages} messages "
                            f"of 4 KB)\n\n" + text)
    finally:
        target.stop()
        shutil.rmtree(args.workdir, ignore_errors=True)
    summary = "# SMTP ingest profile (py-spy)\n\n" + "\n\n".join(sections)
    (RESULTS / "smtp_ingest_profile.md").write_text(summary + "\n")
    print(summary)
    print(f"\nwritten: {RESULTS / 'smtp_ingest_profile.md'} and the raw stacks beside it")
    return 0


if __name__ == "__main__":
    sys.exit(main())
