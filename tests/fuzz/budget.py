"""How many examples each property gets: its CI budget, or ``POSTIER_FUZZ_EXAMPLES`` when set.

CI runs the deterministic "ci" Hypothesis profile (tests/conftest.py) with each property's budget
below, sized so the whole fuzz directory takes well under a minute on two cores. A long campaign
sets ``POSTIER_FUZZ_EXAMPLES=20000`` (the "fuzz" profile: random, with an example database).
"""

from __future__ import annotations

import os


def examples(ci_budget: int) -> int:
    override = os.environ.get("POSTIER_FUZZ_EXAMPLES", "")
    return int(override) if override else ci_budget
