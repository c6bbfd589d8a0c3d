"""The built book in a real browser: every page of _toc.yml opened offline in Debian's Chromium.

Per page: HTTP 200, all math typeset by the locally served MathJax, every image loaded, no cell
error shown, no console error (the theme's two harmless ones aside) and not one request leaving
the site. A full-page screenshot of each page goes to _build/screenshots/ and the figures of
each page to _build/browser-report.json.

Without Chromium these tests skip and say how to get it; with LRCONV_REQUIRE_BROWSER=1 (CI)
they fail instead.
"""

from __future__ import annotations

import contextlib
import json
import time
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import urljoin, urlparse
from urllib.request import urlopen

import pytest
import yaml
from browser_support import browser_required, shows_seed_comparison

from scripts.editions import STUDENT_FOLDER, ZIP_NAME
from scripts.site_tools import (
    BUILD,
    HTML,
    ROOT,
    build_html,
    chapter_docs,
    chromium,
    serve,
    source_of,
    stale_docs,
    toc_docs,
    visit,
)

DOCS = toc_docs()
NOTEBOOK_DOCS = [d for d in DOCS if (ROOT / f"{d}.ipynb").exists()]
SCREENSHOTS = BUILD / "screenshots"
REPORT = BUILD / "browser-report.json"


def _skip_or_fail(reason: str) -> None:
    if browser_required():
        pytest.fail(f"LRCONV_REQUIRE_BROWSER=1 but {reason}", pytrace=False)
    pytest.skip(reason)


@pytest.fixture(scope="session")
def built_html() -> Path:
    """_build/html, built first (strict, as `python3 tasks.py book`) if missing or stale."""
    stale = stale_docs()
    if stale:
        print(f"\nbuilding the book: {len(stale)} page(s) missing or older than their source")
        build_html()
    return HTML


@pytest.fixture(scope="session")
def site(built_html: Path):
    with serve(built_html) as base:
        yield base


@pytest.fixture(scope="session")
def browser():
    stack = contextlib.ExitStack()
    try:
        launched = stack.enter_context(chromium())
    except LookupError as err:
        _skip_or_fail(str(err))
    with stack:
        yield launched


@pytest.fixture(scope="session")
def pages(browser, site):
    """Visit each page once (lazily) and keep its figures; write the report at the end."""
    results: dict[str, dict] = {}

    def get(doc: str) -> dict:
        if doc not in results:
            shot = SCREENSHOTS / (doc.replace("/", "__") + ".png")
            results[doc] = visit(browser, site, doc, screenshot=shot)
        return results[doc]

    yield get
    if results:
        pages_out = {
            doc: {k: v for k, v in r.items() if k != "blocks"}
            for doc, r in results.items()
        }
        totals = {
            key: sum(len(r[key]) if isinstance(r[key], list) else r[key]
                     for r in pages_out.values())
            for key in ("math_nodes", "mjx_containers", "images", "blocked_requests",
                        "console_errors", "seconds")
        }
        REPORT.parent.mkdir(parents=True, exist_ok=True)
        REPORT.write_text(json.dumps({
            "generated": time.strftime("%Y-%m-%d %H:%M:%S"),
            "html": str(HTML.relative_to(ROOT)),
            "pages_in_toc": len(DOCS),
            "pages_visited": len(results),
            "totals": totals,
            "pages": pages_out,
        }, indent=1) + "\n")


@pytest.mark.parametrize("doc", DOCS)
def test_page_loads_without_errors(pages, doc):
    r = pages(doc)
    assert r["status"] == 200, f"{doc}: HTTP {r['status']}"
    assert not r["local_failures"], f"{doc}: site files failed to load: {r['local_failures']}"
    assert not r["error_outputs"], f"{doc}: the page shows a cell error: {r['error_outputs']}"
    assert not r["traceback_text"], f"{doc}: the page shows a Python traceback"
    assert not r["stderr_outputs"], f"{doc}: the page shows {r['stderr_outputs']} stderr output(s)"
    assert not r["widget_views"], (
        f"{doc}: {r['widget_views']} widget output(s) on the page, which a static page shows as "
        "blank space: tag the widget cell remove-output and follow it with a static figure"
    )
    assert not r["console_errors"], f"{doc}: console errors: {r['console_errors']}"


@pytest.mark.parametrize("doc", DOCS)
def test_math_is_typeset_offline(pages, doc):
    r = pages(doc)
    if r["math_nodes"]:
        assert r["mathjax"].startswith("typeset"), f"{doc}: MathJax state {r['mathjax']!r}"
    assert not r["untypeset_math"], f"{doc}: math left untypeset: {r['untypeset_math']}"
    assert r["mjx_containers"] >= r["math_nodes"], (
        f"{doc}: {r['math_nodes']} math nodes but {r['mjx_containers']} typeset"
    )
    assert not r["math_errors"], f"{doc}: MathJax could not typeset: {r['math_errors']}"
    assert not r["raw_latex"], f"{doc}: raw LaTeX on the page: {r['raw_latex']}"


@pytest.mark.parametrize("doc", DOCS)
def test_every_image_loads(pages, doc):
    r = pages(doc)
    assert not r["broken_images"], f"{doc}: images that did not load: {r['broken_images']}"


@pytest.mark.parametrize("doc", DOCS)
def test_nothing_is_requested_outside_the_site(pages, doc):
    r = pages(doc)
    assert not r["blocked_requests"], (
        f"{doc}: {len(r['blocked_requests'])} request(s) to other sites while loading: "
        f"{sorted(set(r['blocked_requests']))}"
    )


def test_chapter_2_shows_the_full_seed_separable_comparison(pages):
    """The seed's comparison: -2 by the full convolution, 0 by its hand procedure, -2 separable."""
    doc = "book/02_separable"
    if doc not in DOCS:
        pytest.skip(f"{doc} is not in _toc.yml yet")
    tables = [b for b in pages(doc)["blocks"] if shows_seed_comparison(b)]
    assert tables, (
        f"{doc}: no table or output lists -2 (full), 0 (hand procedure), -2 (separable) in order"
    )


# --- launch and download buttons (static checks of the built HTML) -----------------------------


class _Links(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.hrefs: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "a":
            self.hrefs.extend(v for k, v in attrs if k == "href" and v)


def _repository() -> tuple[str, str, str]:
    config = yaml.safe_load((ROOT / "_config.yml").read_text())
    repo = config["repository"]
    path = urlparse(repo["url"]).path.strip("/")
    assert urlparse(repo["url"]).netloc == "github.com" and path.count("/") == 1, repo["url"]
    assert (repo.get("path_to_book") or "") == "", "launch links assume the book at the repo root"
    return path, repo.get("branch", "main"), config["launch_buttons"]["notebook_interface"]


def test_binder_uses_environment_yml_at_the_repository_root():
    assert (ROOT / "environment.yml").is_file()
    # Binder reads a binder/ or .binder/ folder first; none must shadow environment.yml.
    assert not (ROOT / "binder").exists() and not (ROOT / ".binder").exists()


@pytest.mark.parametrize("doc", NOTEBOOK_DOCS)
def test_notebook_pages_have_launch_and_download_buttons(built_html, doc):
    repo, branch, interface = _repository()
    assert interface == "jupyterlab"
    notebook = f"{doc}.ipynb"
    parser = _Links()
    parser.feed((built_html / f"{doc}.html").read_text())
    hrefs = set(parser.hrefs)
    binder = f"https://mybinder.org/v2/gh/{repo}/{branch}?urlpath=lab/tree/{notebook}"
    colab = f"https://colab.research.google.com/github/{repo}/blob/{branch}/{notebook}"
    assert binder in hrefs, f"{doc}: no Binder button ({binder})"
    assert colab in hrefs, f"{doc}: no Colab button ({colab})"
    downloads = [h for h in hrefs if h.endswith(f"_sources/{notebook}")]
    assert downloads, f"{doc}: no download button for {notebook}"
    served = (built_html / f"{doc}.html").parent / downloads[0]
    assert served.resolve().is_file(), f"{doc}: download link {downloads[0]} points nowhere"
    assert served.resolve().read_bytes() == source_of(doc).read_bytes(), (
        f"{doc}: the downloadable notebook differs from book/{Path(notebook).name}"
    )


CHAPTER_DOCS = chapter_docs()


@pytest.mark.parametrize("doc", CHAPTER_DOCS)
def test_chapter_page_links_its_student_notebook(built_html, site, doc):
    """The box under the title links student/NN_name.ipynb and the zip, and the local server
    answers both with HTTP 200 (read from the built page; no browser needed)."""
    parser = _Links()
    parser.feed((built_html / f"{doc}.html").read_text())
    page_url = site + f"{doc}.html"
    hrefs = {urljoin(page_url, h) for h in parser.hrefs}
    notebook = site + f"{STUDENT_FOLDER}/{Path(doc).name}.ipynb"
    wanted = {notebook, site + f"{STUDENT_FOLDER}/{ZIP_NAME}"}
    assert wanted <= hrefs, f"{doc}: no link to {sorted(wanted - hrefs)}"
    for url in sorted(wanted):
        assert url.startswith(site)  # relative links: they work offline
        with urlopen(url, timeout=30) as response:
            assert response.status == 200, f"{doc}: {url} answers HTTP {response.status}"
            body = response.read()
        assert body, f"{doc}: {url} is empty"
    student = json.loads(urlopen(notebook, timeout=30).read())
    assert all(not c.get("outputs") for c in student["cells"]), f"{notebook} has outputs"
    assert not any("remove-cell" in c["metadata"].get("tags", []) for c in student["cells"])


def test_index_redirects_to_the_first_page(browser, site):
    context = browser.new_context()
    context.route("**/*", lambda r: r.continue_() if r.request.url.startswith(site) else r.abort())
    try:
        page = context.new_page()
        page.goto(site + "index.html")
        page.wait_for_url(f"**/{DOCS[0]}.html", timeout=10_000)
        assert page.title(), "the first page has no title"
    finally:
        context.close()
