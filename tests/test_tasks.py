"""tasks.py: re-executing notebooks keeps the stored outputs of timing cells when no code cell
changed since the last commit, and measures them anew when one did."""

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


def _nb(cells: list[dict]) -> dict:
    return {"cells": cells, "metadata": {}, "nbformat": 4, "nbformat_minor": 5}


def _stored(text_t1: str, source_c1: str = "print(1 + 1)") -> list[dict]:
    return [_cell("t1", "print(time())\n", text_t1, [tasks.TIMING_TAG]),
            _cell("c1", source_c1, "2\n", [])]


def test_unchanged_notebook_keeps_its_timings(tmp_path):
    path = tmp_path / "nb.ipynb"
    committed = _nb(_stored("0.31 ms\n"))
    path.write_text(json.dumps(committed))
    kept = tasks._unchanged_timing_cells(path, committed)
    assert sorted(kept) == ["t1"]
    path.write_text(json.dumps(_nb(_stored("0.29 ms\n"))))  # what a new execution wrote
    tasks.normalise_notebook(path, kept)
    cells = {c["id"]: c for c in json.loads(path.read_text())["cells"]}
    assert cells["t1"]["outputs"][0]["text"] == ["0.31 ms\n"]
    assert cells["c1"]["outputs"][0]["text"] == ["2\n"]


def test_an_edited_code_cell_means_new_timings(tmp_path):
    path = tmp_path / "nb.ipynb"
    committed = _nb(_stored("0.31 ms\n"))
    path.write_text(json.dumps(_nb(_stored("0.31 ms\n", source_c1="print(2 + 2)"))))
    assert tasks._unchanged_timing_cells(path, committed) == {}
    edited_timing = _nb(_stored("0.31 ms\n"))
    edited_timing["cells"][0]["source"] = ["print(time() * 2)\n"]
    path.write_text(json.dumps(edited_timing))
    assert tasks._unchanged_timing_cells(path, committed) == {}


def test_a_committed_chapter_keeps_its_timing_cells():
    import subprocess

    import pytest

    chapter = sorted((ROOT / "book").glob("06_*.ipynb"))[0]
    clean = subprocess.run(["git", "diff", "--quiet", "HEAD", "--", str(chapter)], cwd=ROOT)
    if clean.returncode:
        pytest.skip("chapter 6 has uncommitted changes")
    stored = [c["id"] for c in json.loads(chapter.read_text())["cells"]
              if tasks.TIMING_TAG in c["metadata"].get("tags", [])]
    assert stored and sorted(tasks._unchanged_timing_cells(chapter)) == sorted(stored)


def _png(noise: float = 0.0, shift: float = 0.0) -> str:
    import base64
    import io

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    x = np.linspace(0, 1, 50)
    fig, ax = plt.subplots(figsize=(3, 2), dpi=80)
    ax.semilogy(x, np.exp(-20 * x) * (1 + noise * np.sin(7 * x)) + 1e-9, lw=1)
    ax.plot(x, 1e-3 * (1 + shift) * np.ones_like(x))
    buf = io.BytesIO()
    fig.savefig(buf, format="png", metadata={"Software": None})
    plt.close(fig)
    return base64.b64encode(buf.getvalue()).decode()


def test_same_picture_allows_antialiasing_noise_only():
    import sys

    sys.path.insert(0, str(ROOT / "scripts"))
    from same_pictures import same_picture

    base = _png()
    assert same_picture(base, base)
    assert same_picture(base, _png(noise=1e-4))  # round-off-size change of the data
    assert not same_picture(base, _png(shift=2.0))  # a line moved: another picture


def test_notebooks_keep_a_figure_that_shows_the_same_picture(tmp_path):
    def nb(png: str, source: str = "plot()") -> dict:
        cell = {"cell_type": "code", "id": "f1", "metadata": {}, "execution_count": 1,
                "source": [source],
                "outputs": [{"output_type": "display_data", "metadata": {},
                             "data": {"image/png": png, "text/plain": ["<Figure>"]}}]}
        return _nb([cell])

    base, noisy, moved = _png(), _png(noise=1e-4), _png(shift=2.0)
    path = tmp_path / "nb.ipynb"
    for new, source, expect in [(noisy, "plot()", base), (moved, "plot()", moved),
                                (noisy, "plot(2)", noisy)]:
        path.write_text(json.dumps(nb(new, source)))
        tasks.keep_same_pictures(path, nb(base))
        png = json.loads(path.read_text())["cells"][0]["outputs"][0]["data"]["image/png"]
        assert png == expect
