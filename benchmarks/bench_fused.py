"""The fused CP layer against the numpy CP stages, the dense layers and PyTorch's CP layer.

float32, batch 1, padding 1, 3x3 kernels, one thread by default, on the five layers of the speed
target (C=64 at 56x56 with R=4, 16, 64; C=128 at 32x32 with R=32; C=256 at 16x16 with R=64).
Six implementations run in the same interleaved rounds (order rotating; at least 31 rounds):

- lrconv dense ``conv.conv2d`` and PyTorch dense ``nn.Conv2d``;
- lrconv's CP layer as numpy stages (``layers.cp_conv2d``) and fused (``fused.cp_conv2d_fused``);
- PyTorch's CP layer as users build it: ``nn.Sequential`` of a 1x1 conv, a (3, 1) conv with
  ``groups=R``, a (1, 3) conv with ``groups=R`` and a 1x1 conv; and the same in
  ``channels_last`` memory format.

Every ratio is the median of the round-by-round ratios. Efficiency = speedup over the same
library's dense layer / MAC ratio. A second table times each stage alone (numpy, fused, PyTorch)
with its MACs and the bytes it must move, and the machine's peak sgemm rate measured here.
Run directly (``python benchmarks/bench_fused.py``) or through ``run_all.py``.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from common import arguments, environment, markdown_table, pinned_threads

from lrconv.conv import conv2d, depthwise_conv2d, pointwise_conv2d
from lrconv.cost import conv_cost, cp_cost, cp_stage_costs, ratio
from lrconv.factors import CPFactors
from lrconv.fused import _compiled, cp_conv2d_fused
from lrconv.layers import cp_conv2d
from lrconv.timing import compare, speedup

#: (channels, height = width, rank) of the five layers of the target.
LAYERS = [(64, 56, 4), (64, 56, 16), (64, 56, 64), (128, 32, 32), (256, 16, 64)]
MIN_ROUNDS = 31
NAMES = ["lrconv dense", "torch dense", "lrconv numpy CP", "lrconv fused CP", "torch CP",
         "torch CP channels_last"]


def make_case(channels: int, size: int, rank: int, seed: int = 0) -> dict:
    """Input, factors, the reconstructed kernel and the PyTorch modules of one layer."""
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((channels, size, size)).astype(np.float32)
    f = CPFactors(*((rng.standard_normal((n, rank)) / np.sqrt(n)).astype(np.float32)
                    for n in (channels, channels, 3, 3)))
    assert all(a.dtype == np.float32 for a in f)
    kernel = f.to_kernel().astype(np.float32)
    nn = torch.nn
    dense = nn.Conv2d(channels, channels, 3, padding=1, bias=False)
    stages = [nn.Conv2d(channels, rank, 1, bias=False),
              nn.Conv2d(rank, rank, (3, 1), padding=(1, 0), groups=rank, bias=False),
              nn.Conv2d(rank, rank, (1, 3), padding=(0, 1), groups=rank, bias=False),
              nn.Conv2d(rank, channels, 1, bias=False)]
    weights = [f.inp.T[:, :, None, None], f.vertical.T[:, None, :, None],
               f.horizontal.T[:, None, None, :], f.out[:, :, None, None]]
    with torch.no_grad():
        dense.weight.copy_(torch.from_numpy(kernel))
        for stage, w in zip(stages, weights, strict=True):
            stage.weight.copy_(torch.from_numpy(np.ascontiguousarray(w)))
    cp = nn.Sequential(*stages).eval()
    cp_cl = nn.Sequential(*[nn.Conv2d(s.in_channels, s.out_channels, s.kernel_size,
                                      padding=s.padding, groups=s.groups, bias=False)
                            for s in stages]).eval()
    cp_cl.load_state_dict(cp.state_dict())
    cp_cl = cp_cl.to(memory_format=torch.channels_last)
    xt = torch.from_numpy(x)[None]
    return dict(x=x, f=f, kernel=kernel, dense=dense.eval(), cp=cp, cp_cl=cp_cl, xt=xt,
                xt_cl=xt.contiguous(memory_format=torch.channels_last), stages=stages)


def _torch(module, xt):
    def run():
        with torch.inference_mode():
            return module(xt)
    return run


def layer_functions(case: dict) -> dict:
    x, f, kernel = case["x"], case["f"], case["kernel"]
    return {
        "lrconv dense": lambda: conv2d(x, kernel, padding=1),
        "torch dense": _torch(case["dense"], case["xt"]),
        "lrconv numpy CP": lambda: cp_conv2d(x, f, padding=1),
        "lrconv fused CP": lambda: cp_conv2d_fused(x, f, padding=1),
        "torch CP": _torch(case["cp"], case["xt"]),
        "torch CP channels_last": _torch(case["cp_cl"], case["xt_cl"]),
    }


def measure(channels: int, size: int, rank: int, repeat: int) -> dict:
    """Interleaved timings of the six implementations on one layer, and the ratios."""
    case = make_case(channels, size, rank)
    fns = layer_functions(case)
    want = fns["lrconv numpy CP"]()
    scale = float(np.abs(want).max())
    for name, fn in fns.items():  # all six compute the same layer before anything is timed
        got = fn()
        got = got.numpy()[0] if isinstance(got, torch.Tensor) else got
        np.testing.assert_allclose(got, want, rtol=1e-3, atol=1e-4 * scale, err_msg=name)
    t = compare(fns, repeat=repeat, number=5, warmup=3)
    dense = conv_cost(channels, channels, 3, 3, size, size, padding=1)
    mac_ratio = ratio(dense, cp_cost(channels, channels, 3, 3, size, size, rank,
                                     padding=1)).macs
    s = {name: speedup(t["lrconv dense"], t[name])
         for name in ("lrconv numpy CP", "lrconv fused CP")}
    s.update({name: speedup(t["torch dense"], t[name])
              for name in ("torch CP", "torch CP channels_last")})
    best_torch = np.minimum(t["torch CP"].times, t["torch CP channels_last"].times)
    return {
        "layer": f"C={channels}@{size}, R={rank}", "channels": channels, "size": size,
        "rank": rank, "mac_ratio": mac_ratio, "dense_macs": dense.macs,
        "us": {k: v.median * 1e6 for k, v in t.items()},
        "efficiency": {k: v / mac_ratio for k, v in s.items()},
        "fused_vs_torch_cp": 1 / speedup(t["torch CP"], t["lrconv fused CP"]),
        "fused_vs_torch_cl": 1 / speedup(t["torch CP channels_last"], t["lrconv fused CP"]),
        "fused_vs_best_torch": float(np.median(t["lrconv fused CP"].times / best_torch)),
        "numpy_vs_torch_cp": 1 / speedup(t["torch CP"], t["lrconv numpy CP"]),
        "dense_vs_torch": 1 / speedup(t["torch dense"], t["lrconv dense"]),
    }


def _target_rows(r: dict) -> list[str]:
    eff = r["efficiency"]["lrconv fused CP"]
    need = 0.8 if 4 <= r["mac_ratio"] <= 18 else 0.5
    return [f"{eff:.2f} (>= {need}): {'met' if eff >= need else 'not met'}",
            f"{r['fused_vs_best_torch']:.2f} (<= 0.5): "
            f"{'met' if r['fused_vs_best_torch'] <= 0.5 else 'not met'}",
            f"{r['dense_vs_torch']:.2f} (<= 1.2): "
            f"{'met' if r['dense_vs_torch'] <= 1.2 else 'not met'}"]


def tables(results: list[dict]) -> str:
    def us(v: float) -> str:
        return f"{v:.0f}"

    times = markdown_table(
        ["layer", *[f"{n} us" for n in NAMES]],
        [[r["layer"], *[us(r["us"][n]) for n in NAMES]] for r in results])
    ratios = markdown_table(
        ["layer", "MAC ratio", "lrconv numpy CP eff.", "lrconv fused CP eff.",
         "torch CP eff.", "torch CP channels_last eff.", "fused / torch CP time",
         "fused / torch CP channels_last time", "numpy CP / torch CP time",
         "dense lrconv / torch time"],
        [[r["layer"], f"{r['mac_ratio']:.1f}",
          *[f"{r['efficiency'][n]:.2f}" for n in ("lrconv numpy CP", "lrconv fused CP",
                                                  "torch CP", "torch CP channels_last")],
          f"{r['fused_vs_torch_cp']:.2f}", f"{r['fused_vs_torch_cl']:.2f}",
          f"{r['numpy_vs_torch_cp']:.2f}", f"{r['dense_vs_torch']:.2f}"] for r in results])
    targets = markdown_table(
        ["layer", "fused CP efficiency", "fused / faster torch CP time",
         "dense lrconv / torch time"],
        [[r["layer"], *_target_rows(r)] for r in results])
    return (times + "\n\nRatios (medians of round-by-round ratios):\n\n" + ratios
            + "\n\nTargets (issue 17; fused CP against the faster of PyTorch's two CP "
            "layers, round by round):\n\n" + targets)


# --------------------------------------------------------------------------- stages


def peak_sgemm(repeat: int) -> float:
    """The best float32 matrix-product rate (GFLOP/s) measured on square products."""
    rng = np.random.default_rng(0)
    best = 0.0
    for n in (512, 1024):
        a, b = (rng.standard_normal((n, n)).astype(np.float32) for _ in range(2))
        t = compare({"sgemm": lambda a=a, b=b: a @ b}, repeat=max(5, repeat // 3), number=3)
        best = max(best, 2 * n**3 / float(np.min(t["sgemm"].times)) / 1e9)
    return best


def dense_floor(channels: int, size: int, repeat: int) -> dict:
    """Dense layer: lrconv conv2d, its im2col matrix product alone, PyTorch (same rounds)."""
    case = make_case(channels, size, 4)
    x, kernel = case["x"], case["kernel"]
    xp = np.pad(x, ((0, 0), (1, 1), (1, 1)))
    cols = np.stack([xp[:, i:i + size, j:j + size] for i in range(3) for j in range(3)], 1)
    cols = cols.reshape(channels * 9, size * size)
    weights = kernel.reshape(channels, -1)
    t = compare({"conv2d": lambda: conv2d(x, kernel, padding=1),
                 "sgemm": lambda: weights @ cols,
                 "torch": _torch(case["dense"], case["xt"])}, repeat=repeat, number=3)
    macs = conv_cost(channels, channels, 3, 3, size, size, padding=1).macs
    return {"layer": f"C={channels}@{size}",
            "us": {k: v.median * 1e6 for k, v in t.items()},
            "gflops": {k: 2 * macs / v.median / 1e9 for k, v in t.items()},
            "sgemm_vs_torch": 1 / speedup(t["torch"], t["sgemm"]),
            "conv_vs_torch": 1 / speedup(t["torch"], t["conv2d"])}


def stage_table(channels: int, size: int, rank: int, repeat: int,
                peak: float) -> list[list[str]]:
    """Each stage alone: numpy, fused and PyTorch, with MACs, bytes moved and GFLOP/s."""
    case = make_case(channels, size, rank)
    x, f = case["x"], case["f"]
    s1 = pointwise_conv2d(x, f.inp.T)
    s2 = depthwise_conv2d(s1, f.vertical.T[:, :, None], padding=(1, 0))
    s3 = depthwise_conv2d(s2, f.horizontal.T[:, None, :], padding=(0, 1))
    xf, inp = x.reshape(1, channels, -1), f.inp.T
    v, h = np.ascontiguousarray(f.vertical), np.ascontiguousarray(f.horizontal)
    s1b, s3b = s1[None], np.empty((1, rank, size, size), np.float32)
    row, tmp = np.zeros(size + 2, np.float32), np.empty(size * size, np.float32)
    kernel = _compiled()
    tt = [case["xt"]]
    with torch.inference_mode():
        for stage in case["stages"]:
            tt.append(stage(tt[-1]))
    fns = {
        "np 1": lambda: pointwise_conv2d(x, f.inp.T),
        "np 2": lambda: depthwise_conv2d(s1, f.vertical.T[:, :, None], padding=(1, 0)),
        "np 3": lambda: depthwise_conv2d(s2, f.horizontal.T[:, None, :], padding=(0, 1)),
        "np 4": lambda: pointwise_conv2d(s3, f.out),
        "fu 1": lambda: np.matmul(inp, xf),
        "fu 23": lambda: kernel(s1b, 0, size, v, h, 1, 1, 1, 0, s3b, tmp, row,
                                np.float32(0)),
        "fu 4": lambda: np.matmul(f.out, s3b.reshape(1, rank, -1)),
        **{f"pt {i + 1}": _torch(stage, tt[i]) for i, stage in enumerate(case["stages"])},
    }
    t = {k: v.median * 1e6 for k, v in compare(fns, repeat=repeat, number=5, warmup=2).items()}
    costs = cp_stage_costs(channels, channels, 3, 3, size, size, rank, padding=1)
    moved = [(np.prod(c.shape_in) + np.prod(c.shape_out) + c.params) * 4 for c in costs]
    macs = [c.macs for c in costs]

    def row_of(name, mac, byte, np_us, fu_us, pt_us):
        def cell(v):
            return "-" if v is None else f"{v:.0f}"
        gf = "-" if np_us is None else f"{2 * mac / np_us / 1e3:.1f}"
        gf_fu = "-" if fu_us is None else f"{2 * mac / fu_us / 1e3:.1f}"
        share = "-" if fu_us is None else f"{100 * 2 * mac / fu_us / 1e3 / peak:.0f}%"
        return [name, f"{mac / 1e6:.2f}", f"{byte / 1024:.0f}", f"{mac / byte:.2f}",
                cell(np_us), gf, cell(fu_us), gf_fu, share, cell(pt_us)]

    fused_moved = moved[1] + moved[2] - 2 * np.prod(costs[1].shape_out) * 4
    return [
        row_of(costs[0].name, macs[0], moved[0], t["np 1"], t["fu 1"], t["pt 1"]),
        row_of(costs[1].name, macs[1], moved[1], t["np 2"], None, t["pt 2"]),
        row_of(costs[2].name, macs[2], moved[2], t["np 3"], None, t["pt 3"]),
        row_of("vertical + horizontal in one pass", macs[1] + macs[2], fused_moved, None,
               t["fu 23"], None),
        row_of(costs[3].name, macs[3], moved[3], t["np 4"], t["fu 4"], t["pt 4"]),
    ]


def compile_times() -> dict:
    """Seconds to import lrconv.fused (numpy already imported), and of the first float32
    call: compiling (empty cache) and loading the cached machine code (second process, same
    cache)."""
    code = ("import time; import numpy as np; t0 = time.perf_counter(); "
            "import lrconv.fused as m; t1 = time.perf_counter(); "
            "f = m.CPFactors(*(np.ones((4, 2), np.float32),) * 2, *(np.ones((3, 2), "
            "np.float32),) * 2); m.cp_conv2d_fused(np.ones((4, 8, 8), np.float32), f, "
            "padding=1); print(t1 - t0, time.perf_counter() - t1)")
    out = {}
    with tempfile.TemporaryDirectory() as cache:
        env = dict(os.environ, NUMBA_CACHE_DIR=cache)
        for label in ("compile", "cached"):
            done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True,
                                  text=True, timeout=600, check=True,
                                  cwd=Path(__file__).resolve().parents[1])
            imp, first = (float(v) for v in done.stdout.split())
            out[label] = first
            out["import"] = imp
    return out


def run(threads: int, repeat: int, quick: bool = False) -> tuple[str, list[dict]]:
    repeat = max(3, repeat) if quick else max(MIN_ROUNDS, repeat)
    layers = LAYERS[-1:] if quick else LAYERS
    start = time.perf_counter()
    jit = compile_times()
    with pinned_threads(threads):
        cp_conv2d_fused(np.ones((1, 3, 3), np.float32),  # compiled (or loaded) before timing
                        CPFactors(*(np.ones((k, 1), np.float32) for k in (1, 1, 3, 3))))
        results = [measure(c, s, r, repeat) for c, s, r in layers]
        peak = peak_sgemm(repeat)
        dense = [dense_floor(c, s, repeat) for c, s in dict.fromkeys((c, s) for c, s, _ in
                                                                    layers)]
        stages = {(c, s, r): stage_table(c, s, r, repeat, peak) for c, s, r in layers}
    elapsed = time.perf_counter() - start
    stage_text = "\n\n".join(
        f"C={c}@{s}, R={r}:\n\n" + markdown_table(
            ["stage", "MMACs", "KiB moved", "MACs/byte", "numpy us", "numpy GFLOP/s",
             "fused us", "fused GFLOP/s", "fused % of peak sgemm", "torch us"], rows)
        for (c, s, r), rows in stages.items())
    dense_text = markdown_table(
        ["layer (3x3, pad 1)", "lrconv conv2d us", "its im2col sgemm alone us", "torch us",
         "conv2d GFLOP/s", "sgemm GFLOP/s", "torch GFLOP/s", "conv2d / torch",
         "sgemm alone / torch"],
        [[d["layer"], f"{d['us']['conv2d']:.0f}", f"{d['us']['sgemm']:.0f}",
          f"{d['us']['torch']:.0f}", f"{d['gflops']['conv2d']:.0f}",
          f"{d['gflops']['sgemm']:.0f}", f"{d['gflops']['torch']:.0f}",
          f"{d['conv_vs_torch']:.2f}", f"{d['sgemm_vs_torch']:.2f}"] for d in dense])
    text = (
        "### Fused CP layer against PyTorch's CP layer (float32, batch 1, padding 1)\n\n"
        f"Median microseconds per call over {repeat} interleaved rounds of 5 calls "
        f"({elapsed:.0f} s in all).\n\n" + tables(results)
        + f"\n\nPeak sgemm measured here: {peak:.0f} GFLOP/s (best of 512^3 and 1024^3 "
        "float32 products, one thread).\n\nDense layer: lrconv's `conv2d`, the im2col matrix "
        "product alone (its floor), PyTorch (same rounds):\n\n" + dense_text
        + "\n\nWhere the time goes, stage by stage (each stage alone, same rounds; KiB moved "
        "= one read of the stage's input and weights and one write of its output; the fused "
        "pass moves only the first stage's output in and the third's out):\n\n" + stage_text
        + f"\n\nJIT: importing `lrconv.fused` {jit['import'] * 1e3:.0f} ms after numpy (numba "
        f"not yet imported); first float32 call {jit['compile']:.2f} s with an empty cache "
        f"(imports numba and compiles), {jit['cached']:.2f} s in a later process (loads "
        "the cached machine code).\n"
    )
    return text, results


if __name__ == "__main__":
    args = arguments(__doc__.splitlines()[0])
    text, _ = run(args.threads, args.repeat, args.quick)
    print(environment(args.threads) + "\n\n" + text)
