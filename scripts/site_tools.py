"""Tooling for the built book: the table of contents, a local web server, a headless browser.

Used by the PDF script (scripts/build_pdf.py), the student and instructor editions
(scripts/editions.py) and the tests. The built HTML is served from an in-process HTTP server on
127.0.0.1 and opened in Debian's Chromium through Playwright; every request that leaves the local
server is blocked and recorded. Nothing here needs the network.
"""

from __future__ import annotations

import contextlib
import functools
import http.server
import re
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
BUILD = ROOT / "_build"
HTML = BUILD / "html"

# Debian's Chromium, headless, with its background network traffic switched off.
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]

# Page errors the book theme raises on every page; they change nothing a reader sees.
KNOWN_HARMLESS_CONSOLE_ERRORS = (
    "Identifier 'THEBE_JS_URL' has already been declared",
    "Got invalid theme mode",
)

HOW_TO_GET_A_BROWSER = (
    "install Debian's Chromium with `sudo apt-get install chromium` (the tests drive it through "
    "Playwright; Playwright's own browser download is not used)"
)


def toc_docs(root: Path = ROOT) -> list[str]:
    """Every page of _toc.yml, root first, as docnames (e.g. 'book/02_separable')."""
    toc = yaml.safe_load((root / "_toc.yml").read_text())
    docs = [toc["root"]]

    def walk(node: object) -> None:
        if isinstance(node, dict):
            if "file" in node:
                docs.append(str(node["file"]))
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for item in node:
                walk(item)

    walk(toc.get("parts", toc.get("chapters", [])))
    return [str(Path(d).with_suffix("")) for d in docs]


def chapter_docs(root: Path = ROOT) -> list[str]:
    """The chapters of _toc.yml, in order: the pages whose source is book/NN_name.ipynb."""
    return [
        d for d in toc_docs(root)
        if re.fullmatch(r"book/\d\d_\w+", d) and (root / f"{d}.ipynb").is_file()
    ]


def source_of(doc: str, root: Path = ROOT) -> Path:
    """The source file (.md or .ipynb) of a docname."""
    for suffix in (".ipynb", ".md"):
        path = root / f"{doc}{suffix}"
        if path.exists():
            return path
    raise FileNotFoundError(f"no source for {doc!r} (.ipynb or .md)")


def venv_tool(name: str) -> str:
    """A console script of the running interpreter's environment (falls back to PATH)."""
    here = Path(sys.executable).parent / name
    found = str(here) if here.exists() else shutil.which(name)
    if not found:
        raise FileNotFoundError(f"{name} not found next to {sys.executable} or on PATH")
    return found


def build_html(root: Path = ROOT) -> None:
    """The strict HTML build, run as `python3 tasks.py book` (the one home of that command)."""
    run = subprocess.run(
        [sys.executable, str(root / "tasks.py"), "book"],
        cwd=root, capture_output=True, text=True, timeout=3600,
    )
    if run.returncode:
        raise RuntimeError("the book build failed:\n" + run.stdout[-4000:] + run.stderr[-4000:])


def stale_docs(html: Path = HTML, root: Path = ROOT) -> list[str]:
    """Pages of the toc whose built HTML is missing or older than their source."""
    stale = []
    for doc in toc_docs(root):
        page = html / f"{doc}.html"
        if not page.exists() or page.stat().st_mtime < source_of(doc, root).stat().st_mtime:
            stale.append(doc)
    return stale


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    extensions_map = {
        **http.server.SimpleHTTPRequestHandler.extensions_map,
        ".js": "text/javascript",
        ".mjs": "text/javascript",
        ".woff": "font/woff",
        ".woff2": "font/woff2",
        ".ipynb": "application/x-ipynb+json",
    }

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002
        pass


@contextlib.contextmanager
def serve(directory: Path) -> Iterator[str]:
    """Serve `directory` on 127.0.0.1 (a free port) in a thread; yield the base URL."""
    handler = functools.partial(_QuietHandler, directory=str(directory))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def chromium_path() -> str | None:
    return shutil.which("chromium") or shutil.which("chromium-browser")


@contextlib.contextmanager
def chromium() -> Iterator[object]:
    """Launch Debian's Chromium through Playwright (sync API); yield the Browser.

    Raises LookupError (with how to get one) when Chromium or playwright is missing.
    """
    exe = chromium_path()
    if exe is None:
        raise LookupError("no `chromium` on PATH: " + HOW_TO_GET_A_BROWSER)
    try:
        from playwright.sync_api import sync_playwright
    except ImportError as err:
        raise LookupError(
            f"playwright is not importable ({err}): run the tests with `python3 tasks.py test`, "
            "which installs the pinned lock"
        ) from err
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=exe, args=CHROMIUM_ARGS, headless=True)
        try:
            yield browser
        finally:
            browser.close()


# Wait until MathJax has typeset the page (or say it is absent), then until fonts are in.
WAIT_FOR_MATHJAX_JS = """
async () => {
  const timeout = new Promise(resolve => setTimeout(() => resolve('timeout'), 30000));
  const ready = (async () => {
    if (!window.MathJax || !window.MathJax.startup) { return 'absent'; }
    await window.MathJax.startup.promise;
    return 'typeset ' + window.MathJax.version;
  })();
  const state = await Promise.race([ready, timeout]);
  await Promise.race([document.fonts.ready, new Promise(r => setTimeout(r, 10000))]);
  return state;
}
"""

# Wait until every <img> has loaded or failed (lazy images are made eager first).
WAIT_FOR_IMAGES_JS = """
async () => {
  const imgs = [...document.images];
  imgs.forEach(img => { if (img.loading === 'lazy') { img.loading = 'eager'; } });
  await Promise.race([
    Promise.all(imgs.map(img => img.complete ? null : new Promise(r => {
      img.addEventListener('load', r); img.addEventListener('error', r);
    }))),
    new Promise(r => setTimeout(r, 20000)),
  ]);
}
"""

# What a reader would see, counted. Raw LaTeX is looked for in the page text outside code.
PAGE_FIGURES_JS = r"""
() => {
  const mathNodes = [...document.querySelectorAll('span.math, div.math')];
  const untypeset = mathNodes
    .filter(el => !el.querySelector('mjx-container'))
    .map(el => el.textContent.trim().slice(0, 80));
  const imgs = [...document.images];
  const broken = imgs.filter(img => !(img.complete && img.naturalWidth > 0))
    .map(img => img.getAttribute('src'));
  const prose = document.body.cloneNode(true);
  prose.querySelectorAll(
    'pre, code, script, style, textarea, mjx-container, mjx-assistive-mml, .highlight'
  ).forEach(el => el.remove());
  const text = prose.textContent;
  const rawLatex = [];
  const pattern = new RegExp(String.raw`\$\$|\\[()[\]]|\\(?:begin|end)\{`
    + String.raw`|\\(?:frac|sum|mathbf|mathrm|left|right)\b`, 'g');
  let m;
  while ((m = pattern.exec(text)) !== null && rawLatex.length < 10) {
    rawLatex.push(text.slice(Math.max(0, m.index - 40), m.index + 40).replace(/\s+/g, ' '));
  }
  const errors = [...document.querySelectorAll(
    '.output.error, .output.traceback, .cell_output .traceback, .output_error'
  )].map(el => el.textContent.trim().slice(0, 200));
  const article = document.querySelector('article, main, [role=main]') || document.body;
  return {
    title: document.title,
    math_nodes: mathNodes.length,
    mjx_containers: document.querySelectorAll('mjx-container').length,
    untypeset_math: untypeset,
    math_errors: [...document.querySelectorAll('mjx-merror')]
      .map(el => el.textContent.slice(0, 80)),
    raw_latex: rawLatex,
    images: imgs.length,
    broken_images: broken,
    figures: document.querySelectorAll('figure').length,
    error_outputs: errors,
    traceback_text: document.body.innerText.includes('Traceback (most recent call last)'),
    stderr_outputs: document.querySelectorAll('.output.stderr').length,
    // A widget output left on a page renders as nothing: a static page cannot run it.
    widget_views: document.querySelectorAll(
      'script[type="application/vnd.jupyter.widget-view+json"]').length,
    tables: document.querySelectorAll('article table, main table').length,
    // Display math and code wider than the text column (the page scrolls them sideways; a
    // printout cuts them): reported, not failed.
    wide_math: [...document.querySelectorAll('div.math')]
      .filter(el => [el, el.querySelector('mjx-container')]
        .some(e => e && e.scrollWidth > e.clientWidth + 2))
      .map(el => (el.querySelector('mjx-assistive-mml') || el).textContent.trim().slice(0, 60)),
    wide_code_blocks: [...document.querySelectorAll('div.cell pre, div.highlight pre')]
      .filter(el => el.scrollWidth > el.clientWidth + 2).length,
    blocks: [...document.querySelectorAll('table, .cell_output, p, li')]
      .map(el => el.innerText).filter(t => /\d/.test(t)),
    text_length: article.innerText.length,
  };
}
"""


def _relative(path: Path | None) -> str | None:
    if path is None:
        return None
    try:
        return str(path.relative_to(ROOT))
    except ValueError:
        return str(path)


def visit(browser: object, base: str, doc: str, screenshot: Path | None = None) -> dict:
    """Open one built page in a fresh browser context and measure what a reader gets.

    Every request that does not go to `base` is aborted and recorded in `blocked`.
    """
    started = time.perf_counter()
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    blocked: list[str] = []
    local_failures: list[str] = []
    console_errors: list[str] = []
    local_requests = 0

    def route(r: object) -> None:
        nonlocal local_requests
        url = r.request.url
        if url.startswith(base) or url.startswith(("data:", "blob:", "about:")):
            local_requests += 1
            r.continue_()
        else:
            blocked.append(url)
            r.abort("blockedbyclient")

    context.route("**/*", route)
    page = context.new_page()
    page.set_default_timeout(60_000)
    page.on("console", lambda msg: msg.type == "error" and console_errors.append(msg.text))
    page.on("pageerror", lambda err: console_errors.append(str(err)))
    page.on("response", lambda r: r.status >= 400 and local_failures.append(f"{r.status} {r.url}"))
    page.on(
        "requestfailed",
        lambda r: r.url.startswith(base) and local_failures.append(f"{r.failure} {r.url}"),
    )
    try:
        response = page.goto(base + f"{doc}.html", wait_until="load")
        mathjax = page.evaluate(WAIT_FOR_MATHJAX_JS)
        page.evaluate(WAIT_FOR_IMAGES_JS)
        figures = page.evaluate(PAGE_FIGURES_JS)
        if screenshot is not None:
            screenshot.parent.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(screenshot), full_page=True)
    finally:
        context.close()
    # Blocked requests also show up as "Failed to load resource" console errors: they are
    # reported once, as blocked requests.
    errors = [
        e for e in console_errors
        if not any(k in e for k in KNOWN_HARMLESS_CONSOLE_ERRORS)
        and not (blocked and "net::ERR_BLOCKED_BY_CLIENT" in e)
    ]
    return {
        "doc": doc,
        "status": response.status if response is not None else None,
        "mathjax": mathjax,
        **figures,
        "local_requests": local_requests,
        "local_failures": local_failures,
        "blocked_requests": blocked,
        "console_errors": errors,
        "ignored_console_errors": [e for e in console_errors if e not in errors],
        "seconds": round(time.perf_counter() - started, 2),
        "screenshot": _relative(screenshot),
    }
