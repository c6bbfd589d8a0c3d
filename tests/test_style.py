"""The code is ruff clean (configuration in pyproject.toml)."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_ruff_clean():
    ruff = shutil.which("ruff", path=str(Path(sys.executable).parent)) or shutil.which("ruff")
    assert ruff, "ruff is pinned in the [test] extra; install the lock"
    targets = [p for p in ("lrconv", "tests", "benchmarks", "scripts", "tasks.py")
               if (ROOT / p).exists()]
    run = subprocess.run([ruff, "check", *targets], cwd=ROOT, capture_output=True, text=True)
    assert run.returncode == 0, run.stdout + run.stderr
