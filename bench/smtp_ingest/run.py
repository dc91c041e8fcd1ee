"""SMTP ingest benchmark: N concurrent clients send 4 KB messages to local users over the MX
listener of a real ``postier serve`` process and, in the same run, of Postfix delivering over
LMTP to Dovecot; prints messages per second for both and the ratio.

Every message counts only once the server has answered 250 to its DATA, which Postier sends
after the store has committed it (fsync'd body, SQLite commit). The scenario itself lives in
``bench/scenarios/smtp_ingest.py``; ``bench/run.py --only smtp_ingest`` runs it in the suite.

    python bench/smtp_ingest/run.py [--clients 20] [--messages 200] [--no-reference]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))


def postier(config: Path, *args: str, stdin: str | None = None) -> None:
    """Run one ``postier --config FILE ...`` command; raise if it fails."""
    subprocess.run([sys.executable, "-m", "postier", "--config", str(config), *args],
                   input=stdin, text=True, check=True, capture_output=True)


def main() -> None:
    from bench.common import start_postier, start_reference_target
    from bench.scenarios import smtp_ingest

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--clients", type=int, default=20)
    parser.add_argument("--messages", type=int, default=200, help="per client")
    parser.add_argument("--no-reference", action="store_true", help="measure Postier only")
    parser.add_argument("--keep", action="store_true", help="keep the data directories")
    args = parser.parse_args()
    directory = Path(tempfile.mkdtemp(prefix="postier-bench-"))
    targets = [start_postier(directory / "postier", len(smtp_ingest.USERS))]
    try:
        if not args.no_reference:
            targets.append(start_reference_target(directory / "reference",
                                                  len(smtp_ingest.USERS))[0])
        results = {}
        for target in targets:
            results[target.name] = asyncio.run(
                smtp_ingest.run(target, args.clients, args.messages))
            print(target.name, json.dumps(results[target.name]))
    finally:
        for target in targets:
            target.stop()
        if args.keep:
            print(f"data kept in {directory}")
        else:
            shutil.rmtree(directory, ignore_errors=True)
    for key in ("acknowledged_per_s", "stored_per_s"):
        line = f"{key}: postier {results['postier'][key]}"
        if "reference" in results:
            ratio = float(results["postier"][key]) / float(results["reference"][key])
            line += f", reference {results['reference'][key]}, ratio {ratio:.2f}"
        print(line)


if __name__ == "__main__":
    main()
