"""Uploaded files, kept on disk instead of in the server's memory until they are imported or removed.

Each browser session gets a private folder (0700, its files 0600) under ``<system temp>/cspulse-uploads/``, named
after this server's process id. The folder goes when the session lets go of its :class:`Received` (the Import page
keeps it in ``st.session_state``, so it goes with the session: Streamlit has no session-end hook) or when the server
exits; :func:`sweep_stale` removes what a server that was killed left behind.
"""

from __future__ import annotations

import os
import shutil
import stat
import tempfile
import uuid
import weakref
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

import polars as pl

from data.basics import sha256_bytes
from data.raw_tables import FileRejected, RawTable

ROOT_NAME = "cspulse-uploads"


@cache
def root() -> Path:
    """This user's folder of session folders; made, and swept of what dead servers left, once per process."""
    folder = Path(tempfile.gettempdir()) / f"{ROOT_NAME}-{os.getuid()}"
    folder.mkdir(mode=0o700, exist_ok=True)
    found = folder.lstat()
    if not stat.S_ISDIR(found.st_mode) or found.st_uid != os.getuid() or found.st_mode & 0o077:
        # someone else's, or open to others: the uploads go to a fresh private folder instead
        return Path(tempfile.mkdtemp(prefix=f"{ROOT_NAME}-"))
    sweep_stale(folder)
    return folder


@dataclass
class ReceivedFile:
    name: str  # as the person named it; never part of a path on disk
    size: int
    path: Path
    sha256: str
    file_id: str = field(default_factory=lambda: uuid.uuid4().hex)
    rejected: str = ""  # why it cannot be read, once a read said so
    _meta: dict[str, Any] | None = None  # the table's fields but its frame, once read into ``table_path``

    @property
    def table_path(self) -> Path:
        """Where the file's table of text cells is kept once read by data.read_worker (an Arrow IPC file)."""
        return self.path.with_suffix(".arrow")

    def remember(self, table: RawTable) -> None:
        """A table read into ``table_path``: the plans read it from there, not the file again."""
        self._meta = {"file_name": table.file_name, "sha256": table.sha256, "encoding": table.encoding,
                      "delimiter": table.delimiter, "notes": table.notes, "first_record": table.first_record}

    def kept_table(self) -> RawTable | None:
        """The table read before, or its rejection again; None when it was not read (or read in the server)."""
        if self.rejected:
            raise FileRejected(self.rejected)
        if self._meta is None or not self.table_path.exists():
            return None
        return RawTable(frame=pl.read_ipc(self.table_path), **self._meta)


class Received:
    """One session's received files, in the order they came."""

    def __init__(self) -> None:
        self.folder = Path(tempfile.mkdtemp(prefix=f"{os.getpid()}-", dir=root()))
        self.files: list[ReceivedFile] = []
        self._cleanup = weakref.finalize(self, shutil.rmtree, self.folder, ignore_errors=True)

    def add(self, name: str, content: bytes) -> ReceivedFile:
        """Write ``content`` to a new private file; the caller lets go of the bytes."""
        file_id = uuid.uuid4().hex
        path = self.folder / f"{file_id}.upload"
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(descriptor, "wb") as file:
            file.write(content)
        received = ReceivedFile(name, len(content), path, sha256_bytes(content), file_id)
        self.files.append(received)
        return received

    def remove(self, file_id: str) -> None:
        for received in [f for f in self.files if f.file_id == file_id]:
            self.files.remove(received)
            received.path.unlink(missing_ok=True)
            received.table_path.unlink(missing_ok=True)

    def clear(self) -> None:
        for received in list(self.files):
            self.remove(received.file_id)

    def close(self) -> None:
        """Remove the folder now (also done when this object is collected, or at exit)."""
        self.files.clear()
        self._cleanup()

    @property
    def total_size(self) -> int:
        return sum(f.size for f in self.files)


def sweep_stale(parent: Path) -> list[Path]:
    """Remove the session folders of servers no longer running; returns them. A folder is named ``<pid>-...``."""
    removed = []
    for folder in parent.iterdir():
        pid = folder.name.partition("-")[0]
        if not pid.isdigit() or int(pid) == os.getpid() or _running(int(pid)):
            continue
        shutil.rmtree(folder, ignore_errors=True)
        removed.append(folder)
    return removed


def _running(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # another user's process: not ours to judge
    return True
