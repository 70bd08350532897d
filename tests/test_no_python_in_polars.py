"""No Python function runs inside a Polars expression in the server's code.

Polars runs ``map_elements`` (and its kin) on its own thread pool, where each call waits for the GIL. Meanwhile
another session's script thread can hold the GIL while it waits for that same pool: ``DataFrame.to_pandas``, which
``st.dataframe`` calls, does (Polars 2.1). Neither can go on, and with the GIL held no other thread of the server
runs either: every visitor's page hangs for good. ``bench/soak.py`` hit this with 20 users once an import made the
caches miss at the same moment. ``data.basics.mapped`` computes such values in the calling thread instead.
"""

from __future__ import annotations

import ast
import subprocess
import sys
import textwrap

from tests.conftest import PROJECT
from tests.test_architecture import module_files

# Polars methods that call back into Python from Polars' threads
PYTHON_CALLBACKS = frozenset({"map_elements", "map_batches", "map_groups", "map_rows"})
SERVER_CODE = ("ui", "app_pages", "metrics", "data")  # and every .py at the top level; bench/ never serves a page


def python_callbacks(source: str) -> list[int]:
    """Lines that call one of ``PYTHON_CALLBACKS`` as a method."""
    return [node.lineno for node in ast.walk(ast.parse(source))
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
            and node.func.attr in PYTHON_CALLBACKS]


def test_the_check_finds_a_python_callback() -> None:
    sample = 'frame.with_columns(pl.col("x").map_elements(str, return_dtype=pl.String))\nframe.select("x")\n'
    assert python_callbacks(sample) == [1]
    assert python_callbacks('frame.with_columns(mapped(frame["x"], str))') == []


def test_no_server_module_runs_python_inside_polars() -> None:
    found = {name: lines for name, path in module_files(PROJECT, SERVER_CODE).items()
             if (lines := python_callbacks(path.read_text(encoding="utf-8")))}
    assert found == {}, f"use data.basics.mapped instead (see this test's docstring): {found}"


def test_mapped_beside_to_pandas_in_other_threads_finishes() -> None:
    """What a busy server does: sessions label a column while others hand frames to st.dataframe. In a process of
    its own, so a hang is a timeout here rather than a frozen test run."""
    script = textwrap.dedent("""
        import threading, time
        import polars as pl
        from data.basics import mapped
        frame = pl.concat([pl.DataFrame({**{f"n{j}": [float(i) if i % 5 else None for i in range(300)]
                                            for j in range(6)},
                                         **{f"s{j}": [f"x{i}" for i in range(300)] for j in range(4)}})] * 8,
                          rechunk=False)
        stop = time.monotonic() + 3
        done = []
        def label():
            while time.monotonic() < stop:
                frame.with_columns(mapped(frame["n0"], str), mapped(frame["n1"], str))
            done.append("label")
        def show():
            while time.monotonic() < stop:
                frame.to_pandas()
            done.append("show")
        threads = [threading.Thread(target=f) for f in (label, label, show, show)]
        [t.start() for t in threads]
        [t.join() for t in threads]
        print(sorted(done))
    """)
    finished = subprocess.run([sys.executable, "-c", script], cwd=PROJECT, capture_output=True, text=True,
                              timeout=120)
    assert finished.returncode == 0, finished.stderr
    assert finished.stdout.strip() == "['label', 'label', 'show', 'show']"
