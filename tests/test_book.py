"""Book-level checks: the table of contents, stored outputs, chapter structure, and that the
notebook check (nbval) is live."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from scripts.site_tools import toc_docs

ROOT = Path(__file__).resolve().parents[1]
BOOK = ROOT / "book"
CHAPTERS = sorted(BOOK.glob("[0-9][0-9]_*.ipynb"))


def load(nb: Path) -> dict:
    return json.loads(nb.read_text())


def source(cell: dict) -> str:
    return "".join(cell["source"])


def test_toc_lists_exactly_the_pages_under_book():
    listed = toc_docs()
    assert len(listed) == len(set(listed)), f"_toc.yml lists a page twice: {listed}"
    pages = {
        str(p.relative_to(ROOT).with_suffix(""))
        for p in list(BOOK.glob("*.ipynb")) + list(BOOK.glob("*.md"))
    }
    assert set(listed) == pages, (
        f"only in _toc.yml: {sorted(set(listed) - pages)}; "
        f"only under book/: {sorted(pages - set(listed))}"
    )


def test_chapters_are_numbered_in_toc_order():
    listed = [f for f in toc_docs() if re.match(r"book/\d\d_", f)]
    assert listed == sorted(listed)
    assert listed, "no chapter notebooks listed"


@pytest.mark.parametrize("nb", CHAPTERS, ids=lambda p: p.name)
def test_notebook_is_stored_executed_without_errors(nb: Path):
    for i, cell in enumerate(load(nb)["cells"]):
        if cell["cell_type"] != "code" or not source(cell).strip():
            continue
        if "skip-execution" in cell.get("metadata", {}).get("tags", []):
            continue  # a widget cell (see test_widget_cells_run_only_for_readers)
        assert cell["execution_count"] is not None, f"{nb.name} cell {i} is not executed"
        for out in cell.get("outputs", []):
            assert out["output_type"] != "error", f"{nb.name} cell {i} stores an error"
            # a warning on stderr clutters the page, names a temporary kernel file and
            # may depend on the machine: handle it in the cell instead
            assert out.get("name") != "stderr", (
                f"{nb.name} cell {i} stores stderr output: {''.join(out['text'])[:300]}")


@pytest.mark.parametrize("nb", CHAPTERS, ids=lambda p: p.name)
def test_chapter_structure(nb: Path):
    cells = load(nb)["cells"]
    first = source(cells[0])
    assert cells[0]["cell_type"] == "markdown" and first.startswith("# "), "title first"
    assert "Learning objectives" in first, f"{nb.name}: no learning objectives at the top"
    assert re.search(r"Time: about \d+ minutes", first), f"{nb.name}: no time estimate at the top"
    text = "\n".join(source(c) for c in cells if c["cell_type"] == "markdown")
    assert "## Summary" in text, f"{nb.name}: no summary"
    assert "## Exercises" in text, f"{nb.name}: no exercises"
    assert text.count("```{exercise}") >= 3, f"{nb.name}: fewer than three exercises"
    assert text.count("```{solution-start}") >= 3, f"{nb.name}: fewer than three solutions"
    assert "{cite" in text, f"{nb.name}: cites nothing from references.bib"
    checks = [c for c in cells if "remove-cell" in c.get("metadata", {}).get("tags", [])]
    assert any("assert" in source(c) for c in checks), f"{nb.name}: no hidden assert cells"


@pytest.mark.parametrize("nb", CHAPTERS, ids=lambda p: p.name)
def test_imports_of_the_whole_chapter_are_in_one_cell(nb: Path):
    code = [source(c) for c in load(nb)["cells"] if c["cell_type"] == "code"]
    importing = [i for i, s in enumerate(code) if re.search(r"^(import|from) \w", s, re.M)]
    # the imports cell, plus at most the exercise/solution cells that import a checker
    assert importing and importing[0] <= 1, f"{nb.name}: imports should come in the first cells"


# --------------------------------------------------------------------------- stored outputs

# Round-off noise: what another CPU or BLAS kernel prints differently. A value below 1e-12 in
# e-notation is allowed only right after a word that says it is a bound ("tolerance", "below", "<").
_TINY = re.compile(r"(?<![\w.])[-+]?\d+(?:\.\d+)?[eE]-0*(1[3-9]|[2-9]\d|\d{3,})\b")
_BOUND = re.compile(r"(below|<|tol\w*\s*=?)\s*$", re.IGNORECASE)
_NEGATIVE_ZERO = re.compile(r"(?<![\w.])-0\.0*(?![0-9])")
_LONG_TAIL = re.compile(r"\d\.\d{10,}")


def round_off_noise(text: str) -> list[str]:
    """The pieces of ``text`` that look like round-off noise (see the patterns above)."""
    found = []
    for m in _TINY.finditer(text):
        if not _BOUND.search(text[max(0, m.start() - 14):m.start()]):
            found.append(m.group(0))
    found += [m.group(0) for m in _NEGATIVE_ZERO.finditer(text)]
    found += [m.group(0) for m in _LONG_TAIL.finditer(text)]
    return found


def stored_texts(out: dict) -> list[str]:
    """Every text an output stores: streams, text/* data, and glued values (myst-nb's glue keeps
    them under ``application/papermill.record/text/plain``)."""
    texts = ["".join(out.get("text", ""))]
    for mime, value in out.get("data", {}).items():
        if "text/" in mime and "html" not in mime:
            texts.append("".join(value) if isinstance(value, list) else str(value))
    return texts


@pytest.mark.parametrize(
    ("text", "noisy"),
    [("sigma_3 = 5.5e-17", True), ("tolerance = 5.5e-15", False), ("below 1e-13", False),
     ("[-0.  1.]", True), ("-0.0", True), ("-0.01", False), ("x = 1e-3", False),
     ("0.9844444444444445", True), ("0.9844", False), ("2.5e-13", True), ("1e-12", False)],
)
def test_round_off_noise_detector(text: str, noisy: bool):
    assert bool(round_off_noise(text)) is noisy


@pytest.mark.parametrize("nb", sorted(BOOK.glob("*.ipynb")), ids=lambda p: p.name)
def test_no_stored_output_shows_round_off_noise(nb: Path):
    """Stored outputs must be the same on every CPU: round-off shows as what it means."""
    bad = []
    for i, cell in enumerate(load(nb)["cells"]):
        for out in cell.get("outputs", []):
            for text in stored_texts(out):
                bad += [f"cell {i}: {piece}" for piece in round_off_noise(text)]
    assert not bad, (f"{nb.name} stores round-off-level numbers, which another CPU prints "
                     f"differently; print a comparison with a tolerance or round: {bad[:10]}")


_VARIABLE = re.compile(r"(time|timing|timeit|perf_counter|measure|compare|interact|"
                       r"widget|explor)")


@pytest.mark.parametrize("nb", CHAPTERS, ids=lambda p: p.name)
def test_only_timing_and_widget_cells_skip_output_checks(nb: Path):
    for i, cell in enumerate(load(nb)["cells"]):
        if "nbval-ignore-output" in cell.get("metadata", {}).get("tags", []):
            assert _VARIABLE.search(source(cell)), (
                f"{nb.name} cell {i} is excluded from nbval but neither times nor shows a widget: "
                f"make its output reproducible instead\n{source(cell)[:300]}")


_WIDGET_CALL = re.compile(r"\b(interact\w*|\w*_explorer)\(")
_WIDGET_TAGS = {"remove-output", "nbval-ignore-output", "skip-execution", "nbval-skip"}


@pytest.mark.parametrize("nb", CHAPTERS, ids=lambda p: p.name)
def test_widget_cells_run_only_for_readers(nb: Path):
    """A cell that builds an ipywidgets explorer runs in a reader's Jupyter only: the build,
    nbval and `tasks.py notebooks` skip it (`skip-execution`, `nbval-skip`), since a static page
    cannot use a widget and the widget messages have stalled automated kernels; the functions
    behind each explorer are tested directly (tests/test_widgets.py, tests/test_explorers.py)."""
    cells = load(nb)["cells"]
    for i, cell in enumerate(cells):
        if cell["cell_type"] != "code" or not _WIDGET_CALL.search(source(cell)):
            continue
        tags = set(cell.get("metadata", {}).get("tags", []))
        missing = _WIDGET_TAGS - tags
        assert not missing, f"{nb.name} cell {i}: a widget cell without the tags {missing}"
        assert not cell["outputs"], f"{nb.name} cell {i}: a widget cell stores no output"


# --------------------------------------------------------------------------- nbval is live

_LIVE_NOTEBOOK = {
    "cells": [{"cell_type": "code", "execution_count": 1, "id": "c1", "metadata": {},
               "outputs": [{"name": "stdout", "output_type": "stream", "text": ["-2\n"]}],
               "source": ["print(-1 * 1 + 0 * 0 + 1 * (-1) + 0)"]}],
    "metadata": {"kernelspec": {"display_name": "Python 3", "language": "python",
                                "name": "python3"}},
    "nbformat": 4, "nbformat_minor": 5,
}


def _nbval(path: Path, *extra: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "pytest", "--nbval", "--nbval-cell-timeout=120", "-q",
         "-p", "no:cacheprovider", "--rootdir", str(path.parent), *extra, str(path)],
        cwd=path.parent, capture_output=True, text=True, timeout=600,
    )


def test_nbval_fails_a_changed_stored_number(tmp_path: Path):
    """nbval passes a notebook whose stored output is right and fails it when one digit changes
    (a one-cell notebook: the chapters themselves run under nbval in the same test command)."""
    good, bad = tmp_path / "good.ipynb", tmp_path / "bad.ipynb"
    good.write_text(json.dumps(_LIVE_NOTEBOOK))
    changed = json.loads(json.dumps(_LIVE_NOTEBOOK))
    changed["cells"][0]["outputs"][0]["text"] = ["0\n"]
    bad.write_text(json.dumps(changed))
    ok = _nbval(good)
    assert ok.returncode == 0, ok.stdout[-3000:]
    failed = _nbval(bad)
    assert failed.returncode != 0 and "1 failed" in failed.stdout, failed.stdout[-3000:]


def test_the_test_command_checks_every_code_cell_of_every_chapter():
    """`python3 tasks.py test` collects each chapter's code cells as nbval items."""
    run = subprocess.run(
        [sys.executable, "-m", "pytest", "--nbval", "--collect-only", "-q", "-p",
         "no:cacheprovider", *map(str, CHAPTERS)],
        cwd=ROOT, capture_output=True, text=True, timeout=300,
    )
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    for nb in CHAPTERS:
        cells = [c for c in load(nb)["cells"] if c["cell_type"] == "code"]
        collected = [ln for ln in run.stdout.splitlines() if ln.startswith(f"book/{nb.name}::")]
        assert len(collected) == len(cells), (
            f"{nb.name}: {len(collected)} nbval items for {len(cells)} code cells")


# --------------------------------------------------------------------------- the build

BUILD_COPIES = ROOT / "_build" / "jupyter_execute" / "book"


def comparable_outputs(nb_json: dict) -> list[list[tuple]]:
    """The text outputs nbval compares, per code cell, in a form both executors agree on:
    consecutive streams of one name joined, glue records (no text/* data) dropped, images and
    execution counts ignored. Cells tagged nbval-ignore-output compare as empty."""
    cells = []
    for cell in nb_json["cells"]:
        if cell["cell_type"] != "code":
            continue
        if "nbval-ignore-output" in cell.get("metadata", {}).get("tags", []):
            cells.append([])
            continue
        outs: list[tuple] = []
        for out in cell.get("outputs", []):
            kind = out["output_type"]
            if kind == "stream":
                text = "".join(out["text"])
                if outs and outs[-1][0] == "stream" and outs[-1][1] == out["name"]:
                    outs[-1] = ("stream", out["name"], [*outs[-1][2], text])
                else:
                    outs.append(("stream", out["name"], [text]))
            elif kind in ("execute_result", "display_data"):
                data = {m: "".join(v) if isinstance(v, list) else v
                        for m, v in out.get("data", {}).items() if m.startswith("text/")}
                if data:
                    outs.append(("data", json.dumps(data, sort_keys=True)))
            else:
                outs.append((kind, out.get("ename"), out.get("evalue")))
        cells.append([_join_run(o) if o[0] == "stream" else o for o in outs])
    return cells


def _join_run(stream: tuple) -> tuple:
    """One text for a run of stream outputs. myst-nb's executed copy may hold the run merged
    into its first output *and* the later pieces again; the stored notebook holds it once.
    nbval, which runs every chapter again, still compares the stored text exactly."""
    kind, name, pieces = stream
    first, rest = pieces[0], "".join(pieces[1:])
    text = first if rest and len(first) > len(rest) and first.endswith(rest) else first + rest
    # When one print's writes straddle a flush of the kernel's output buffer, myst-nb's merge
    # joins the two pieces with a line break: compare the words, not the white space.
    return kind, name, " ".join(text.split())


@pytest.mark.parametrize("nb", CHAPTERS, ids=lambda p: p.name)
def test_the_build_reproduces_the_stored_outputs(nb: Path):
    """The book build executes every chapter afresh (`execute_notebooks: force`); its copy must
    print exactly what the committed notebook stores, cell by cell. This is what
    `python3 tasks.py notebooks` would change, checked without executing the chapter again."""
    copy = BUILD_COPIES / nb.name
    if not copy.exists() or copy.stat().st_mtime < nb.stat().st_mtime:
        message = f"no build of {nb.name} newer than the notebook: run `python3 tasks.py book`"
        if os.environ.get("LRCONV_REQUIRE_BUILD"):
            pytest.fail(message)
        pytest.skip(message)
    stored, built = comparable_outputs(load(nb)), comparable_outputs(load(copy))
    assert len(stored) == len(built), f"{nb.name}: the build has another number of code cells"
    diffs = [(i, s, b) for i, (s, b) in enumerate(zip(stored, built, strict=True)) if s != b]
    assert not diffs, (
        f"{nb.name}: the build prints something else than the stored notebook in code cell(s) "
        f"{[d[0] for d in diffs]}; first: stored {diffs[0][1]!r:.600} vs built "
        f"{diffs[0][2]!r:.600}. Rerun `python3 tasks.py notebooks` and look at the diff.")
