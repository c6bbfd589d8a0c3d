"""Sphinx extension: a box at the top of every chapter page that links its student notebook.

Registered in _config.yml (``sphinx: local_extensions``). On the HTML page of each chapter
(a notebook book/NN_name.ipynb) it adds, under the title, relative links to
``student/NN_name.ipynb`` and to the zip of all student notebooks. Those files are written into
the built site by ``scripts/editions.py student --html _build/html`` after the build
(``python3 tasks.py book`` runs both), so the links work offline. Other builders (the single
page the PDF is printed from) get no box.

It also defines MyST substitutions from _config.yml, so that pages quote the repository without
repeating its address: ``{{ repository_url }}`` (as a link) and ``{{ install_everything }}``
(a code block with the pip command that installs what every chapter needs outside the
repository, as the student notebooks' first cells do, chapter by chapter).
"""

from __future__ import annotations

import html
import json
import re
import sys
from pathlib import Path

from sphinx.application import Sphinx
from sphinx.util.osutil import relative_uri

# The same names as scripts/editions.py (STUDENT_FOLDER, ZIP_NAME); a test keeps them in step.
STUDENT_FOLDER = "student"
ZIP_NAME = "lrconv-student-notebooks.zip"
CHAPTER = re.compile(r"book/\d\d_\w+")
HELP_PAGE = "book/troubleshooting"


# Binder runs the repository's postBuild after installing environment.yml; when that writes the
# student edition (BINDER_STUDENT_FOLDER), the box also opens the student notebook on Binder.
BINDER_STUDENT_FOLDER = "_build/student"


def binder_student_url(root: Path, notebook: str) -> str | None:
    """The Binder URL of a student notebook, or None when Binder would not build the edition."""
    post_build = root / "postBuild"
    if not post_build.is_file() or "editions.py student" not in post_build.read_text():
        return None
    import yaml

    config = yaml.safe_load((root / "_config.yml").read_text())
    url = str(config["repository"]["url"]).rstrip("/")
    branch = config["repository"].get("branch") or "main"
    hub = str((config.get("launch_buttons") or {}).get("binderhub_url") or "").rstrip("/")
    if not hub or not url.startswith("https://github.com/"):
        return None
    repo = url.removeprefix("https://github.com/")
    return f"{hub}/v2/gh/{repo}/{branch}?urlpath=lab/tree/{BINDER_STUDENT_FOLDER}/{notebook}"


def student_box(pagename: str, notebook: str, target_uri: str, help_uri: str | None,
                binder_url: str | None = None) -> str:
    """The HTML of the box for one chapter page."""
    here = target_uri
    nb_uri = html.escape(relative_uri(here, f"{STUDENT_FOLDER}/{notebook}"))
    zip_uri = html.escape(relative_uri(here, f"{STUDENT_FOLDER}/{ZIP_NAME}"))
    binder = ""
    if binder_url is not None:
        binder = (f' <a class="reference external" href="{html.escape(binder_url)}">Open it on '
                  "Binder</a>.")
    how = ""
    if help_uri is not None:
        how = (f' How to open it on Colab or Binder: <a class="reference internal" '
               f'href="{html.escape(help_uri)}#binder-and-colab">Troubleshooting</a>.')
    return (
        '<div class="admonition note student-edition" role="note">'
        '<p class="admonition-title">Student edition</p>'
        f'<p>Work through this chapter in Jupyter with <a class="reference download" '
        f'href="{nb_uri}" download>{html.escape(notebook)}</a>: the exercises keep their stubs '
        "and checkers, without solutions or outputs, and its first cell installs what the "
        f'chapter needs. All chapters: <a class="reference download" href="{zip_uri}" '
        f"download>{ZIP_NAME}</a>.{binder}{how}</p></div>"
    )


def _add_box(app: Sphinx, pagename: str, templatename: str, context: dict, doctree) -> None:
    if app.builder.name != "html" or not CHAPTER.fullmatch(pagename):
        return
    source = Path(app.env.doc2path(pagename))
    if source.suffix != ".ipynb" or "body" not in context:
        return
    help_uri = (app.builder.get_relative_uri(pagename, HELP_PAGE)
                if HELP_PAGE in app.env.all_docs else None)
    root = Path(__file__).resolve().parents[1]
    box = student_box(pagename, source.name, app.builder.get_target_uri(pagename), help_uri,
                      binder_student_url(root, source.name))
    body = context["body"]
    end = body.find("</h1>")
    context["body"] = body[:end + 5] + box + body[end + 5:] if end >= 0 else box + body


def substitutions(root: Path) -> dict[str, str]:
    """The MyST substitutions this extension defines (see the module docstring)."""
    if str(root) not in sys.path:
        sys.path.insert(0, str(root))
    from scripts.editions import chapter_docs, repository, requirements

    url, _branch = repository(root)
    needs: dict[str, str] = {}
    for doc in chapter_docs(root):
        needs.update(requirements(json.loads((root / f"{doc}.ipynb").read_text()), root))
    command = "%pip install " + " ".join(f'"{req}"' for req in needs.values())
    return {
        "repository_url": f"<{url}>",
        "install_everything": f"```text\n{command}\n```",
    }


def _define_substitutions(app: Sphinx, config) -> None:
    root = Path(__file__).resolve().parents[1]
    config.myst_substitutions = {**(config.myst_substitutions or {}), **substitutions(root)}


def setup(app: Sphinx) -> dict:
    app.connect("config-inited", _define_substitutions)
    app.connect("html-page-context", _add_box)
    return {"version": "1.0", "parallel_read_safe": True, "parallel_write_safe": True}
