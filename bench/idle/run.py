"""IDLE memory and wake-up latency, Postier against Postfix + Dovecot (issue: multi-device sync).

The ``idle`` scenario of ``bench/run.py`` (``bench/scenarios/idle.py`` says exactly what is
measured): 1,000 and 5,000 sessions each in IDLE on its own mailbox, and 500 on one shared
mailbox; server memory per idle connection; p50/p99 from an SMTP delivery, and from a STORE in
another session, to the IDLE notification. Both servers in the same run.

    python -m bench.idle.run                          # writes bench/results/idle.json and .md
    python -m bench.idle.run --idle-sessions 5000 --idle-shared 0 --no-reference
    python -m bench.idle.run --quick                  # 200 own + 100 shared

Any other ``bench/run.py`` option passes through.
"""

from __future__ import annotations

import sys
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from bench import run

RESULTS = Path(__file__).resolve().parents[1] / "results"


def main() -> int:
    argv = sys.argv[1:]
    if "--output" not in argv:
        argv += ["--output", str(RESULTS / "idle.json")]
    return run.main(["--only", "idle", *argv])


if __name__ == "__main__":
    sys.exit(main())
