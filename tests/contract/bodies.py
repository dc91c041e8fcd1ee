"""Inspect the embedded store's bodies: inline rows and files."""

from __future__ import annotations

import sqlite3
from pathlib import Path


def body_files(data_dir: Path) -> list[str]:
    """Names of body files (temporary files excluded)."""
    root = data_dir / "blobs"
    return sorted(p.name for p in root.rglob("*")
                  if p.is_file() and p.relative_to(root).parts[0] != "tmp")


def stored_bodies(data_dir: Path) -> dict[str, bool]:
    """Every stored body's id → whether it lives in a file (False: inline in the database)."""
    conn = sqlite3.connect(data_dir / "postier.sqlite3")
    try:
        return {sha: bool(is_file) for sha, is_file in
                conn.execute("SELECT sha256, data IS NULL FROM blobs")}
    finally:
        conn.close()
