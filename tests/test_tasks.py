"""tasks.py: re-executing notebooks keeps the stored outputs of unchanged timing cells."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
_spec = importlib.util.spec_from_file_location("tasks", ROOT / "tasks.py")
tasks = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(tasks)


def _cell(cid: str, source: str, text: str, tags: list[str]) -> dict:
    return {"cell_type": "code", "id": cid, "metadata": {"tags": tags}, "execution_count": 1,
            "source": source.splitlines(keepends=True),
            "outputs": [{"output_type": "stream", "name": "stdout", "text": [text]}]}


def test_unchanged_timing_cells_keep_their_outputs(tmp_path):
    old = [_cell("t1", "print(time())\n", "0.31 ms\n", [tasks.TIMING_TAG]),
           _cell("t2", "print(time() * 2)", "0.62 ms\n", [tasks.TIMING_TAG]),
           _cell("c1", "print(1 + 1)", "2\n", [])]
    path = tmp_path / "nb.ipynb"
    path.write_text(json.dumps({"cells": old, "metadata": {}, "nbformat": 4,
                                "nbformat_minor": 5}))
    kept = tasks._timing_cells(path)
    assert sorted(kept) == ["t1", "t2"]
    new = [_cell("t1", "print(time())\n", "0.29 ms\n", [tasks.TIMING_TAG]),   # same code
           _cell("t2", "print(time() * 3)", "0.93 ms\n", [tasks.TIMING_TAG]),  # changed code
           _cell("c1", "print(1 + 1)", "2\n", [])]
    new[0]["source"] = "print(time())\n"  # a string where the old file had a list of lines
    path.write_text(json.dumps({"cells": new, "metadata": {}, "nbformat": 4,
                                "nbformat_minor": 5}))
    tasks.normalise_notebook(path, kept)
    cells = {c["id"]: c for c in json.loads(path.read_text())["cells"]}
    assert cells["t1"]["outputs"][0]["text"] == ["0.31 ms\n"]  # kept
    assert cells["t2"]["outputs"][0]["text"] == ["0.93 ms\n"]  # measured anew
    assert cells["c1"]["outputs"][0]["text"] == ["2\n"]
