"""Run every benchmark, print one markdown report, save the plots.

    python3 tasks.py bench                       # installs the [bench] extra, then this
    python benchmarks/run_all.py [--threads N] [--repeat N] [--quick]

Writes ``benchmarks/results/`` (report and plots; not committed) and ``benchmarks/results.md``
(the latest report, which may be committed). The whole run takes about two minutes on 2 cores.
"""

from __future__ import annotations

import sys
import time
from datetime import date
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))  # the sibling modules, when run from anywhere

import bench_conv  # noqa: E402
import bench_decompose  # noqa: E402
import bench_fused  # noqa: E402
import bench_layers  # noqa: E402
from common import RESULTS, arguments, environment, save_figure  # noqa: E402


def main() -> None:
    args = arguments("Run every lrconv benchmark.")
    start = time.perf_counter()
    sections = []
    text, conv = bench_conv.run(args.threads, args.repeat, args.quick)
    sections.append(text)
    save_figure(bench_conv.plot(conv), "conv2d")
    print(text + "\n", flush=True)
    text, layers = bench_layers.run(args.threads, args.repeat, args.quick)
    sections.append(text)
    save_figure(bench_layers.plot(layers), "layers")
    print(text + "\n", flush=True)
    text = bench_fused.run(args.threads, args.repeat, args.quick)[0]
    sections.append(text)
    print(text + "\n", flush=True)
    text, _ = bench_decompose.run(args.threads, min(args.repeat, 3), args.quick)
    sections.append(text)
    print(text + "\n", flush=True)
    elapsed = time.perf_counter() - start
    report = (
        "# lrconv benchmarks\n\n"
        f"Measured {date.today().isoformat()} with `python3 tasks.py bench` "
        f"(`benchmarks/run_all.py --threads {args.threads} --repeat {args.repeat}"
        f"{' --quick' if args.quick else ''}`) in {elapsed:.0f} s.\n\n"
        f"Machine: {environment(args.threads)}.\n\n" + "\n\n".join(sections) + "\n"
    )
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "results.md").write_text(report)
    if not args.quick:
        (HERE / "results.md").write_text(report)
    print(f"Report: {RESULTS / 'results.md'}; plots in {RESULTS}; {elapsed:.0f} s in all.")


if __name__ == "__main__":
    main()
