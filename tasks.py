#!/usr/bin/env python3
"""Project tasks that need nothing but python3: build the book, run the tests, re-execute notebooks.

    python3 tasks.py book        # venv + pinned lock, execute every notebook, strict HTML build,
                                 # student edition, PDF handout (where Chromium is installed)
    python3 tasks.py test        # venv + pinned lock, then the whole test suite
    python3 tasks.py notebooks   # re-execute every notebook in place, outputs stored reproducibly
                                 # (unchanged timing cells keep theirs; --timings: anew)
    python3 tasks.py student     # student notebooks (no checks, no solutions) in _build/student
    python3 tasks.py instructor  # instructor pack (answer keys, unseen items) in _build/instructor
    python3 tasks.py pdf         # PDF handout at _build/pdf/book.pdf
    python3 tasks.py bench       # benchmarks (installs the [bench] extra: CPU PyTorch, TensorLy)
    python3 tasks.py lab         # open the notebooks in JupyterLab
    python3 tasks.py lock        # regenerate requirements/lock.txt from pyproject.toml's pins
    python3 tasks.py clean       # remove _build and caches (keeps .venv)

The Makefile's targets of the same names call this script.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent
LOCK = ROOT / "requirements" / "lock.txt"
# LRCONV_NO_VENV=1 uses the environment of the running python3 (e.g. conda's) instead of .venv.
USE_CURRENT = os.environ.get("LRCONV_NO_VENV") == "1"
VENV = Path(sys.prefix) if USE_CURRENT else ROOT / ".venv"
STAMP = VENV / ".lrconv-lock.sha256"
BIN = Path(sys.executable).parent if USE_CURRENT else VENV / ("Scripts" if os.name == "nt"
                                                              else "bin")
PY = Path(sys.executable) if USE_CURRENT else BIN / "python"
NOTEBOOK_TIMEOUT = 120


def run(*cmd: str | os.PathLike, **kw) -> None:
    """Run a command from the repository root; exit with its code if it fails."""
    print("+", " ".join(str(c) for c in cmd), flush=True)
    code = subprocess.call([str(c) for c in cmd], cwd=ROOT, **kw)
    if code:
        sys.exit(code)


def _lock_digest() -> str:
    h = hashlib.sha256(LOCK.read_bytes())
    h.update((ROOT / "pyproject.toml").read_bytes())
    return h.hexdigest()


def ensure_venv() -> None:
    """Create .venv and install the pinned lock plus lrconv (editable), once per lock change."""
    if USE_CURRENT:
        return
    if PY.exists() and STAMP.exists() and STAMP.read_text().strip() == _lock_digest():
        return
    if not PY.exists():
        print(f"Creating the virtual environment in {VENV} ...", flush=True)
        venv.create(VENV, with_pip=True)
    run(PY, "-m", "pip", "install", "--disable-pip-version-check", "-q", "-r", LOCK)
    run(PY, "-m", "pip", "install", "--disable-pip-version-check", "-q", "--no-deps", "-e", ".")
    STAMP.write_text(_lock_digest() + "\n")


def tool(name: str) -> Path:
    return BIN / name


def build_html() -> None:
    """Execute every notebook (forced, see _config.yml) and build HTML; any warning fails."""
    ensure_venv()
    shutil.rmtree(ROOT / "_build" / ".jupyter_cache", ignore_errors=True)
    run(tool("jupyter-book"), "build", ".", "-W", "-n", "--keep-going")
    print(f"\nThe book is built. Open {ROOT / '_build' / 'html' / 'index.html'} in a browser.")


def book(_args: list[str]) -> None:
    build_html()
    editions("student", "--out", ROOT / "_build" / "student", "--html", ROOT / "_build" / "html")
    # The PDF handout too, where Chromium is installed (the tests then check it, not rebuild it).
    if shutil.which("chromium") or shutil.which("chromium-browser"):
        run(PY, str(ROOT / "scripts" / "build_pdf.py"))
    else:
        print("No Chromium on PATH: the PDF handout was not made (python3 tasks.py pdf makes it).")


def editions(kind: str, *args: str | os.PathLike) -> None:
    """Write the student edition or the instructor pack with scripts/editions.py."""
    script = ROOT / "scripts" / "editions.py"
    if script.exists():
        run(PY, script, kind, *args)


def student(_args: list[str]) -> None:
    ensure_venv()
    editions("student", "--out", ROOT / "_build" / "student")


def instructor(_args: list[str]) -> None:
    ensure_venv()
    editions("instructor", "--out", ROOT / "_build" / "instructor")


def avx2_path() -> dict[str, str]:
    """On an x86-64 CPU with AVX-512: environment variables that make OpenBLAS, numpy and numba
    run their AVX2 code, as on a CPU without AVX-512 (many AMD machines); elsewhere none.

    The stored outputs come from one CPU; the build re-executes the chapters natively and
    ``test`` runs nbval on the other code path, so every test run checks the outputs on two
    (``LRCONV_NATIVE_TESTS=1`` turns this off).
    """
    cpuinfo = Path("/proc/cpuinfo")
    if os.environ.get("LRCONV_NATIVE_TESTS") == "1" or not cpuinfo.exists():
        return {}
    flags = next((set(line.split(":", 1)[1].split()) for line in cpuinfo.read_text().splitlines()
                  if line.startswith("flags")), set())
    if not {"avx2", "fma", "avx512f"} <= flags:
        return {}
    groups = subprocess.run(
        [PY, "-c", "from numpy._core._multiarray_umath import __cpu_dispatch__ as d; "
                   "print(' '.join(g for g in d if 'AVX512' in g or g == 'X86_V4'))"],
        capture_output=True, text=True, check=True).stdout.split()
    return {"OPENBLAS_CORETYPE": "Haswell", "NPY_DISABLE_CPU_FEATURES": " ".join(groups),
            "NUMBA_CPU_NAME": "haswell", "LRCONV_CPU_PATH": "avx2"}


def test(args: list[str]) -> None:
    ensure_venv()
    path = avx2_path()
    if path:
        print("nbval and the tests run on the AVX2 code path of OpenBLAS, numpy and numba "
              "(the build ran natively)", flush=True)
    run(PY, "-m", "pytest", "--nbval", "--nbval-cell-timeout=120", "--durations=15", *args,
        env={**os.environ, **path})


TIMING_TAG = "nbval-ignore-output"  # cells that print timings (and the widget cells)


def notebooks(args: list[str]) -> None:
    """Re-execute notebooks in place (all in book/ by default) and normalise their metadata.

    Timing cells (tagged ``nbval-ignore-output``) print numbers that belong to the machine and
    the moment, so re-running them would only churn the diff (the build measures afresh for the
    pages). When no code cell of a notebook differs from the last commit, its timing cells keep
    their stored outputs; when any does, or with ``--timings``, every cell is measured anew. A
    figure that shows the same picture as the stored one keeps its stored bytes
    (:func:`keep_same_pictures`).
    """
    ensure_venv()
    refresh = "--timings" in args
    args = [a for a in args if a != "--timings"]
    paths = [Path(a) for a in args] or sorted((ROOT / "book").glob("[0-9]*.ipynb"))
    for nb in paths:
        before = json.loads((ROOT / nb).read_text())
        kept = {} if refresh else _unchanged_timing_cells(ROOT / nb)
        run(
            tool("jupyter"), "nbconvert", "--to", "notebook", "--execute", "--inplace",
            "--ExecutePreprocessor.record_timing=False",
            f"--ExecutePreprocessor.timeout={NOTEBOOK_TIMEOUT}",
            "--ExecutePreprocessor.kernel_name=python3",
            nb,
        )
        normalise_notebook(ROOT / nb, kept)
        keep_same_pictures(ROOT / nb, before)


def keep_same_pictures(path: Path, before: dict) -> None:
    """Give back a figure its stored PNG where the new one shows the same picture.

    Round-off differs between processors, and where a figure's data are at its level (a curve
    near a floor, a value on a colour boundary), antialiasing shifts a few pixels by a few
    levels: the picture is the same, the bytes are not (``scripts/same_pictures.py`` decides).
    Only outputs of cells whose source is unchanged are compared.
    """
    nb = json.loads(path.read_text())
    old_cells = {c.get("id"): c for c in before.get("cells", []) if c.get("id")}
    slots = []
    for cell in nb.get("cells", []):
        old = old_cells.get(cell.get("id"))
        if old is None or _joined(old.get("source")) != _joined(cell.get("source")):
            continue
        outs, old_outs = cell.get("outputs", []), old.get("outputs", [])
        if len(outs) != len(old_outs):
            continue
        for out, old_out in zip(outs, old_outs, strict=True):
            new_png = out.get("data", {}).get("image/png")
            old_png = old_out.get("data", {}).get("image/png")
            if new_png and old_png and new_png != old_png:
                slots.append((out, old_png, new_png))
    if not slots:
        return
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as fh:
        json.dump([[old_png, new_png] for _, old_png, new_png in slots], fh)
    try:
        shown = subprocess.run([PY, ROOT / "scripts" / "same_pictures.py", fh.name],
                               capture_output=True, text=True, check=True).stdout
    finally:
        os.unlink(fh.name)
    for (out, old_png, _), same in zip(slots, json.loads(shown), strict=True):
        if same:
            out["data"]["image/png"] = old_png
    path.write_text(json.dumps(nb, indent=1, sort_keys=True, ensure_ascii=False) + "\n")


def _code_cells(nb: dict) -> list[tuple[str, str]]:
    return [(c.get("id", ""), _joined(c.get("source"))) for c in nb.get("cells", [])
            if c.get("cell_type") == "code"]


def _unchanged_timing_cells(path: Path, committed: dict | None = None) -> dict[str, dict]:
    """The timing cells of ``path`` by cell id, if its code cells are those of the last commit
    (``committed``, read with git when not given); otherwise none."""
    current = json.loads(path.read_text())
    if committed is None:
        shown = subprocess.run(["git", "show", f"HEAD:{path.resolve().relative_to(ROOT)}"],
                               cwd=ROOT, capture_output=True, text=True)
        if shown.returncode:
            return {}
        committed = json.loads(shown.stdout)
    if _code_cells(current) != _code_cells(committed):
        return {}
    return {c["id"]: c for c in current.get("cells", [])
            if c.get("id") and TIMING_TAG in c.get("metadata", {}).get("tags", [])}


_MODEL_ID = re.compile(r'"model_id": "([0-9a-f]{32})"')


def normalise_notebook(path: Path, kept: dict[str, dict] | None = None) -> None:
    """Make a freshly executed notebook byte-stable: renumber widget ids, drop widget state,
    and give back the ``kept`` timing cells (by id) their stored outputs."""
    text = path.read_text()
    for n, model_id in enumerate(dict.fromkeys(_MODEL_ID.findall(text)), start=1):
        text = text.replace(model_id, f"{n:032x}")
    nb = json.loads(text)
    nb.get("metadata", {}).pop("widgets", None)
    for cell in nb.get("cells", []):
        if "outputs" in cell:
            cell["outputs"] = _merge_streams(cell["outputs"])
        old = (kept or {}).get(cell.get("id", ""))
        if old is not None:
            cell["outputs"] = old.get("outputs", [])
    path.write_text(json.dumps(nb, indent=1, sort_keys=True, ensure_ascii=False) + "\n")


def _joined(source: object) -> str:
    return "".join(source) if isinstance(source, list) else str(source or "")


def _merge_streams(outputs: list[dict]) -> list[dict]:
    """Join consecutive stream outputs of the same name (the kernel splits them by timing)."""
    merged: list[dict] = []
    for out in outputs:
        prev = merged[-1] if merged else None
        if (
            prev is not None
            and out.get("output_type") == "stream"
            and prev.get("output_type") == "stream"
            and prev.get("name") == out.get("name")
        ):
            text = "".join(prev["text"]) + "".join(out["text"])
            prev["text"] = text.splitlines(keepends=True)
        else:
            merged.append(out)
    return merged


def pdf(_args: list[str]) -> None:
    ensure_venv()
    run(PY, str(ROOT / "scripts" / "build_pdf.py"))


def bench(args: list[str]) -> None:
    ensure_venv()
    run(PY, "-m", "pip", "install", "--disable-pip-version-check", "-q", "-e", ".[bench]")
    run(PY, str(ROOT / "benchmarks" / "run_all.py"), *args)


def lab(_args: list[str]) -> None:
    ensure_venv()
    run(tool("jupyter"), "lab", "book/")


def lock(_args: list[str]) -> None:
    """Resolve pyproject.toml's pins ([book] and [test] extras) in a scratch venv and freeze."""
    with tempfile.TemporaryDirectory() as tmp:
        venv.create(tmp, with_pip=True)
        py = Path(tmp) / "bin" / "python"
        run(py, "-m", "pip", "install", "-q", ".[book,test]")
        frozen = subprocess.run(
            [str(py), "-m", "pip", "freeze", "--exclude", "lrconv"],
            check=True, capture_output=True, text=True,
        ).stdout
    LOCK.write_text(
        "# The pinned environment: generated by `python3 tasks.py lock` from pyproject.toml.\n"
        + "".join(sorted(frozen.splitlines(keepends=True), key=str.lower))
    )


def clean(_args: list[str]) -> None:
    for p in ["_build", ".pytest_cache", ".hypothesis", ".ruff_cache", "lrconv.egg-info"]:
        shutil.rmtree(ROOT / p, ignore_errors=True)


TASKS = {f.__name__: f for f in (book, test, notebooks, student, instructor, pdf, bench, lab, lock,
                                  clean)}

if __name__ == "__main__":
    if len(sys.argv) < 2 or sys.argv[1] not in TASKS:
        print(__doc__)
        sys.exit(2)
    TASKS[sys.argv[1]](sys.argv[2:])
