"""The PDF handout (`python3 tasks.py pdf`, scripts/build_pdf.py): built, complete, math typeset.

The PDF is rebuilt unless _build/pdf/book.pdf is newer than the HTML build and every page's
source. Text is read back with poppler's pdftotext. Without Chromium or poppler these tests skip
(and fail under LRCONV_REQUIRE_BROWSER=1, as in CI).
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from browser_support import browser_required, normal_text, shows_seed_comparison

from scripts.site_tools import (
    BUILD,
    HOW_TO_GET_A_BROWSER,
    HTML,
    ROOT,
    chromium_path,
    source_of,
    toc_docs,
)

PDF = BUILD / "pdf" / "book.pdf"
SCRIPT = ROOT / "scripts" / "build_pdf.py"
LEFT_OUT = {"book/status"}  # HTML-only page (see scripts/build_pdf.py)
DOCS = [d for d in toc_docs() if d not in LEFT_OUT]


def _skip_or_fail(reason: str) -> None:
    if browser_required():
        pytest.fail(f"LRCONV_REQUIRE_BROWSER=1 but {reason}", pytrace=False)
    pytest.skip(reason)


def _is_fresh(pdf: Path) -> bool:
    if not pdf.exists() or not pdf.with_suffix(".json").exists():
        return False
    inputs = [source_of(d) for d in toc_docs()] + [ROOT / "_config.yml", ROOT / "_toc.yml", SCRIPT]
    index = HTML / "index.html"
    if index.exists():
        inputs.append(index)
    return all(pdf.stat().st_mtime > p.stat().st_mtime for p in inputs)


@pytest.fixture(scope="module")
def handout() -> dict:
    if chromium_path() is None:
        _skip_or_fail("no `chromium` on PATH: " + HOW_TO_GET_A_BROWSER)
    for tool in ("pdftotext", "pdfinfo", "pdfimages"):
        if shutil.which(tool) is None:
            _skip_or_fail(f"`{tool}` not found: `sudo apt-get install poppler-utils`")
    if not _is_fresh(PDF):
        run = subprocess.run([sys.executable, str(SCRIPT)], cwd=ROOT, capture_output=True,
                             text=True, timeout=1800)
        assert run.returncode == 0, (
            f"scripts/build_pdf.py failed:\n{run.stdout[-3000:]}\n{run.stderr[-3000:]}"
        )
    info = subprocess.run(["pdfinfo", str(PDF)], capture_output=True, text=True, check=True)
    text = subprocess.run(["pdftotext", "-enc", "UTF-8", str(PDF), "-"],
                          capture_output=True, text=True, check=True).stdout
    images = subprocess.run(["pdfimages", "-list", str(PDF)],
                            capture_output=True, text=True, check=True).stdout
    return {
        "pages": int(re.search(r"^Pages:\s+(\d+)", info.stdout, re.M).group(1)),
        "text": normal_text(text),
        "images": max(0, len(images.strip().splitlines()) - 2),  # two header lines
        "seen": json.loads(PDF.with_suffix(".json").read_text()),
    }


def title_of(doc: str) -> str:
    """The first level-1 heading of a page's source."""
    path = source_of(doc)
    if path.suffix == ".ipynb":
        cells = json.loads(path.read_text())["cells"]
        text = "\n".join("".join(c["source"]) for c in cells if c["cell_type"] == "markdown")
    else:
        text = path.read_text()
    m = re.search(r"^# (.+)$", text, re.M)
    assert m, f"{doc}: no '# title' heading"
    return re.sub(r"[*_`]", "", m.group(1)).strip()


def test_page_count_is_sensible(handout):
    assert len(DOCS) + 1 <= handout["pages"] <= 60 * len(DOCS), handout["pages"]


def test_title_page_and_every_chapter_title(handout):
    from yaml import safe_load

    book_title = safe_load((ROOT / "_config.yml").read_text())["title"]
    assert normal_text(book_title) in handout["text"][:2000], "no title page"
    missing = [d for d in DOCS if normal_text(title_of(d)) not in handout["text"]]
    assert not missing, f"page titles missing from the PDF: {[title_of(d) for d in missing]}"


def test_math_is_typeset(handout):
    seen = handout["seen"]
    assert not seen["problems"], seen["problems"]
    assert seen["math"] > 0 and seen["typeset"] >= seen["math"], seen
    raw = re.findall(r".{0,40}(?:\$\$|\\begin\{|\\end\{|\\\(|\\\[|\\frac|\\sum\b).{0,40}",
                     handout["text"])
    assert not raw, f"raw LaTeX in the PDF text: {raw[:5]}"


def _stored_figures() -> int:
    """PNG/JPEG outputs stored in the notebooks of the PDF and not removed from the page."""
    hidden = {"remove-output", "remove-cell"}
    count = 0
    for doc in DOCS:
        path = source_of(doc)
        if path.suffix != ".ipynb":
            continue
        for cell in json.loads(path.read_text())["cells"]:
            if cell["cell_type"] != "code" or hidden & set(cell["metadata"].get("tags", [])):
                continue
            count += sum(any(m in out.get("data", {}) for m in ("image/png", "image/jpeg"))
                         for out in cell.get("outputs", []))
    return count


def test_figures_are_in_the_pdf(handout):
    seen = handout["seen"]
    assert not seen["broken"], f"{seen['broken']} image(s) failed to load before printing"
    expected = _stored_figures()
    assert seen["content_images"] >= expected > 0, (
        f"the notebooks store {expected} figures, the printed page has {seen['content_images']}"
    )
    assert handout["images"] >= seen["content_images"], (
        f"{seen['content_images']} figures on the page but {handout['images']} images in the PDF"
    )


def test_chapter_2_comparison_is_in_the_pdf(handout):
    """The seed's three numbers for the same window: -2 full, 0 hand procedure, -2 separable."""
    doc = "book/02_separable"
    if doc not in DOCS:
        pytest.skip(f"{doc} is not in _toc.yml yet")
    text = handout["text"]
    start = text.find(normal_text(title_of(doc)))
    assert start >= 0, "chapter 2's title is not in the PDF"
    assert shows_seed_comparison(text[start:]), (
        "chapter 2 in the PDF does not list -2 (full), 0 (hand procedure), -2 (separable)"
    )
