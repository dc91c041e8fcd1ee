"""``python -m bench.oracle [SCENARIO ...]``: where Postier's answers differ from Dovecot's."""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

from bench.oracle.run import compare, start_targets


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("scenarios", nargs="*", help="only these scenarios (default: all)")
    parser.add_argument("--workdir", type=Path,
                        default=Path(tempfile.gettempdir()) / f"postier-oracle-{os.getpid()}")
    args = parser.parse_args()
    postier, dovecot, stop = start_targets(args.workdir)
    try:
        differences, steps = compare(postier, dovecot, args.scenarios or None)
    finally:
        stop()
    for difference in differences:
        print(difference.render())
    print(f"\n{len(differences)} of {steps} steps differ", file=sys.stderr)
    return 1 if differences else 0


if __name__ == "__main__":
    sys.exit(main())
