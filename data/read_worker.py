"""Read an uploaded file in a child process: ``python -m data.read_worker``.

Parsing a workbook is pure Python (100,000 XLSX rows take about 15 s): in the server it would hold the GIL against
every other visitor, and its memory (several times the file) would stay with the server's allocator after. In a
child the server's thread only waits on a pipe, the read can be cancelled by ending the child, and the child's
memory goes back to the system when it exits.

The child reads the file with the server's limits through :func:`data.raw_tables.read_table`, writes the table of
text cells to an Arrow IPC file and prints one line per event on stdout: ``progress <done> <most>`` as an XLSX
sheet's rows are parsed, then ``table <json>`` (what the :class:`RawTable` holds besides its frame) or
``rejected <reason as JSON>`` (the same words as a read in the server). Anything else goes to stderr.
"""

from __future__ import annotations

import argparse
import collections
import json
import os
import queue
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path

import polars as pl

from data.basics import ImportRejected
from data.raw_tables import FileRejected, Limits, RawTable, read_table

PROJECT = Path(__file__).resolve().parents[1]


@dataclass(frozen=True)
class Progress:
    done: int
    most: int  # an upper bound: the sheet's row tags


class ReadFailed(Exception):
    """The child ended without a table or a reason: a bug or the system, not the file. Says its exit code and the
    name of its exception, never the message (it may quote a cell)."""


class Reading:
    """One file read by a child. Iterate for :class:`Progress` while it runs, polling every ``poll`` seconds (a
    ``None`` each time nothing came, so that a caller can give way); then :meth:`table`. :meth:`cancel` ends it."""

    def __init__(self, path: Path, file_name: str, limits: Limits, table_path: Path) -> None:
        self.table_path = table_path
        command = [sys.executable, "-m", "data.read_worker", str(path), file_name, str(table_path),
                   json.dumps(asdict(limits))]
        # its own session: cancel ends it and anything it started with one signal to the group
        self._child = subprocess.Popen(command, cwd=PROJECT, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                       stderr=subprocess.PIPE, text=True, start_new_session=True)
        self._lines: queue.Queue[str | None] = queue.Queue()
        self._last, self._ended, self._errors = "", False, collections.deque(maxlen=1)
        # a pipe's read blocks; on threads of their own, the caller's loop stays free to poll and give way, and a
        # chatty stderr cannot fill its pipe and stall the child
        self._threads = [threading.Thread(target=self._pump, daemon=True),
                         threading.Thread(target=self._drain_errors, daemon=True)]
        for thread in self._threads:
            thread.start()

    def _pump(self) -> None:
        assert self._child.stdout is not None
        for line in self._child.stdout:
            self._lines.put(line.rstrip("\n"))
        self._lines.put(None)

    def _drain_errors(self) -> None:
        assert self._child.stderr is not None
        for line in self._child.stderr:
            if line.strip():
                self._errors.append(line.strip())

    def events(self, poll: float = 0.25) -> Iterator[Progress | None]:
        while not self._ended:
            try:
                line = self._lines.get(timeout=poll)
            except queue.Empty:
                yield None
                continue
            if line is None:
                self._ended = True
                return
            kind, _, rest = line.partition(" ")
            if kind == "progress":
                done, most = (int(n) for n in rest.split())
                yield Progress(done, most)
            else:
                self._last = line

    def table(self) -> RawTable:
        """The table the child wrote; FileRejected with its reason, or ReadFailed."""
        for _ in self.events():
            pass
        returncode = self._wait()
        self.cancel()  # ended already: closes its pipes
        kind, _, rest = self._last.partition(" ")
        if kind == "rejected":
            raise FileRejected(json.loads(rest))
        if kind != "table" or returncode != 0:
            # the exception's name only: its message may quote a cell, and customers' data stays out of the log
            last = self._errors[-1] if self._errors else ""
            raise ReadFailed(f"the reader exited with {returncode} ({last.partition(':')[0][:100] or 'no error'})")
        meta = json.loads(rest)
        frame = pl.read_ipc(self.table_path)
        return RawTable(meta["file_name"], frame, meta["sha256"], meta["encoding"], meta["delimiter"],
                        tuple(meta["notes"]), meta["first_record"])

    def _wait(self) -> int:
        returncode = self._child.wait()
        for thread in self._threads:  # the pipes end with the child: what it wrote last is in
            thread.join(timeout=5)
        return returncode

    def cancel(self) -> None:
        """End the child if it still runs (its whole session: nothing of it outlives the read)."""
        if self._child.poll() is None:
            os.killpg(self._child.pid, signal.SIGKILL)
        self._wait()
        for stream in (self._child.stdout, self._child.stderr):
            if stream is not None:
                stream.close()


def _say(line: str) -> None:
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Read one uploaded file into an Arrow IPC table of text cells.")
    parser.add_argument("path", type=Path)
    parser.add_argument("file_name", help="the name the person knows the file by, for the messages")
    parser.add_argument("table_path", type=Path)
    parser.add_argument("limits", help="data.raw_tables.Limits as JSON")
    args = parser.parse_args(argv)
    limits = Limits(**json.loads(args.limits))
    try:
        table = read_table(args.path.read_bytes(), args.file_name, limits,
                           progress=lambda done, most: _say(f"progress {done} {most}"))
    except ImportRejected as error:
        _say(f"rejected {json.dumps(str(error))}")  # JSON: one line, whatever the reason quotes
        return 0
    table.frame.write_ipc(args.table_path)
    meta = {"file_name": table.file_name, "sha256": table.sha256, "encoding": table.encoding,
            "delimiter": table.delimiter, "notes": list(table.notes), "first_record": table.first_record}
    _say(f"table {json.dumps(meta)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
