"""An XLSX bomb against the reader: seconds and peak memory (max RSS) to refuse it, against reading an honest workbook.

    python bench/xlsx_bomb.py [--rows 2740000] [--honest 100000]

The bomb is the case measured on the Import page: one sheet of ``--rows`` identical rows (about 400 MB of XML in
about 1.5 MB), once declaring its range as spreadsheets do and once without. Each read runs in a child process of
its own, so each peak RSS is its own; ratios are against the honest workbook of the same run. Default limits.

Each file is read twice: as the server once read it, in its own process ("in server"), and as the Import page reads
it now, through data.read_worker ("worker"). "server CPU s" is the CPU time of the process standing for the server
(its threads hold the GIL against other visitors for that long); the worker's own time is not in it, its "peak MB"
is the server's alone (the worker's memory goes back to the system when it exits).
"""

from __future__ import annotations

import argparse
import io
import json
import resource
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path

PROJECT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(PROJECT))

MAIN = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
BOMB_ROW = (b'<row><c t="inlineStr"><is><t>same</t></is></c><c><v>45292.5</v></c><c><v>12.5</v></c>'
            b'<c t="inlineStr"><is><t>again and again and again</t></is></c></row>')


def workbook(rows: int, *, identical: bool, dimension: bool) -> bytes:
    """A one-sheet workbook: a header and ``rows`` rows, written and deflated a block at a time."""
    buffer = io.BytesIO()
    with (zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive,
          archive.open("xl/worksheets/sheet1.xml", "w") as sheet):
        declared = f'<dimension ref="A1:D{rows + 1}"/>' if dimension else ""
        sheet.write(f'<worksheet xmlns="{MAIN}">{declared}<sheetData><row>'.encode()
                    + b"".join(f'<c t="inlineStr"><is><t>{n}</t></is></c>'.encode() for n in "ABCD") + b"</row>")
        for start in range(0, rows, 10_000):
            count = min(10_000, rows - start)
            if identical:
                sheet.write(BOMB_ROW * count)
            else:
                sheet.write(b"".join(f'<row><c t="inlineStr"><is><t>T{i}</t></is></c><c><v>{45292 + i % 700}</v>'
                                     f'</c><c><v>{i % 97}.5</v></c><c t="inlineStr"><is><t>note {i}</t></is></c>'
                                     "</row>".encode() for i in range(start, start + count)))
        sheet.write(b"</sheetData></worksheet>")
    return buffer.getvalue()


def child(path: str, via_worker: bool) -> None:
    """Runs in the child: read one file with the default limits, print the outcome as JSON."""
    from data.raw_tables import FileRejected, Limits, read_path
    from data.read_worker import Reading
    from settings import Settings

    limits = Limits.from_settings(Settings(_env_file=None))  # type: ignore[call-arg]
    started, cpu = time.perf_counter(), time.process_time()
    try:
        if via_worker:
            reading = Reading(Path(path), Path(path).name, limits, Path(path).with_suffix(".arrow"))
            table = reading.table()
        else:
            table = read_path(path, limits)
        outcome = f"read {table.frame.height:,} rows"
    except FileRejected as error:
        outcome = str(error).split(": ", 1)[1][:70]
    seconds, cpu = time.perf_counter() - started, time.process_time() - cpu
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({"seconds": seconds, "cpu": cpu, "peak_mb": peak_mb, "outcome": outcome}))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=2_740_000)
    parser.add_argument("--honest", type=int, default=100_000, help="rows of the honest baseline workbook")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child, args.worker)
        return
    folder = Path(tempfile.mkdtemp(prefix="cspulse-xlsx-"))
    files = {
        f"honest, {args.honest:,} rows": workbook(args.honest, identical=False, dimension=True),
        f"bomb, {args.rows:,} rows, declared": workbook(args.rows, identical=True, dimension=True),
        f"bomb, {args.rows:,} rows, undeclared": workbook(args.rows, identical=True, dimension=False),
    }
    print(f"{'file':<36} {'read':<10}{'zip MB':>7} {'s':>7} {'server CPU s':>13} {'peak MB':>8} {'s ratio':>8} "
          f"{'CPU ratio':>10} {'MB ratio':>9}  outcome")
    base = None
    for name, content in files.items():
        path = folder / f"{name.split(',')[0]}-{len(content)}.xlsx"
        path.write_bytes(content)
        for how in ("in server", "worker"):  # in turns: a slow spell of a shared machine hits both alike
            worker = ["--worker"] if how == "worker" else []
            result = json.loads(subprocess.run([sys.executable, __file__, "--child", str(path), *worker],
                                               check=True, capture_output=True, text=True).stdout)
            base = base or result
            print(f"{name:<36} {how:<10}{len(content) / 1e6:7.2f} {result['seconds']:7.1f} {result['cpu']:13.2f} "
                  f"{result['peak_mb']:8.0f} {result['seconds'] / base['seconds']:8.2f} "
                  f"{result['cpu'] / base['cpu']:10.3f} {result['peak_mb'] / base['peak_mb']:9.2f}  "
                  f"{result['outcome']}")


if __name__ == "__main__":
    main()
