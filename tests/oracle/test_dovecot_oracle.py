"""Postier's answers against Dovecot's (bench/oracle), where they were made to agree.

Skipped unless Dovecot is installed and the tests run as root (bench/reference starts it as a
private instance with its own mail user). The full list of differences is a developer tool:
``scripts/oracle-diff``.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(shutil.which("dovecot") is None or os.geteuid() != 0,
                       reason="needs Dovecot and root (bench/reference)"),
]

# (scenario, command) steps whose normalised answers must be the same on both servers.
AGREED = [
    ("search", "SEARCH HEADER Message-ID <plain-1@example.org>"),
    ("search", 'SEARCH SUBJECT ""'),
    ("esearch", "UID SEARCH RETURN (ALL COUNT) ALL"),
    ("malformed", "RAW:tag"),
    ("selected-state-errors", "SORT (DATE) UTF-8 ALL"),
    ("pop3-transaction", "TOP 2 3"),
    ("fetch-items", "FETCH 1:* (BODY.PEEK[HEADER])"),
    ("sort-thread", "THREAD REFERENCES UTF-8 ALL"),
]


@pytest.fixture(scope="module")
def differences() -> Iterator[dict[tuple[str, str], str]]:
    from bench.oracle.run import compare, start_targets

    # Not under pytest's tmp_path: Dovecot's unprivileged processes must reach the files.
    workdir = Path(tempfile.mkdtemp(prefix="postier-oracle-"))
    workdir.chmod(0o755)
    try:
        postier, dovecot, stop = start_targets(workdir)
        try:
            found, steps = compare(postier, dovecot)
        finally:
            stop()
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    assert steps > 400
    yield {(d.scenario, d.command): d.render() for d in found}


@pytest.mark.parametrize(("scenario", "command"), AGREED)
def test_answers_agree(differences: dict[tuple[str, str], str], scenario: str,
                       command: str) -> None:
    assert (scenario, command) not in differences, differences.get((scenario, command))


def test_postier_never_times_out(differences: dict[tuple[str, str], str]) -> None:
    stuck = [text for text in differences.values() if "postier: <timeout>" in text]
    assert not stuck, stuck
