#!/usr/bin/env python3
"""Build the PDF handout, _build/pdf/book.pdf (`python3 tasks.py pdf`).

1. The whole book as one HTML page (Sphinx's singlehtml builder) into _build/print/. Notebooks
   are not executed again: the build uses their stored outputs, which are committed and checked
   by nbval. The execution status page is left out (it is about the HTML build).
2. That page is served on 127.0.0.1 and opened in Debian's Chromium (Playwright); once MathJax
   has typeset it, Chromium prints it to an A4 PDF with page numbers.

Nothing is fetched from the network: requests outside the local server are blocked (and would
be reported). Needs `chromium` on PATH (Debian: `apt-get install chromium`).
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import time
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # run as a script: make the `scripts` package importable
    sys.path.insert(0, str(ROOT))

from scripts.site_tools import (  # noqa: E402
    WAIT_FOR_IMAGES_JS,
    WAIT_FOR_MATHJAX_JS,
    chromium,
    serve,
    venv_tool,
)

PRINT = ROOT / "_build" / "print"  # singlehtml build: PRINT/_build/singlehtml
PDF = ROOT / "_build" / "pdf" / "book.pdf"
PRINT_SCALE = 0.85  # body text about 10 pt; code lines of ~90 characters fit the width
LEFT_OUT = {"book/status"}  # pages that only make sense in the HTML build

FOOTER = (
    '<div style="font-size:8px; width:100%; padding:0 16mm; color:#555; display:flex;'
    ' justify-content:space-between; font-family:sans-serif;">'
    '<span class="title"></span>'
    '<span><span class="pageNumber"></span> / <span class="totalPages"></span></span></div>'
)

# The handout is read on paper: no site navigation, no buttons, every solution closed as on
# the page, long code lines wrapped (paper cannot scroll), code and figures kept whole where
# possible.
PRINT_CSS = """
.bd-header, .bd-sidebar-primary, .bd-sidebar-secondary, .header-article, .prev-next-area,
.bd-footer, .bd-footer-article, .bd-footer-content, .copybtn, .search-button, #pst-back-to-top,
.sidebar-toggle, .theme-switch-button, .launch-buttons, .dropdown-launch-buttons,
.dropdown-download-buttons { display: none !important; }
.bd-main .bd-content .bd-article-container { max-width: 100% !important; }
.bd-page-width { max-width: 100% !important; }
figure, .cell_output img, table, pre, mjx-container[display="true"], div.cell_input,
div.cell_output, div.highlight { break-inside: avoid; }
pre { white-space: pre-wrap !important; overflow-wrap: anywhere; }
span[id^="document-"] + section { break-before: page; }
#jb-print-docs-body { break-after: page; }
.bd-main .bd-content #jb-print-docs-body h1 { font-size: 2.4em; margin-top: 40mm; }
.handout-byline { font-size: 1.1em; color: #444; text-align: center; margin: 1em 0 25mm; }
.bd-main .bd-content .bd-article h1:first-of-type { display: block !important; }
"""

# Paper cannot scroll: display math wider than the text column is scaled down to fit.
FIT_WIDE_MATH_JS = """
() => {
  let fitted = 0;
  document.querySelectorAll('mjx-container[display="true"]').forEach(el => {
    if (el.scrollWidth > el.clientWidth + 1) {
      el.style.zoom = (el.clientWidth / el.scrollWidth).toFixed(3);
      fitted += 1;
    }
  });
  return fitted;
}
"""

# The first printed page carries the book's title and authors instead of the first page's.
TITLE_PAGE_JS = """
([title, byline]) => {
  const head = document.querySelector('#jb-print-docs-body > h1');
  if (!head) { return false; }
  head.textContent = title;
  const line = document.createElement('p');
  line.className = 'handout-byline';
  line.textContent = byline;
  head.after(line);
  return true;
}
"""


def _filter_toc(node: object) -> object:
    if isinstance(node, dict):
        return {k: _filter_toc(v) for k, v in node.items()}
    if isinstance(node, list):
        kept = [n for n in node
                if not (isinstance(n, dict) and str(n.get("file", "")) in LEFT_OUT)]
        return [_filter_toc(n) for n in kept]
    return node


def build_singlehtml() -> Path:
    """Build the book as one page from stored outputs; return the folder of the page."""
    PRINT.mkdir(parents=True, exist_ok=True)
    config = yaml.safe_load((ROOT / "_config.yml").read_text())
    config.setdefault("execute", {})["execute_notebooks"] = "off"
    # The copied config lives under _build/print: local extension folders must stay absolute.
    extensions = config.setdefault("sphinx", {}).get("local_extensions") or {}
    config["sphinx"]["local_extensions"] = {
        name: str((ROOT / folder).resolve()) for name, folder in extensions.items()
    } or None
    # Links to the left-out pages become plain text (the strict HTML build checks every link).
    sphinx_config = config.setdefault("sphinx", {}).setdefault("config", {})
    sphinx_config["suppress_warnings"] = [
        *sphinx_config.get("suppress_warnings", []), "myst.xref_missing", "ref.doc",
    ]
    (PRINT / "_config.yml").write_text(yaml.safe_dump(config, sort_keys=False))
    toc = _filter_toc(yaml.safe_load((ROOT / "_toc.yml").read_text()))
    (PRINT / "_toc.yml").write_text(yaml.safe_dump(toc, sort_keys=False))
    out = PRINT / "_build" / "singlehtml"
    shutil.rmtree(out, ignore_errors=True)
    cmd = [
        venv_tool("jupyter-book"), "build", str(ROOT), "--builder", "singlehtml",
        "--config", str(PRINT / "_config.yml"), "--toc", str(PRINT / "_toc.yml"),
        "--path-output", str(PRINT), "--all", "-q",
    ]
    print("+", " ".join(cmd), flush=True)
    subprocess.run(cmd, cwd=ROOT, check=True, timeout=1800)
    return out


def print_pdf(folder: Path, pdf: Path) -> dict:
    """Print the single page in `folder` to `pdf` with Chromium; return what was seen."""
    # Sphinx writes the single page as <root doc>.html (book/intro.html) but with links relative
    # to the output folder: served from the folder itself, its styles, MathJax and images load.
    root_doc = yaml.safe_load((ROOT / "_toc.yml").read_text())["root"]
    page_file = folder / "handout.html"
    shutil.copyfile(folder / f"{Path(root_doc).with_suffix('')}.html", page_file)
    pdf.parent.mkdir(parents=True, exist_ok=True)
    blocked: list[str] = []
    with serve(folder) as base, chromium() as browser:
        # Lay the page out at the width of the printed text column, so that what is measured
        # before printing (wide math) is what the paper gets.
        column = round((210 - 2 * 16) / 25.4 * 96 / PRINT_SCALE)
        context = browser.new_context(viewport={"width": column, "height": 1200})

        def route(r: object) -> None:
            if r.request.url.startswith((base, "data:", "blob:")):
                r.continue_()
            else:
                blocked.append(r.request.url)
                r.abort("blockedbyclient")

        context.route("**/*", route)
        page = context.new_page()
        page.set_default_timeout(120_000)
        page.goto(base + page_file.relative_to(folder).as_posix(), wait_until="load")
        mathjax = page.evaluate(WAIT_FOR_MATHJAX_JS)
        page.evaluate(WAIT_FOR_IMAGES_JS)
        page.add_style_tag(content=PRINT_CSS)
        config = yaml.safe_load((ROOT / "_config.yml").read_text())
        byline = f"{config.get('author', '')}, {time.strftime('%Y-%m-%d')}".strip(", ")
        page.evaluate(TITLE_PAGE_JS, [config.get("title", ""), byline])
        page.emulate_media(media="print")
        fitted = page.evaluate(FIT_WIDE_MATH_JS)
        seen = page.evaluate(
            "() => ({math: document.querySelectorAll('span.math, div.math').length,"
            " typeset: document.querySelectorAll('mjx-container').length,"
            " images: document.images.length,"
            " content_images: [...document.querySelectorAll('article img')]"
            "   .filter(i => /\\.(png|jpe?g)$/i.test(i.getAttribute('src') || '')).length,"
            " broken: [...document.images].filter(i => !i.naturalWidth).length})"
        )
        page.pdf(
            path=str(pdf), format="A4", print_background=True, scale=PRINT_SCALE,
            margin={"top": "16mm", "bottom": "18mm", "left": "16mm", "right": "16mm"},
            display_header_footer=True, header_template="<span></span>", footer_template=FOOTER,
        )
        context.close()
    return {"page": page_file.name, "mathjax": mathjax, "blocked": blocked,
            "wide_math_fitted": fitted, **seen}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reuse-html", action="store_true",
                        help="print the existing single-page build instead of rebuilding it")
    parser.add_argument("--output", type=Path, default=PDF, help=f"default: {PDF}")
    args = parser.parse_args(argv)
    started = time.perf_counter()
    folder = PRINT / "_build" / "singlehtml"
    if not args.reuse_html or not folder.exists():
        folder = build_singlehtml()
    try:
        seen = print_pdf(folder, args.output)
    except LookupError as err:
        print(f"Cannot print the PDF: {err}", file=sys.stderr)
        return 2
    problems = []
    if seen["blocked"]:
        problems.append(f"requests outside the site were blocked: {sorted(set(seen['blocked']))}")
    if seen["math"] and not seen["mathjax"].startswith("typeset"):
        problems.append(f"MathJax did not typeset the page ({seen['mathjax']})")
    if seen["broken"]:
        problems.append(f"{seen['broken']} image(s) did not load")
    seen["seconds"] = round(time.perf_counter() - started, 1)
    seen["problems"] = problems
    args.output.with_suffix(".json").write_text(json.dumps(seen, indent=1) + "\n")
    print(f"{args.output}: {seen['math']} math elements ({seen['typeset']} typeset), "
          f"{seen['content_images']} figures, {seen['seconds']:.0f} s")
    for problem in problems:
        print("PROBLEM:", problem, file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
