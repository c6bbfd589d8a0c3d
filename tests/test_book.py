"""Book-level checks: the table of contents, stored outputs, chapter structure, and that the
notebook check (nbval) is live."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
BOOK = ROOT / "book"
CHAPTERS = sorted(BOOK.glob("[0-9][0-9]_*.ipynb"))


def toc_files() -> list[str]:
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text())
    files = [toc["root"]]

    def walk(node):
        if isinstance(node, dict):
            if "file" in node:
                files.append(node["file"])
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for item in node:
                walk(item)

    walk(toc.get("parts", toc.get("chapters", [])))
    return files


def load(nb: Path) -> dict:
    return json.loads(nb.read_text())


def source(cell: dict) -> str:
    return "".join(cell["source"])


def test_toc_lists_exactly_the_pages_under_book():
    listed = toc_files()
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
    listed = [f for f in toc_files() if re.match(r"book/\d\d_", f)]
    assert listed == sorted(listed)
    assert listed, "no chapter notebooks listed"


@pytest.mark.parametrize("nb", CHAPTERS, ids=lambda p: p.name)
def test_notebook_is_stored_executed_without_errors(nb: Path):
    for i, cell in enumerate(load(nb)["cells"]):
        if cell["cell_type"] != "code" or not source(cell).strip():
            continue
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


def _mutate_first_checked_number(nb_json: dict) -> tuple[str, str]:
    """Change one digit in the first compared text output; return (before, after)."""
    for cell in nb_json["cells"]:
        tags = cell.get("metadata", {}).get("tags", [])
        if cell["cell_type"] != "code" or "nbval-ignore-output" in tags:
            continue
        for out in cell.get("outputs", []):
            if out["output_type"] == "stream":
                text = "".join(out["text"])
                holder, key = out, "text"
            elif "text/plain" in out.get("data", {}):
                text = "".join(out["data"]["text/plain"])
                holder, key = out["data"], "text/plain"
            else:
                continue
            m = re.search(r"\d", text)
            if m and not text.startswith("<Figure"):
                digit = str((int(m.group()) + 1) % 10)
                changed = text[: m.start()] + digit + text[m.end():]
                holder[key] = changed
                return text, changed
    raise AssertionError("no checked number found to change")


def _nbval(path: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "pytest", "--nbval", "--nbval-cell-timeout=300", "-q",
         "-p", "no:cacheprovider", "--rootdir", str(path.parent), str(path)],
        cwd=path.parent, capture_output=True, text=True, timeout=900,
    )


def test_nbval_is_live(tmp_path: Path):
    """A copy of chapter 2 passes nbval; the same copy with one stored number changed fails."""
    nb = BOOK / "02_separable.ipynb"
    if not nb.exists():
        nb = CHAPTERS[0]
    good = tmp_path / "good" / nb.name
    bad = tmp_path / "bad" / nb.name
    good.parent.mkdir()
    bad.parent.mkdir()
    shutil.copy(nb, good)
    data = load(nb)
    before, after = _mutate_first_checked_number(data)
    assert before != after
    bad.write_text(json.dumps(data, indent=1))
    ok = _nbval(good)
    assert ok.returncode == 0, ok.stdout[-3000:]
    failed = _nbval(bad)
    assert failed.returncode != 0, "nbval passed a notebook whose stored output was changed"
    assert "1 failed" in failed.stdout, failed.stdout[-3000:]


def _strip_images(nb_json: dict) -> dict:
    for cell in nb_json["cells"]:
        for out in cell.get("outputs", []):
            for mime in ("image/png", "image/jpeg"):
                out.get("data", {}).pop(mime, None)
    return nb_json


@pytest.mark.parametrize("nb", CHAPTERS, ids=lambda p: p.name)
def test_reexecution_reproduces_the_stored_notebook(nb: Path, tmp_path: Path):
    """`python3 tasks.py notebooks` on a copy leaves it as committed (images aside)."""
    copy = tmp_path / nb.name
    shutil.copy(nb, copy)
    for extra in BOOK.iterdir():  # data files a chapter may read next to it
        if extra.is_file() and extra.suffix not in {".ipynb", ".md"}:
            shutil.copy(extra, tmp_path / extra.name)
    run = subprocess.run(
        [sys.executable, str(ROOT / "tasks.py"), "notebooks", str(copy)],
        cwd=ROOT, capture_output=True, text=True, timeout=900,
    )
    assert run.returncode == 0, run.stdout[-2000:] + run.stderr[-2000:]
    assert _strip_images(load(copy)) == _strip_images(load(nb)), (
        f"{nb.name}: re-executing changes stored outputs; rerun `python3 tasks.py notebooks`"
    )
