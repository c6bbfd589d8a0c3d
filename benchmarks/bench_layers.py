"""CP and Tucker-2 layers against the dense conv2d they replace, across ranks.

For each VGG-like layer and rank: the MAC ratio from ``lrconv.cost`` (dense MACs / factorized
MACs), the measured speedup over lrconv's own dense ``conv2d`` (interleaved in the same rounds)
and the efficiency = speedup / MAC ratio. Timings do not depend on the factor values, so the
factors are random with the right shapes. A second table times each stage of the CP stage plan
alone (the plan :mod:`lrconv.layers` runs and :mod:`lrconv.cost` counts) to show where the time
goes.
"""

from __future__ import annotations

import numpy as np
from common import arguments, environment, markdown_table, ms, pinned_threads

from lrconv.conv import conv2d
from lrconv.cost import (
    arithmetic_intensity,
    conv_cost,
    cp_cost,
    ratio,
    stage_costs,
    tucker2_cost,
)
from lrconv.factors import CPFactors, Tucker2Factors
from lrconv.layers import cp_conv2d, run_stage, run_stages, tucker2_conv2d
from lrconv.timing import compare, speedup

LAYERS = [(64, 56), (128, 32), (256, 16)]


def ranks_for(channels: int) -> list[int]:
    return [channels // 16, channels // 8, channels // 4, channels // 2, channels]


def random_factors(channels: int, rank: int, dtype, rng) -> tuple[CPFactors, Tucker2Factors]:
    def m(*shape):
        return rng.standard_normal(shape).astype(dtype)

    return (CPFactors(m(channels, rank), m(channels, rank), m(3, rank), m(3, rank)),
            Tucker2Factors(m(rank, rank, 3, 3), m(channels, rank), m(channels, rank)))


def measure(channels: int, size: int, rank: int, repeat: int, dtype, seed: int = 0) -> dict:
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((channels, size, size)).astype(dtype)
    kernel = rng.standard_normal((channels, channels, 3, 3)).astype(dtype)
    cp, tk = random_factors(channels, rank, dtype, rng)
    t = compare({
        "dense": lambda: conv2d(x, kernel, padding=1),
        "cp": lambda: cp_conv2d(x, cp, padding=1),
        "tucker2": lambda: tucker2_conv2d(x, tk, padding=1),
    }, repeat=repeat, number=3, warmup=1)
    dense = conv_cost(channels, channels, 3, 3, size, size, padding=1)
    cp_r = ratio(dense, cp_cost(channels, channels, 3, 3, size, size, rank, padding=1)).macs
    tk_r = ratio(dense, tucker2_cost(channels, channels, 3, 3, size, size, (rank, rank),
                                     padding=1)).macs
    s_cp, s_tk = speedup(t["dense"], t["cp"]), speedup(t["dense"], t["tucker2"])
    return {"layer": f"C={channels}, {size}x{size}", "channels": channels, "rank": rank,
            "ms": {k: v.median for k, v in t.items()},
            "cp": {"mac_ratio": cp_r, "speedup": s_cp, "efficiency": s_cp / cp_r},
            "tucker2": {"mac_ratio": tk_r, "speedup": s_tk, "efficiency": s_tk / tk_r}}


def stage_breakdown(channels: int, size: int, rank: int, repeat: int, dtype) -> list[list]:
    """Time each stage of the CP stage plan alone, with its MACs and bytes moved (read +
    written, no cache), next to the dense layer."""
    rng = np.random.default_rng(1)
    x = rng.standard_normal((1, channels, size, size)).astype(dtype)
    cp, _ = random_factors(channels, rank, dtype, rng)
    plan = cp.stage_plan(padding=1)
    inputs = [x, *run_stages(x, plan)[:-1]]  # what each stage reads
    kernel = rng.standard_normal((channels, channels, 3, 3)).astype(dtype)
    fns = {"dense 3x3 conv2d": lambda: conv2d(x, kernel, padding=1)}
    for stage, xin in zip(plan, inputs, strict=True):
        fns[stage.name] = lambda stage=stage, xin=xin: run_stage(stage, xin)
    t = compare(fns, repeat=repeat, number=5, warmup=1)
    item = np.dtype(dtype).itemsize
    stages = stage_costs(plan, (channels, size, size))
    dense = conv_cost(channels, channels, 3, 3, size, size, padding=1)
    macs = [dense.macs] + [s.macs for s in stages]
    # minimal traffic: read the input once, write the output once, read the weights
    values = [x.size + channels * size * size + kernel.size] + [s.values for s in stages]
    rows = []
    for (name, timing), mac, n in zip(t.items(), macs, values, strict=True):
        sec = timing.median
        rows.append([name, f"{mac / 1e6:.2f}", ms(sec), f"{2 * mac / sec / 1e9:.1f}",
                     f"{arithmetic_intensity(mac, n, itemsize=item):.1f}",
                     f"{n * item / sec / 1e9:.1f}"])
    return rows


def plot(results: list[dict]):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    layers = list(dict.fromkeys(r["layer"] for r in results))
    fig, axes = plt.subplots(1, len(layers), figsize=(4 * len(layers), 3.4), squeeze=False)
    for ax, layer in zip(axes[0], layers, strict=True):
        rs = [r for r in results if r["layer"] == layer]
        ranks = [r["rank"] for r in rs]
        for form, marker in (("cp", "o"), ("tucker2", "s")):
            ax.plot(ranks, [r[form]["mac_ratio"] for r in rs], marker=marker, ls="--",
                    color="0.6", label=f"{form} MAC ratio")
            ax.plot(ranks, [r[form]["speedup"] for r in rs], marker=marker, color="0.1",
                    label=f"{form} measured speedup")
        ax.axhline(1, color="0.4", lw=0.8)
        ax.set_xscale("log", base=2)
        ax.set_yscale("log")
        ax.set_xlabel("rank R (Tucker-2: R_out = R_in = R)")
        ax.set_ylabel("times faster than dense")
        ax.set_title(layer)
    axes[0][0].legend(fontsize=7)
    return fig


def table(results: list[dict]) -> str:
    rows = []
    for r in results:
        rows.append([r["layer"], r["rank"], ms(r["ms"]["dense"]), ms(r["ms"]["cp"]),
                     f"{r['cp']['mac_ratio']:.1f}", f"{r['cp']['speedup']:.2f}",
                     f"{r['cp']['efficiency']:.2f}", ms(r["ms"]["tucker2"]),
                     f"{r['tucker2']['mac_ratio']:.1f}", f"{r['tucker2']['speedup']:.2f}",
                     f"{r['tucker2']['efficiency']:.2f}"])
    headers = ["layer", "R", "dense ms", "CP ms", "CP MAC ratio", "CP speedup", "CP eff.",
               "Tucker-2 ms", "T2 MAC ratio", "T2 speedup", "T2 eff."]
    return markdown_table(headers, rows)


def run(threads: int, repeat: int, quick: bool = False,
        dtype=np.float32) -> tuple[str, list[dict]]:
    layers = LAYERS[-1:] if quick else LAYERS
    with pinned_threads(threads):
        results = [measure(c, s, r, repeat, dtype) for c, s in layers for r in ranks_for(c)]
        c, s = LAYERS[1]
        stages = stage_breakdown(c, s, c // 4, repeat, dtype)
    name = np.dtype(dtype).name
    text = (
        f"### CP and Tucker-2 layers against dense `conv2d` ({name} input)\n\n"
        "Speedup = dense time / factorized time, both lrconv, median of per-round ratios; "
        "efficiency = speedup / MAC ratio (1 would mean time falls exactly with MACs). "
        "Tucker-2 uses R_out = R_in = R. Target: CP efficiency >= 0.5 wherever the MAC "
        "ratio is >= 4.\n\n" + table(results)
        + f"\n\nWhere the time goes: each CP stage alone (C=128, 32x32, R=32, {name}). "
        "MACs per byte counts one read of the stage's input and weights and one write of its "
        "output.\n\n"
        + markdown_table(["stage", "MMACs", "ms", "GFLOP/s", "MACs per byte", "GB/s moved"],
                         stages)
    )
    return text, results


if __name__ == "__main__":
    from common import save_figure

    args = arguments(__doc__.splitlines()[0])
    text, results = run(args.threads, args.repeat, args.quick)
    print(environment(args.threads) + "\n\n" + text)
    print("plot:", save_figure(plot(results), "layers"))
