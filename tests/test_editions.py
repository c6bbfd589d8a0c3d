"""The student edition and the instructor pack (scripts/editions.py), and the chapter-page links
to the student notebooks (scripts/student_links.py).

The student notebooks are made once per session into a temporary folder. The references here
are written independently of the script: solution text is found by a plain search for the
fences, stubs and checker calls by their tag and by name.
"""

from __future__ import annotations

import json
import os
import re
import tomllib
from pathlib import Path

import nbformat
import pytest
import yaml
from nbclient import NotebookClient

from scripts import editions, student_links
from scripts.site_tools import ROOT, chapter_docs

CHAPTERS = chapter_docs()
CELL_TIMEOUT = 300  # seconds per cell, as tasks.py gives the notebooks


def _src(cell: dict) -> str:
    src = cell["source"]
    return "".join(src) if isinstance(src, list) else src


def _source_nb(doc: str) -> dict:
    return json.loads((ROOT / f"{doc}.ipynb").read_text())


def _solution_parts(nb: dict) -> tuple[list[str], list[str], list[str]]:
    """Independent reference: the Markdown between solution fences, the code cells there, and
    the code cells outside every solution."""
    text, code, outside, inside = [], [], [], False
    for cell in nb["cells"]:
        src = _src(cell)
        if cell["cell_type"] == "code":
            (code if inside else outside).append(src)
            continue
        pos = 0
        while True:
            if inside:
                end = src.find("{solution-end}", pos)
                text.append(src[pos:] if end < 0 else src[pos:end])
                if end < 0:
                    break
                inside, pos = False, end
            else:
                start = src.find("{solution-start}", pos)
                if start < 0:
                    break
                inside, pos = True, src.find("\n", start) + 1 or len(src)
        for m in re.finditer(r"`{3,}\{solution\}(.*?)\n`{3,}", src, re.S):
            text.append(m.group(1))
    return text, code, outside


def _pins() -> dict[str, str]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    groups = [project["dependencies"], *project["optional-dependencies"].values()]
    return {r.split("==")[0]: r for g in groups for r in g}


@pytest.fixture(scope="module")
def student(tmp_path_factory) -> dict[str, dict]:
    out = tmp_path_factory.mktemp("student")
    html = tmp_path_factory.mktemp("html")
    assert editions.main(["student", "--out", str(out), "--html", str(html)]) == 0
    site = html / editions.STUDENT_FOLDER
    books = {p.name for p in out.glob("*.ipynb")}
    assert books == {p.name for p in site.glob("*.ipynb")}
    assert (site / editions.ZIP_NAME).is_file()
    return {p.stem: json.loads(p.read_text()) for p in out.glob("*.ipynb")}


@pytest.fixture(scope="module")
def instructor(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("instructor")
    assert editions.main(["instructor", "--out", str(out)]) == 0
    return out


def test_one_student_notebook_per_chapter(student):
    assert len(CHAPTERS) == 8
    assert sorted(student) == [Path(d).name for d in CHAPTERS]
    for nb in student.values():
        nbformat.validate(nbformat.reads(json.dumps(nb), as_version=4))


def test_the_zip_holds_every_student_notebook(tmp_path):
    import zipfile

    editions.build_student(tmp_path / "out", tmp_path / "html")
    with zipfile.ZipFile(tmp_path / "html" / "student" / editions.ZIP_NAME) as zf:
        names = sorted(Path(n).name for n in zf.namelist())
        first = zf.read(zf.namelist()[0])
    assert names == sorted(f"{Path(d).name}.ipynb" for d in CHAPTERS)
    assert first == (tmp_path / "out" / Path(zf.namelist()[0]).name).read_bytes()


@pytest.mark.parametrize("doc", CHAPTERS)
def test_student_notebook_has_no_solutions_checks_or_outputs(student, doc):
    nb = student[Path(doc).name]
    assert "widgets" not in nb["metadata"]
    everything = "\n".join(_src(c) for c in nb["cells"])
    assert "{solution" not in everything
    for cell in nb["cells"]:
        assert "remove-cell" not in cell["metadata"].get("tags", [])
        if cell["cell_type"] == "code":
            assert cell["outputs"] == [] and cell["execution_count"] is None
    text, code, outside = _solution_parts(_source_nb(doc))
    assert code, f"{doc}: no solution code found (the reference search is broken)"
    sources = {_src(c) for c in nb["cells"]}
    # a solution may repeat a cell that also stands outside it (the checker call): not a leak
    leaked = [c for c in code if c in sources and c not in outside]
    assert not leaked, f"{doc}: solution code in the student notebook: {leaked[0][:80]!r}"
    lines = {ln.strip() for t in text for ln in t.splitlines() if len(ln.strip()) > 30}
    leaked_text = [ln for ln in lines if ln in everything]
    assert not leaked_text, f"{doc}: solution text in the student notebook: {leaked_text[0]!r}"


@pytest.mark.parametrize("doc", CHAPTERS)
def test_stubs_checkers_and_exercises_are_kept(student, doc):
    nb, source = student[Path(doc).name], _source_nb(doc)
    sources = [_src(c) for c in nb["cells"]]
    stubs = [_src(c) for c in source["cells"] if "exercise-stub" in c["metadata"].get("tags", [])]
    assert stubs and all(s in sources for s in stubs)
    labels = re.findall(r"\{exercise\}\s*\n:label:\s*(\S+)|\{exercise\}\s+(\S+)",
                        "\n".join(_src(c) for c in source["cells"]))
    kept = "\n".join(sources)
    for label in {a or b for a, b in labels}:
        assert f":label: {label}" in kept or f"{{exercise}} {label}" in kept, label
    # the checker call right after each stub stays, and still calls a checker
    for i, cell in enumerate(nb["cells"]):
        if "exercise-stub" in cell["metadata"].get("tags", []):
            assert re.search(r"\bcheck_\w+\(", _src(nb["cells"][i + 1])), _src(nb["cells"][i + 1])


@pytest.mark.parametrize("doc", CHAPTERS)
def test_install_cell_names_the_repository_and_the_chapters_extras(student, doc):
    nb = student[Path(doc).name]
    first_code = next(c for c in nb["cells"] if c["cell_type"] == "code")
    cell = _src(first_code)
    config = yaml.safe_load((ROOT / "_config.yml").read_text())["repository"]
    assert f"lrconv @ git+{config['url']}@{config.get('branch', 'main')}" in cell
    code = "\n".join(_src(c) for c in _source_nb(doc)["cells"] if c["cell_type"] == "code")
    pins = _pins()
    for module, dist in [("tensorly", "tensorly"), ("sklearn", "scikit-learn")]:
        imported = re.search(rf"^\s*(from|import)\s+{module}\b", code, re.M) is not None or any(
            re.search(rf"\b{func}\(", code) for func, m in editions.RUNTIME_IMPORTS.items()
            if m == module)  # lrconv functions that import it when they run
        assert (pins[dist] in cell) == imported, (doc, dist)
    assert "myst_nb" not in code  # values are glued with lrconv.glue: no myst-nb to install


def _run_install_cell(cell: str, missing: set[str], monkeypatch) -> list[str]:
    """Run an install cell with `missing` modules reported absent; return the %pip lines."""
    import importlib.util

    from IPython.core.inputtransformer2 import TransformerManager

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *a: None if name in missing else real(name, *a))
    magics: list[str] = []

    class Shell:
        def run_line_magic(self, name: str, line: str) -> None:
            magics.append(f"%{name} {line}")

    namespace = {"get_ipython": Shell}
    code = TransformerManager().transform_cell(cell)
    # IPython expands {name} in a magic line from the user's namespace; do the same here.
    code = code.replace("run_line_magic('pip', 'install -q {_args}')",
                        "run_line_magic('pip', 'install -q ' + _args)")
    exec(compile(code, "<install cell>", "exec"), namespace)
    return magics


def test_install_cell_installs_only_what_is_missing(student, monkeypatch):
    cell = _src(next(c for c in student["05_computing_factors"]["cells"]
                     if c["cell_type"] == "code"))
    assert _run_install_cell(cell, set(), monkeypatch) == []
    url = yaml.safe_load((ROOT / "_config.yml").read_text())["repository"]["url"]
    magics = _run_install_cell(cell, {"lrconv", "tensorly"}, monkeypatch)
    assert magics == [f'%pip install -q "lrconv @ git+{url}@main" "{_pins()["tensorly"]}"']
    cell = _src(next(c for c in student["07_trained_network"]["cells"]
                     if c["cell_type"] == "code"))
    assert _run_install_cell(cell, {"lrconv"}, monkeypatch) == [
        f'%pip install -q "lrconv @ git+{url}@main"']


# Set by `tasks.py test` on an AVX-512 CPU so that nbval runs the AVX2 code path; the student
# editions (a third execution of each chapter) run natively, which is faster.
_AVX2_PATH = ("OPENBLAS_CORETYPE", "NPY_DISABLE_CPU_FEATURES", "NUMBA_CPU_NAME", "LRCONV_CPU_PATH")


def _native_env() -> dict[str, str]:
    if os.environ.get("LRCONV_CPU_PATH") != "avx2":
        return dict(os.environ)
    return {k: v for k, v in os.environ.items() if k not in _AVX2_PATH}


def _executed(nb: dict, cwd: Path) -> nbformat.NotebookNode:
    node = nbformat.reads(json.dumps(nb), as_version=4)
    NotebookClient(node, timeout=CELL_TIMEOUT, kernel_name="python3",
                   resources={"metadata": {"path": str(cwd)}}).execute(env=_native_env())
    return node


@pytest.mark.parametrize("doc", CHAPTERS)
def test_student_notebook_runs_and_every_checker_passes_once_filled(student, doc, tmp_path):
    """Executed with each stub replaced by its solution's code, the whole notebook runs and
    every checker says "Correct". The cells before the first stub are the same in the filled
    and the unfilled notebook (asserted here), so this one execution also proves that the
    notebook as handed out runs up to its first stub."""
    nb = student[Path(doc).name]
    filled = editions.fill_stubs(nb, editions.solution_code(_source_nb(doc)))
    stubs = [i for i, c in enumerate(nb["cells"])
             if "exercise-stub" in c["metadata"].get("tags", [])]
    assert stubs
    assert filled["cells"][:stubs[0]] == nb["cells"][:stubs[0]]
    assert all("NotImplementedError" not in _src(filled["cells"][i]) for i in stubs)
    done = _executed(filled, tmp_path)
    verdicts = []
    for cell in done.cells:
        if cell.cell_type == "code" and re.search(r"^check_\w+\(", cell.source, re.M):
            shown = [o.get("data", {}).get("text/plain", "") for o in cell.outputs]
            verdicts.append("".join(shown))
    assert verdicts, f"{doc}: no checker call was executed"
    wrong = [v for v in verdicts if not v.startswith("Correct")]
    assert not wrong, f"{doc}: checkers did not pass: {wrong}"


# --- the instructor pack -------------------------------------------------------------------------


@pytest.mark.parametrize("doc", CHAPTERS)
def test_answer_keys_keep_solutions_and_drop_hidden_checks(instructor, doc):
    key = json.loads((instructor / "answer-keys" / f"{Path(doc).name}.ipynb").read_text())
    assert "widgets" not in key["metadata"]
    assert not any("remove-cell" in c["metadata"].get("tags", []) for c in key["cells"])
    sources = {_src(c) for c in key["cells"]}
    _text, code, _outside = _solution_parts(_source_nb(doc))
    hidden = {_src(c) for c in _source_nb(doc)["cells"]
              if "remove-cell" in c["metadata"].get("tags", [])}
    assert all(c in sources for c in code if c not in hidden)


def test_instructor_pack_has_items_and_the_site_never_links_it(instructor):
    items = sorted(p.name for p in instructor.glob("*.md"))
    assert items == sorted(p.name for p in (ROOT / "instructor").glob("*.md")) and items
    config = yaml.safe_load((ROOT / "_config.yml").read_text())
    assert "instructor" in config["exclude_patterns"]
    pages = [*ROOT.glob("book/*.md"), *ROOT.glob("book/*.ipynb"), ROOT / "_toc.yml"]
    for page in pages:
        assert not re.search(r"\]\(\.*/?instructor/|answer-keys|<instructor/", page.read_text()), (
            f"{page.name} links the instructor pack"
        )


# --- failures are reported, not hidden ----------------------------------------------------------


def _tiny_book(root: Path, cells: list[dict]) -> None:
    (root / "book").mkdir(parents=True)
    (root / "_toc.yml").write_text("format: jb-book\nroot: book/intro\nchapters:\n"
                                   "  - file: book/01_tiny\n")
    (root / "_config.yml").write_text("repository:\n  url: https://github.com/a/b\n")
    (root / "pyproject.toml").write_text('[project]\nname = "lrconv"\n'
                                         'dependencies = ["numpy==2.4.6"]\n')
    nb = {"cells": cells, "metadata": {}, "nbformat": 4, "nbformat_minor": 5}
    (root / "book" / "01_tiny.ipynb").write_text(json.dumps(nb))


def _code(src: str, *tags: str) -> dict:
    return {"cell_type": "code", "source": src, "metadata": {"tags": list(tags)},
            "outputs": [], "execution_count": 1}


def _md(src: str) -> dict:
    return {"cell_type": "markdown", "source": src, "metadata": {}}


def test_an_unpinned_import_is_an_error(tmp_path):
    _tiny_book(tmp_path, [_code("import numpy\nimport hypothesis")])
    with pytest.raises(ValueError, match="'hypothesis'.*pyproject.toml does not pin"):
        editions.build_student(tmp_path / "out", root=tmp_path)


def test_an_unclosed_solution_is_an_error(tmp_path):
    _tiny_book(tmp_path, [_md("```{solution-start} ex-1\n:class: dropdown\n```"), _code("x = 1")])
    with pytest.raises(ValueError, match="not closed by {solution-end}.*'ex-1'"):
        editions.build_student(tmp_path / "out", root=tmp_path)


def test_mixed_cells_keep_what_is_outside_the_solution(tmp_path):
    cells = [
        _md("```{exercise}\n:label: ex-1\nDo it.\n```"),
        _code("def f():\n    raise NotImplementedError", "exercise-stub"),
        _code("check_f(f)"),
        _md("```{solution-start} ex-1\n:class: dropdown\n```\nHidden reasoning."),
        _code("def f():\n    return 1"),
        _code("assert f() == 1", "remove-cell"),
        _md("More hidden.\n```{solution-end}\n```\n\nVisible text."),
    ]
    _tiny_book(tmp_path, cells)
    editions.build_student(tmp_path / "out", root=tmp_path)
    nb = json.loads((tmp_path / "out" / "01_tiny.ipynb").read_text())
    assert nb["cells"][1]["id"] == "install-what-this-chapter-needs"  # before the first code
    got = [(c["cell_type"], _src(c)) for i, c in enumerate(nb["cells"]) if i != 1]
    assert got == [
        ("markdown", "```{exercise}\n:label: ex-1\nDo it.\n```"),
        ("code", "def f():\n    raise NotImplementedError"),
        ("code", "check_f(f)"),
        ("markdown", "Visible text."),
    ]
    filled = editions.fill_stubs(nb, editions.solution_code(json.loads(
        (tmp_path / "book" / "01_tiny.ipynb").read_text())))
    assert _src(filled["cells"][2]) == "def f():\n    return 1"  # the stub, filled


# --- the links on the chapter pages --------------------------------------------------------------


def test_the_page_links_and_the_editions_use_the_same_names():
    assert student_links.STUDENT_FOLDER == editions.STUDENT_FOLDER
    assert student_links.ZIP_NAME == editions.ZIP_NAME


def test_chapter_box_links_relative_to_the_page():
    box = student_links.student_box("book/01_convolution", "01_convolution.ipynb",
                                    "book/01_convolution.html", "troubleshooting.html")
    assert 'href="../student/01_convolution.ipynb"' in box
    assert f'href="../student/{editions.ZIP_NAME}"' in box
    assert 'href="troubleshooting.html#binder-and-colab"' in box
    assert "http" not in box


def test_troubleshooting_quotes_the_repository_through_the_config():
    page = (ROOT / "book" / "troubleshooting.md").read_text()
    assert "OWNER/REPOSITORY" not in page
    url = yaml.safe_load((ROOT / "_config.yml").read_text())["repository"]["url"]
    assert url not in page, "the page repeats the address: use {{ repository_url }}"
    assert "{{ install_everything }}" in page and "{{ repository_url }}" in page
    subs = student_links.substitutions(ROOT)
    assert url in subs["repository_url"] and f"lrconv @ git+{url}@" in subs["install_everything"]


# --- the assessment items: every number recomputed --------------------------------------------


def _als_on_a_matrix() -> list[float]:
    """Item A4: errors after three ALS sweeps on [[2, 1], [1, 2]] from b = (1, 0), then the
    ratio of b's components along (1, -1) and (1, 1) after each sweep (a plain loop)."""
    x = [[2.0, 1.0], [1.0, 2.0]]
    b = [1.0, 0.0]
    errors, ratios = [], []
    for _ in range(3):
        bb = b[0] ** 2 + b[1] ** 2
        a = [(x[i][0] * b[0] + x[i][1] * b[1]) / bb for i in range(2)]
        aa = a[0] ** 2 + a[1] ** 2
        b = [(x[0][j] * a[0] + x[1][j] * a[1]) / aa for j in range(2)]
        errors.append(sum((x[i][j] - a[i] * b[j]) ** 2 for i in range(2) for j in range(2)) ** 0.5)
        ratios.append((b[0] - b[1]) / (b[0] + b[1]))
    return [round(e, 4) for e in errors] + [round(ratios[0], 4), round(ratios[1], 5),
                                            round(ratios[2], 5)]


def _assessment_numbers() -> dict[str, object]:
    import numpy as np
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    from lrconv.conv import conv2d
    from lrconv.cost import conv_cost, cp_cost, tucker2_cost, update_param_count
    from lrconv.data import seed_example

    ex = seed_example()
    window = ex.X[0:3, 2:5]
    sharpen = np.array([[0, -1, 0], [-1, 5, -1], [0, -1, 0]], dtype=float)
    u, s, vt = np.linalg.svd(sharpen)
    layer = dict(c_in=32, c_out=64, kh=3, kw=3, h=28, w=28, stride=2, padding=1)
    dense, cp = conv_cost(**layer), cp_cost(**layer, rank=16)
    tucker = tucker2_cost(**layer, ranks=(16, 8))
    digits = load_digits()
    n_test = len(train_test_split(digits.data, digits.target, test_size=0.25, random_state=0,
                                  stratify=digits.target)[1])
    return {
        "A1 output": int(conv2d(ex.X, ex.K)[0, 2]),
        "A1 window": window.tolist(),
        "A1 column sums": window.sum(axis=0).tolist(),
        "A1 post": int(window[0].sum() * (ex.a1 @ ex.b1)),
        "A2 singular values": np.round(s, 4).tolist(),
        "A2 norm": round(float(np.linalg.norm(sharpen)), 4),
        "A2 relative": round(float(s[1] / np.linalg.norm(sharpen)), 4),
        "A2 rank-one sum": round(float((s[0] * np.outer(u[:, 0], vt[0])).sum()), 4),
        "A3 dense": dense,
        "A3 cp": cp,
        "A3 tucker": tucker,
        "A3 ratios": [round(dense.params / cp.params, 2), round(dense.macs / cp.macs, 2),
                      round(dense.params / tucker.params, 2), round(dense.macs / tucker.macs, 2)],
        "A4": _als_on_a_matrix(),
        "A5 cp": cp_cost(128, 128, 3, 3, 16, 16, 66, padding=1),
        "A5 tucker": tucker2_cost(128, 128, 3, 3, 16, 16, (32, 32), padding=1),
        "A5 cp rank": max(r for r in range(1, 200)
                          if cp_cost(128, 128, 3, 3, 16, 16, r, padding=1).params
                          <= tucker2_cost(128, 128, 3, 3, 16, 16, (32, 32), padding=1).params),
        "A7": [update_param_count(64, 64, 3, 3, 4, f) for f in ("full", "locon", "cp")],
        "A8": [n_test, round(100 / n_test, 2)],
    }


def test_assessment_items_quote_the_computed_numbers():
    text = (ROOT / "instructor" / "assessment.md").read_text()
    flat = re.sub(r"\\,", "", text)  # 3\,612\,672 -> 3612672
    got = _assessment_numbers()
    assert got["A1 output"] == 2 and got["A1 post"] == 0
    assert got["A1 window"] == [[3, 0, 1], [2, 3, 0], [1, 2, 3]]
    assert got["A1 column sums"] == [6, 5, 4] and "(6, 5, 4)" in text
    sv = got["A2 singular values"]
    assert sv[:2] == [5.3723, 0.3723] and abs(sv[2]) < 1e-12
    for number in [5.3723, 0.3723, got["A2 norm"], got["A2 relative"], got["A2 rank-one sum"],
                   *got["A4"], *got["A3 ratios"], *got["A8"]]:
        assert f"{number}" in text, number
    assert got["A5 cp rank"] == 66 and "$R = 66$" in text
    for cost in (got["A3 dense"], got["A3 cp"], got["A3 tucker"], got["A5 tucker"], got["A5 cp"]):
        assert str(cost.params) in flat and str(cost.macs) in flat, cost
    full, locon, cp = got["A7"]
    assert (full, locon, cp) == (36864, 2560, 536) and f"{100 * locon / full:.2f}" in text
    assert f"{100 * cp / full:.2f}" in text


def test_binder_opens_the_student_edition_only_when_binder_builds_it(tmp_path):
    (tmp_path / "_config.yml").write_text(
        "repository:\n  url: https://github.com/a/b\n  branch: main\n"
        "launch_buttons:\n  binderhub_url: https://mybinder.org\n")
    assert student_links.binder_student_url(tmp_path, "01_x.ipynb") is None
    post_build = "python3 scripts/editions.py student --out _build/student\n"
    (tmp_path / "postBuild").write_text(post_build)
    assert student_links.binder_student_url(tmp_path, "01_x.ipynb") == (
        "https://mybinder.org/v2/gh/a/b/main?urlpath=lab/tree/_build/student/01_x.ipynb"
    )
    box = student_links.student_box("book/01_x", "01_x.ipynb", "book/01_x.html", None,
                                    student_links.binder_student_url(tmp_path, "01_x.ipynb"))
    assert 'href="https://mybinder.org/v2/gh/a/b/main?urlpath=lab/tree/_build/student/01_x' in box
