"""The photo store of one machine: a folder laid out by digest (app/photos.py names the files). A file is
written under a temporary name, flushed to disk and renamed: a reader never sees half a photo, and a crash
leaves at most a temporary file, which the next write of that photo replaces."""

from __future__ import annotations

import asyncio
import os
import shutil
from pathlib import Path

from rekap.errors import RekapError


class FolderStore:
    def __init__(self, root: Path) -> None:
        self.root = root

    async def put(self, name: str, data: bytes) -> None:
        await asyncio.to_thread(self._put, name, data)

    def _put(self, name: str, data: bytes) -> None:
        path = self._path(name)
        if path.exists() and path.stat().st_size == len(data):
            return  # named by its digest: the same bytes are there
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
            with temporary.open("wb") as file:
                file.write(data)
                file.flush()
                os.fsync(file.fileno())
            temporary.replace(path)
        except OSError as error:
            raise RekapError(f"cannot keep photo {name} in {self.root}: {error.strerror or error}") from error

    async def get(self, name: str) -> bytes | None:
        try:
            return await asyncio.to_thread(self._path(name).read_bytes)
        except FileNotFoundError:
            return None

    async def copy_to(self, name: str, target: Path) -> bool:
        return await asyncio.to_thread(self._copy_to, name, target)

    def _copy_to(self, name: str, target: Path) -> bool:
        source = self._path(name)
        if not source.exists():
            return False
        if target.exists() and target.stat().st_size == source.stat().st_size:
            return True
        target.parent.mkdir(parents=True, exist_ok=True)
        try:
            os.link(source, target)  # the same bytes, no copy: the site's folder on the same disk
        except OSError:
            shutil.copyfile(source, target)
        return True

    def location(self, name: str) -> str:
        return str(self._path(name))

    def _path(self, name: str) -> Path:
        if name.startswith("/") or ".." in name.split("/"):
            raise RekapError(f"not a photo's name: {name!r}")
        return self.root / name
