"""Message bodies as content-addressed files.

How this works: a body is stored once under ``blobs/<aa>/<bb>/<sha256>``. Writing goes to a
temporary file in ``blobs/tmp``, is fsync'd, renamed into place, and the directory is fsync'd,
so a body that a metadata row points to is on disk before the row commits. Identical bodies
(one message to several local recipients, COPY) share one file; the metadata store counts
references and deletes a file when the last reference goes. Files left behind by a crash (a
temporary file, or a body whose row never committed) are swept by ``sweep`` at start-up.

All methods block: callers run them in a worker thread, never on the event loop.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterator
from pathlib import Path

from postier.types import BlobId

__all__ = ["FileBlobStore", "blob_id_of"]


def blob_id_of(data: bytes) -> BlobId:
    return BlobId(hashlib.sha256(data).hexdigest())


class FileBlobStore:
    def __init__(self, root: Path) -> None:
        self.root = root
        self._tmp = root / "tmp"
        self._tmp.mkdir(parents=True, exist_ok=True)

    def path(self, blob: BlobId) -> Path:
        return self.root / blob[:2] / blob[2:4] / blob

    def exists(self, blob: BlobId) -> bool:
        return self.path(blob).exists()

    def write(self, data: bytes) -> BlobId:
        """Store ``data`` durably and return its id; a no-op when the body is already stored."""
        blob = blob_id_of(data)
        final = self.path(blob)
        if final.exists():
            return blob
        final.parent.mkdir(parents=True, exist_ok=True)
        tmp = self._tmp / f"{blob}.{os.getpid()}.{id(data):x}"
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        try:
            view = memoryview(data)
            while view:
                written = os.write(fd, view)
                view = view[written:]
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, final)
        _fsync_dir(final.parent)
        return blob

    def read(self, blob: BlobId) -> bytes:
        return self.path(blob).read_bytes()

    def delete(self, blob: BlobId) -> None:
        try:
            self.path(blob).unlink()
        except FileNotFoundError:
            pass

    def all_ids(self) -> Iterator[BlobId]:
        for first in self.root.iterdir():
            if first.name == "tmp" or not first.is_dir():
                continue
            for second in first.iterdir():
                for entry in second.iterdir():
                    yield BlobId(entry.name)

    def sweep_tmp(self) -> int:
        removed = 0
        for entry in self._tmp.iterdir():
            entry.unlink(missing_ok=True)
            removed += 1
        return removed


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
