#!/usr/bin/env python3
"""Student and instructor editions of the chapter notebooks, derived from book/NN_name.ipynb.

    python3 scripts/editions.py student --out _build/student [--html _build/html]
    python3 scripts/editions.py instructor --out _build/instructor

Student edition, one notebook per chapter of _toc.yml:
- cells tagged ``remove-cell`` (the hidden checks) are removed;
- solutions are removed: the Markdown from a ``{solution-start}`` fence to its ``{solution-end}``
  (also when they share a cell with other text), every code cell in between, and whole
  ``{solution}`` blocks; the exercise, its ``exercise-stub`` cell and the checker call after it
  stay;
- every output and execution count is cleared and the stored widget state dropped;
- a first code cell installs what the chapter needs when ``lrconv`` is not importable (Colab,
  Binder, any other Jupyter): the package from the repository set in _config.yml
  (``repository.url`` and ``branch``) and the third-party packages the chapter imports beyond
  lrconv's own dependencies, at the versions pyproject.toml pins (the chapters glue their
  numbers with ``lrconv.glue``, so myst-nb, which pulls in Sphinx, is never needed).

With ``--html`` the notebooks are also copied to ``<html>/student/`` with a zip of all of them,
which the chapter pages link (scripts/student_links.py adds the links at build time).

Instructor pack: the answer keys (each chapter with its solutions and stored outputs, without
the hidden checks or widget state, with the same install cell) in ``answer-keys/``, and the
Markdown files of ``instructor/`` (assessment items students have not seen, with worked
answers). The site neither builds nor links the pack.

Prints one summary line; exits non-zero when an edition cannot be made.
"""

from __future__ import annotations

import argparse
import ast
import copy
import importlib.metadata
import json
import re
import shutil
import sys
import tomllib
import zipfile
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # run as a script: make the `scripts` package importable
    sys.path.insert(0, str(ROOT))

from scripts.site_tools import chapter_docs  # noqa: E402

STUDENT_FOLDER = "student"  # under the HTML root; scripts/student_links.py links it
ZIP_NAME = "lrconv-student-notebooks.zip"
INSTRUCTOR_SOURCES = ROOT / "instructor"

# Imports that every Jupyter kernel provides.
PROVIDED_BY_JUPYTER = {"IPython", "ipykernel"}

# A MyST directive fence: ```{name} argument (or :::), up to three spaces of indent.
_FENCE = re.compile(r"^ {0,3}(?P<fence>`{3,}|:{3,})\{(?P<name>[\w:-]+)\}\s*(?P<arg>.*?)\s*$")


def _source(cell: dict) -> str:
    src = cell.get("source", "")
    return "".join(src) if isinstance(src, list) else src


def _tags(cell: dict) -> list[str]:
    return list(cell.get("metadata", {}).get("tags", []))


def _closes(line: str, fence: str) -> bool:
    """Whether `line` closes a fence opened with `fence` (same character, at least as long)."""
    stripped = line.strip()
    return len(stripped) >= len(fence) and set(stripped) == {fence[0]}


class _Solutions:
    """Walks a notebook's Markdown line by line and knows when it is inside a solution.

    ``keep`` chooses what happens to solution text: False drops it (student edition), True
    keeps it and turns the directive fences into plain labels (answer keys).
    """

    def __init__(self, *, keep: bool) -> None:
        self.keep = keep
        self.inside = False  # between {solution-start} and {solution-end}
        self.label = ""
        self._fence = ""  # the fence of a directive whose lines are being skipped
        self._block = ""  # which directive that is
        self._in_options = False

    def markdown(self, text: str) -> str:
        kept: list[str] = []
        for line in text.splitlines():
            if self._fence:
                if self._in_options and not line.startswith(":"):
                    self._in_options = False
                if _closes(line, self._fence):
                    self._end_block(kept)
                elif self._block == "solution" and not self._in_options and self.keep:
                    kept.append(line)
                continue
            m = _FENCE.match(line)
            if m and m["name"] in {"solution-start", "solution-end", "solution"}:
                self._fence, self._block, self._in_options = m["fence"], m["name"], True
                if m["name"] in {"solution-start", "solution"}:
                    self.label = m["arg"]
                    if self.keep:
                        kept.append(f"**Solution ({self.label}).**")
                continue
            if not self.inside or self.keep:
                kept.append(line)
        return "\n".join(kept).strip("\n")

    def _end_block(self, kept: list[str]) -> None:
        if self._block == "solution-start":
            self.inside = True
        elif self._block == "solution-end":
            self.inside = False
            if self.keep:
                kept += ["", f"*End of the solution ({self.label}).*"]
        elif self.keep:  # a whole {solution} block
            kept += ["", f"*End of the solution ({self.label}).*"]
        self._fence = self._block = ""
        self._in_options = False


def _cleared(cell: dict) -> dict:
    cell = copy.deepcopy(cell)
    if cell["cell_type"] == "code":
        cell["outputs"] = []
        cell["execution_count"] = None
    cell.get("metadata", {}).pop("execution", None)
    return cell


def _without_widget_views(cell: dict) -> dict:
    cell = copy.deepcopy(cell)
    if cell["cell_type"] == "code":
        cell["outputs"] = [
            o for o in cell.get("outputs", [])
            if "application/vnd.jupyter.widget-view+json" not in o.get("data", {})
        ]
    cell.get("metadata", {}).pop("execution", None)
    return cell


def _edition(nb: dict, *, keep_solutions: bool, keep_outputs: bool) -> dict:
    out = copy.deepcopy(nb)
    out.get("metadata", {}).pop("widgets", None)
    walker = _Solutions(keep=keep_solutions)
    cells = []
    for cell in nb["cells"]:
        if cell["cell_type"] == "markdown":
            text = walker.markdown(_source(cell))
            if text.strip():
                cells.append({**copy.deepcopy(cell), "source": text})
            continue
        if "remove-cell" in _tags(cell) or (walker.inside and not keep_solutions):
            continue
        cells.append(_without_widget_views(cell) if keep_outputs else _cleared(cell))
    if walker.inside or walker._fence:
        raise ValueError(f"a solution is not closed by {{solution-end}} (last: {walker.label!r})")
    out["cells"] = cells
    return out


# --- what a chapter needs ---------------------------------------------------------------------


def _top_level_imports(code: str) -> set[str]:
    """Top-level module names imported by a cell (IPython magics and shell lines skipped)."""
    lines = [ln for ln in code.splitlines() if not ln.lstrip().startswith(("%", "!"))]
    try:
        tree = ast.parse("\n".join(lines))
    except SyntaxError:
        return set()
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(a.name.split(".")[0] for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module.split(".")[0])
    return names


# lrconv functions that import an optional package when they run: name -> top-level module
# (none at present: the digits of chapters 7 and 8 are stored with the package).
RUNTIME_IMPORTS: dict[str, str] = {}


def chapter_imports(nb: dict) -> set[str]:
    """Top-level modules a chapter's code cells import (the hidden checks included), and those
    that the lrconv functions it calls import when they run (:data:`RUNTIME_IMPORTS`)."""
    names: set[str] = set()
    for cell in nb["cells"]:
        if cell["cell_type"] == "code":
            code = _source(cell)
            names |= _top_level_imports(code)
            names |= {m for f, m in RUNTIME_IMPORTS.items() if re.search(rf"\b{f}\(", code)}
    return names


def _canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _pins(root: Path = ROOT) -> tuple[set[str], dict[str, str]]:
    """lrconv's own dependencies (names) and every pin of pyproject.toml (name -> requirement)."""
    project = tomllib.loads((root / "pyproject.toml").read_text())["project"]
    base = {_canonical(re.split(r"[=<>!~ \[;]", r, maxsplit=1)[0])
            for r in project["dependencies"]}
    pins: dict[str, str] = {}
    for group in [project["dependencies"], *project.get("optional-dependencies", {}).values()]:
        for req in group:
            pins.setdefault(_canonical(re.split(r"[=<>!~ \[;]", req, maxsplit=1)[0]), req)
    return base, pins


def repository(root: Path = ROOT) -> tuple[str, str]:
    """The repository URL and branch, set once in _config.yml."""
    config = yaml.safe_load((root / "_config.yml").read_text())
    repo = config.get("repository") or {}
    url = str(repo.get("url", "")).rstrip("/")
    if not url.startswith("https://"):
        raise ValueError(f"_config.yml repository.url must be an https URL, got {url!r}")
    return url, str(repo.get("branch") or "main")


def requirements(nb: dict, root: Path = ROOT) -> dict[str, str]:
    """What a chapter needs outside the repository: {module: pip requirement}.

    Raises ValueError for an import that is neither the standard library, lrconv or its
    dependencies, nor pinned in pyproject.toml.
    """
    url, branch = repository(root)
    base, pins = _pins(root)
    dists = importlib.metadata.packages_distributions()
    needs = {"lrconv": f"lrconv @ git+{url}@{branch}"}
    for module in sorted(chapter_imports(nb)):
        if module in sys.stdlib_module_names or module in PROVIDED_BY_JUPYTER:
            continue
        dist = _canonical((dists.get(module) or [module])[0])
        if dist == "lrconv" or dist in base:
            continue
        if dist not in pins:
            raise ValueError(
                f"the chapter imports {module!r} (distribution {dist!r}), which pyproject.toml "
                "does not pin: add it to an extra so that the install cell can name a version"
            )
        needs[module] = pins[dist]
    return needs


def install_cell(needs: dict[str, str]) -> dict:
    """The first code cell of an edition: install what is missing."""
    table = ",\n".join(f"    {module!r}: {req!r}" for module, req in needs.items())
    lines = [
        "# Run this cell first. In the book's own environment it does nothing; elsewhere (Colab,",
        "# Binder, another Jupyter) it installs what this chapter needs. If pip replaces numpy or",
        "# matplotlib, restart the kernel and run the notebook from the top.",
        "import importlib.util",
        "",
        "_needs = {",
        table + ",",
        "}",
        "_missing = [req for module, req in _needs.items()"
        " if importlib.util.find_spec(module) is None]",
        "if _missing:",
        "    _args = \" \".join(f'\"{req}\"' for req in _missing)",
        "    %pip install -q {_args}",
    ]
    return {
        "cell_type": "code",
        "execution_count": None,
        "id": "install-what-this-chapter-needs",
        "metadata": {"tags": ["install"]},
        "outputs": [],
        "source": "\n".join(lines),
    }


def _with_install_cell(edition: dict, source_nb: dict, root: Path) -> dict:
    needs = requirements(source_nb, root)
    cells = edition["cells"]
    at = next((i for i, c in enumerate(cells) if c["cell_type"] == "code"), len(cells))
    edition["cells"] = [*cells[:at], install_cell(needs), *cells[at:]]
    return edition


def student_notebook(nb: dict, root: Path = ROOT) -> dict:
    """A chapter's student edition (see the module docstring)."""
    return _with_install_cell(_edition(nb, keep_solutions=False, keep_outputs=False), nb, root)


def answer_key(nb: dict, root: Path = ROOT) -> dict:
    """A chapter's answer key: solutions and outputs kept, hidden checks and widgets removed."""
    return _with_install_cell(_edition(nb, keep_solutions=True, keep_outputs=True), nb, root)


# --- stubs and solutions (used by the tests) ----------------------------------------------------


def exercise_labels(nb: dict) -> list[tuple[int, str]]:
    """(cell index, exercise label) of every ``exercise-stub`` cell: the label of the last
    ``{exercise}`` (or ``{exercise-start}``) opened before it, as argument or ``:label:``."""
    label, found = "", []
    for i, cell in enumerate(nb["cells"]):
        if cell["cell_type"] == "code":
            if "exercise-stub" in _tags(cell):
                found.append((i, label))
            continue
        in_options = False
        for line in _source(cell).splitlines():
            m = _FENCE.match(line)
            if m and m["name"] in {"exercise", "exercise-start"}:
                label, in_options = m["arg"], True
            elif in_options and line.startswith(":"):
                option = re.match(r":label:\s*(\S+)", line)
                if option:
                    label = option.group(1)
            else:
                in_options = False
    return found


def solution_code(nb: dict) -> dict[str, str]:
    """Exercise label -> source of the first code cell after its ``{solution-start}``."""
    walker = _Solutions(keep=False)
    solutions: dict[str, str] = {}
    for cell in nb["cells"]:
        if cell["cell_type"] == "markdown":
            walker.markdown(_source(cell))
        elif (walker.inside and walker.label not in solutions
              and "remove-cell" not in _tags(cell)):
            solutions[walker.label] = _source(cell)
    return solutions


def fill_stubs(student: dict, solutions: dict[str, str]) -> dict:
    """The student notebook with each stub cell replaced by its solution's code."""
    filled = copy.deepcopy(student)
    for i, label in exercise_labels(student):
        if label not in solutions:
            raise ValueError(f"no solution code for the stub of exercise {label!r}")
        filled["cells"][i]["source"] = solutions[label]
    return filled


# --- writing the editions -----------------------------------------------------------------------


def _write(nb: dict, path: Path) -> None:
    path.write_text(json.dumps(nb, indent=1, sort_keys=True, ensure_ascii=False) + "\n")


def _fresh(folder: Path) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for old in folder.glob("[0-9][0-9]_*.ipynb"):
        old.unlink()


def build_student(out: Path, html: Path | None = None, root: Path = ROOT) -> list[Path]:
    """Write the student notebooks to `out` (and to `<html>/student/` with the zip)."""
    _fresh(out)
    written = []
    for doc in chapter_docs(root):
        source = root / f"{doc}.ipynb"
        nb = json.loads(source.read_text())
        try:
            edition = student_notebook(nb, root)
        except ValueError as err:
            raise ValueError(f"{source.relative_to(root)}: {err}") from None
        path = out / source.name
        _write(edition, path)
        written.append(path)
    if not written:
        raise ValueError("_toc.yml lists no chapter notebooks (book/NN_name.ipynb)")
    if html is not None:
        site = html / STUDENT_FOLDER
        _fresh(site)
        for path in written:
            shutil.copyfile(path, site / path.name)
        with zipfile.ZipFile(site / ZIP_NAME, "w", zipfile.ZIP_DEFLATED) as zf:
            for path in written:
                zf.write(path, f"{Path(ZIP_NAME).stem}/{path.name}")
    return written


def build_instructor(out: Path, root: Path = ROOT) -> list[Path]:
    """Write the answer keys to `out`/answer-keys and copy the instructor Markdown to `out`."""
    keys = out / "answer-keys"
    _fresh(keys)
    written = []
    for doc in chapter_docs(root):
        source = root / f"{doc}.ipynb"
        try:
            key = answer_key(json.loads(source.read_text()), root)
        except ValueError as err:
            raise ValueError(f"{source.relative_to(root)}: {err}") from None
        _write(key, keys / source.name)
        written.append(keys / source.name)
    items = sorted((root / INSTRUCTOR_SOURCES.name).glob("*.md"))
    if not items:
        raise ValueError(f"no Markdown files in {INSTRUCTOR_SOURCES.name}/ (the assessment items)")
    for item in items:
        shutil.copyfile(item, out / item.name)
        written.append(out / item.name)
    return written


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("edition", choices=["student", "instructor"])
    parser.add_argument("--out", type=Path, required=True, help="folder to write the edition to")
    parser.add_argument("--html", type=Path, default=None,
                        help="student edition only: also copy it, and a zip, into HTML/student/")
    args = parser.parse_args(argv)
    if args.html is not None and args.edition != "student":
        parser.error("--html goes with the student edition")
    try:
        if args.edition == "student":
            written = build_student(args.out, args.html)
            where = f" and {args.html / STUDENT_FOLDER} (with {ZIP_NAME})" if args.html else ""
            print(f"student edition: {len(written)} notebooks in {args.out}{where}")
        else:
            written = build_instructor(args.out)
            n_keys = sum(p.suffix == ".ipynb" for p in written)
            print(f"instructor pack: {n_keys} answer keys and "
                  f"{len(written) - n_keys} item files in {args.out}")
    except (ValueError, OSError) as err:
        print(f"editions.py: {err}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
