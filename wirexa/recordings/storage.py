"""Where recording files live. The engine talks to `RecordingStorage` only, so a backend for
S3-compatible object storage can stand in for the local directory: recordings are always
written to a local working file while the call runs (the writer thread appends to it every
second), then `publish`ed once final; downloads read byte ranges.

Every method may block (disk, network): the service and the API call them off the event loop.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Protocol

CHUNK = 64 * 1024


class RecordingStorage(Protocol):
    def working_path(self, sid: str, ext: str) -> Path:
        """The local file a recording's `ext` (wav, mp3) is written to before it is final, and
        where crash recovery finds what a killed engine left."""

    def publish(self, sid: str, ext: str) -> None:
        """The working file is final: store it for download (an object store uploads it)."""

    def size(self, sid: str, ext: str) -> int | None:
        """Bytes of the stored file, None when there is none."""

    def read(self, sid: str, ext: str, start: int, length: int) -> Iterator[bytes]:
        """`length` bytes from `start`, in chunks."""

    def delete(self, sid: str) -> None:
        """Every file of the recording (stored and working ones); no error when absent."""


class LocalStorage:
    """A directory: `root/ab/REab....wav`, sharded by the sid's first two hex digits. Working
    files are the stored files themselves, so publishing is a no-op."""

    EXTENSIONS = ("wav", "mp3")

    def __init__(self, root: Path) -> None:
        self.root = root

    def _path(self, sid: str, ext: str) -> Path:
        if ext not in self.EXTENSIONS or not sid.isalnum():
            raise ValueError(f"not a recording file: {sid}.{ext}")
        return self.root / sid[2:4].lower() / f"{sid}.{ext}"

    def working_path(self, sid: str, ext: str) -> Path:
        path = self._path(sid, ext)
        path.parent.mkdir(parents=True, exist_ok=True)
        return path

    def publish(self, sid: str, ext: str) -> None:
        pass

    def size(self, sid: str, ext: str) -> int | None:
        try:
            return self._path(sid, ext).stat().st_size
        except (OSError, ValueError):
            return None

    def read(self, sid: str, ext: str, start: int, length: int) -> Iterator[bytes]:
        with open(self._path(sid, ext), "rb") as f:
            f.seek(start)
            while length > 0:
                chunk = f.read(min(CHUNK, length))
                if not chunk:
                    return
                length -= len(chunk)
                yield chunk

    def delete(self, sid: str) -> None:
        for ext in self.EXTENSIONS:
            for path in (self._path(sid, ext), self._path(sid, ext).with_suffix(f".{ext}.part")):
                try:
                    os.unlink(path)
                except FileNotFoundError:
                    pass
