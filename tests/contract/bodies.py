"""Inspect the embedded store's body files."""

from __future__ import annotations

from pathlib import Path


def body_files(data_dir: Path) -> list[str]:
    """Names of stored message bodies (temporary files excluded)."""
    root = data_dir / "blobs"
    return sorted(p.name for p in root.rglob("*")
                  if p.is_file() and p.relative_to(root).parts[0] != "tmp")
