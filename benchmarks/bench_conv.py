"""lrconv.conv2d against PyTorch's CPU conv2d and a plain tensordot over sliding windows.

float32, batch 1, 3x3 kernels with padding 1 on three VGG-like layers. Run directly
(``python benchmarks/bench_conv.py``) or through ``run_all.py``.
"""

from __future__ import annotations

import numpy as np
import torch
from common import arguments, environment, markdown_table, ms, pinned_threads
from numpy.lib.stride_tricks import sliding_window_view

from lrconv.conv import conv2d
from lrconv.cost import conv_cost
from lrconv.timing import compare, speedup

#: (channels, height = width) of the VGG-like layers.
LAYERS = [(64, 56), (128, 32), (256, 16)]


def tensordot_conv2d(x: np.ndarray, kernel: np.ndarray) -> np.ndarray:
    """The textbook vectorised convolution: windows as a strided view, one tensordot."""
    xp = np.pad(x, ((0, 0), (1, 1), (1, 1)))
    windows = sliding_window_view(xp, kernel.shape[2:], axis=(1, 2))  # (C, H, W, kh, kw)
    return np.tensordot(kernel, windows, axes=([1, 2, 3], [0, 3, 4]))


def measure(channels: int, size: int, repeat: int, seed: int = 0) -> dict:
    """Interleaved timings of the three implementations on one layer."""
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((channels, size, size)).astype(np.float32)
    kernel = (rng.standard_normal((channels, channels, 3, 3)) / (3 * channels**0.5)).astype(
        np.float32)
    xt, kt = torch.from_numpy(x)[None], torch.from_numpy(kernel)

    def torch_conv() -> torch.Tensor:
        with torch.inference_mode():
            return torch.nn.functional.conv2d(xt, kt, padding=1)

    fns = {
        "lrconv": lambda: conv2d(x, kernel, padding=1),
        "torch": torch_conv,
        "tensordot": lambda: tensordot_conv2d(x, kernel),
    }
    want = torch_conv().numpy()[0]
    for name in ("lrconv", "tensordot"):  # same answer before timing anything
        np.testing.assert_allclose(fns[name](), want, rtol=1e-3, atol=1e-3)
    t = compare(fns, repeat=repeat, number=3, warmup=2)
    macs = conv_cost(channels, channels, 3, 3, size, size, padding=1).macs
    return {
        "layer": f"C={channels}, {size}x{size}",
        "macs": macs,
        "ms": {k: v.median for k, v in t.items()},
        "vs_torch": 1 / speedup(t["torch"], t["lrconv"]),
        "vs_tensordot": speedup(t["tensordot"], t["lrconv"]),
        "gflops": {k: 2 * macs / v.median / 1e9 for k, v in t.items()},
    }


def table(results: list[dict]) -> str:
    rows = [
        [r["layer"], f"{r['macs'] / 1e6:.0f}", ms(r["ms"]["lrconv"]), ms(r["ms"]["torch"]),
         ms(r["ms"]["tensordot"]), f"{r['vs_torch']:.2f}", f"{r['vs_tensordot']:.2f}",
         f"{r['gflops']['lrconv']:.0f}", f"{r['gflops']['torch']:.0f}"]
        for r in results
    ]
    headers = ["layer (3x3, pad 1)", "MMACs", "lrconv ms", "torch ms", "tensordot ms",
               "lrconv / torch time", "tensordot / lrconv time", "lrconv GFLOP/s",
               "torch GFLOP/s"]
    return markdown_table(headers, rows)


def plot(results: list[dict]):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 3.2))
    names = ["lrconv", "torch", "tensordot"]
    pos = np.arange(len(results))
    for i, (name, hatch) in enumerate(zip(names, ["", "//", ".."], strict=True)):
        ax.bar(pos + (i - 1) * 0.27, [r["ms"][name] * 1e3 for r in results], 0.27,
               label=name, color=str(0.25 + 0.3 * i), hatch=hatch, edgecolor="black")
    ax.set_xticks(pos, [r["layer"] for r in results])
    ax.set_ylabel("median time per call (ms)")
    ax.set_title("float32 3x3 convolution, batch 1")
    ax.legend()
    return fig


def run(threads: int, repeat: int, quick: bool = False) -> tuple[str, list[dict]]:
    layers = LAYERS[-1:] if quick else LAYERS
    with pinned_threads(threads):
        results = [measure(c, s, repeat) for c, s in layers]
    text = ("### `lrconv.conv2d` against PyTorch and `tensordot`\n\n"
            f"Median of {repeat} interleaved rounds (3 calls each); ratios are medians of "
            "per-round ratios. Target: lrconv / torch time at most 1.5.\n\n" + table(results))
    return text, results


if __name__ == "__main__":
    from common import save_figure

    args = arguments(__doc__.splitlines()[0])
    text, results = run(args.threads, args.repeat, args.quick)
    print(environment(args.threads) + "\n\n" + text)
    print("plot:", save_figure(plot(results), "conv2d"))
