"""What the benchmark scripts share: pinned threads, the environment line, tables and plots.

The scripts time with :mod:`lrconv.timing` (repeated, interleaved rounds; medians; ratios taken
round by round inside one run) and never assert anything: they measure and report.
"""

from __future__ import annotations

import argparse
import os
import platform
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import threadpoolctl
import torch

RESULTS = Path(__file__).resolve().parent / "results"


@contextmanager
def pinned_threads(threads: int) -> Iterator[None]:
    """Limit BLAS (numpy, through threadpoolctl) and PyTorch to ``threads`` threads."""
    before = torch.get_num_threads()
    with threadpoolctl.threadpool_limits(limits=threads):
        torch.set_num_threads(threads)
        try:
            yield
        finally:
            torch.set_num_threads(before)


def cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def environment(threads: int) -> str:
    """One line saying where and how the numbers were measured."""
    blas = [
        f"{i.get('internal_api')} {i.get('version')} ({i.get('architecture')})"
        for i in threadpoolctl.threadpool_info()
        if i.get("user_api") == "blas" and "numpy" in i.get("filepath", "")
    ]
    coretype = os.environ.get("OPENBLAS_CORETYPE")
    return (
        f"{cpu_name()}, {os.cpu_count()} cores; {threads} thread(s) for numpy's BLAS and "
        f"PyTorch; Python {platform.python_version()}, numpy {np.__version__} "
        f"[{', '.join(blas) or 'BLAS unknown'}], torch {torch.__version__}; "
        f"OPENBLAS_CORETYPE={coretype if coretype is not None else '(unset)'}"
    )


def markdown_table(headers: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    """A GitHub-flavoured markdown table; numbers right-aligned."""
    cells = [[str(c) for c in row] for row in rows]
    widths = [max(len(h), *(len(r[i]) for r in cells)) for i, h in enumerate(headers)]
    numeric = [all(_is_number(r[i]) for r in cells) for i in range(len(headers))]

    def line(values: Sequence[str]) -> str:
        parts = zip(values, widths, numeric, strict=True)
        return "| " + " | ".join(v.rjust(w) if num else v.ljust(w) for v, w, num in parts) + " |"

    rule = "|" + "|".join(("-" * (w + 1) + ":") if num else ("-" * (w + 2))
                          for w, num in zip(widths, numeric, strict=True)) + "|"
    return "\n".join([line(headers), rule, *(line(r) for r in cells)])


def _is_number(text: str) -> bool:
    try:
        float(text.rstrip("x%"))
    except ValueError:
        return False
    return True


def ms(seconds: float) -> str:
    """Seconds as milliseconds with three significant digits."""
    return f"{seconds * 1e3:.3g}"


def arguments(description: str) -> argparse.Namespace:
    """Command-line options every script accepts."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--threads", type=int, default=1,
                        help="threads for numpy's BLAS and PyTorch (default 1)")
    parser.add_argument("--repeat", type=int, default=9,
                        help="interleaved rounds per measurement (default 9)")
    parser.add_argument("--quick", action="store_true",
                        help="fewer cases and rounds, for a smoke test")
    return parser.parse_args()


def save_figure(fig, name: str) -> Path:
    """Save a matplotlib figure as ``results/<name>.png`` and close it."""
    import matplotlib.pyplot as plt

    RESULTS.mkdir(exist_ok=True)
    path = RESULTS / f"{name}.png"
    fig.savefig(path, dpi=120, bbox_inches="tight")
    plt.close(fig)
    return path
