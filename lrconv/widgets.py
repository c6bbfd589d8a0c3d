"""Interactive explorers (ipywidgets) for readers who run the notebooks.

Introduced in chapter 3. The computation behind each explorer is a pure function, tested
directly (:func:`rank_exploration`); the widget only wires controls to it and to a figure of
:mod:`lrconv.plotting`. A static book page cannot recompute a widget, so every chapter that shows
an explorer also shows the same exploration as a static figure at a few settings.

Bad input is refused before any widget is built: kernels must be finite, non-empty 2-D real
arrays, images finite, non-empty 2-D real arrays at least as large as every kernel, ranks
integers from 1 to ``min(kh, kw)``; ``TypeError`` for the wrong type, ``ValueError`` for the
wrong value or shape, each naming the argument.
"""

from __future__ import annotations

import html
import numbers
from collections.abc import Mapping

import numpy as np

from lrconv._validate import (
    as_array,
    check_budget,
    check_finite,
    check_int,
    check_ndim,
    check_nonempty,
)
from lrconv.conv import conv2d
from lrconv.separable import kernel_svd, low_rank_kernel

__all__ = ["kernel_rank_explorer", "rank_exploration", "rank_summary"]


# The numbers of a rank_exploration result that rank_summary prints.
_SUMMARY_KEYS = ("kernel_error", "dropped", "output_error", "bound", "relative_output_error")


def _check_kernel_2d(kernel: object, name: str = "kernel") -> np.ndarray:
    k = as_array(kernel, name)
    check_ndim(k, name, (2,), "(kh, kw)")
    check_nonempty(k, name)
    kh, kw = k.shape
    check_budget(kh * kw + min(kh, kw) * (kh + kw + 1), 8, f"the SVD of {name} of shape "
                                                           f"{k.shape}")
    check_finite(k, name)
    return k.astype(np.float64)


def _check_image(image: object, kernel_shapes: list[tuple[int, int]]) -> np.ndarray:
    img = as_array(image, "image")
    check_ndim(img, "image", (2,), "(H, W): a grey-scale image")
    check_nonempty(img, "image")
    for shape in kernel_shapes:
        if img.shape[0] < shape[0] or img.shape[1] < shape[1]:
            raise ValueError(f"image must be at least as large as the kernel {shape}; received "
                             f"image of shape {img.shape}")
    check_budget(img.size, 8, f"a copy of image of shape {img.shape}")
    check_finite(img, "image")
    return img.astype(np.float64)


def rank_exploration(kernel: object, rank: int, image: object) -> dict[str, object]:
    """Truncate a 2-D kernel to rank ``rank`` and measure what that does on an image (chapter 3).

    Parameters
    ----------
    kernel : array_like, shape (kh, kw)
        Finite real kernel.
    rank : int
        Rank kept, ``1 <= rank <= min(kh, kw)``.
    image : array_like, shape (H, W)
        Finite grey-scale image, at least ``kh x kw``.

    Returns
    -------
    dict
        ``"approx"`` the best rank-``rank`` kernel ``K_r`` (Eckart-Young);
        ``"singular_values"`` of ``K``, largest first;
        ``"kernel_error"`` ``||K - K_r||_F``;
        ``"dropped"`` ``sqrt(sum of the dropped squared singular values)``, equal to the
        previous number by Eckart-Young;
        ``"reference"`` and ``"output"`` the valid cross-correlations of the image with ``K``
        and ``K_r``;
        ``"output_error"`` ``max |output - reference|``;
        ``"relative_output_error"`` ``||output - reference||_F / ||reference||_F``
        (the absolute error if the reference is zero);
        ``"patch_norms"`` the Frobenius norm of the image patch under each output;
        ``"bound"`` ``kernel_error * max(patch_norms)``: by the Cauchy-Schwarz inequality each
        output differs by at most ``kernel_error`` times its patch's norm, so
        ``output_error <= bound``.
    """
    k = _check_kernel_2d(kernel)
    rank = check_int(rank, "rank", 1)
    limit = min(k.shape)
    if rank > limit:
        raise ValueError(f"rank must be between 1 and min(kh, kw) = {limit} for a kernel of "
                         f"shape {k.shape}; received {rank}")
    img = _check_image(image, [k.shape])
    s = kernel_svd(k)[1]
    approx = low_rank_kernel(k, rank)
    reference = conv2d(img, k)
    output = conv2d(img, approx)
    diff = output - reference
    kernel_error = float(np.linalg.norm(k - approx))
    patch_norms = np.sqrt(np.maximum(conv2d(img * img, np.ones(k.shape)), 0.0))
    ref_norm = float(np.linalg.norm(reference))
    return {
        "approx": approx,
        "singular_values": s,
        "kernel_error": kernel_error,
        "dropped": float(np.sqrt(np.sum(s[rank:] ** 2))),
        "reference": reference,
        "output": output,
        "output_error": float(np.max(np.abs(diff))),
        "relative_output_error": float(np.linalg.norm(diff) / ref_norm) if ref_norm > 0
        else float(np.linalg.norm(diff)),
        "patch_norms": patch_norms,
        "bound": kernel_error * float(np.max(patch_norms)),
    }


def rank_summary(result: Mapping[str, object], rank: int) -> str:
    """One line of text with the numbers of a :func:`rank_exploration` result (chapter 3).

    Parameters
    ----------
    result : mapping
        As returned by :func:`rank_exploration`; its ``"kernel_error"``, ``"dropped"``,
        ``"output_error"``, ``"bound"`` and ``"relative_output_error"`` are printed.
    rank : int
        The rank the result was computed for, at least 1.
    """
    if not isinstance(result, Mapping):
        raise TypeError(f"result must be a mapping returned by rank_exploration; received "
                        f"{type(result).__name__}")
    missing = [key for key in _SUMMARY_KEYS if key not in result]
    if missing:
        raise ValueError(f"result must hold the numbers of rank_exploration; received a mapping "
                         f"without {', '.join(repr(m) for m in missing)}")
    for key in _SUMMARY_KEYS:
        value = result[key]
        if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real):
            raise TypeError(f"result[{key!r}] must be a real number; received {value!r} "
                            f"(type {type(value).__name__})")
    rank = check_int(rank, "rank", 1)
    return (f"rank {rank}: kernel error {result['kernel_error']:.4f} "
            f"(dropped singular values {result['dropped']:.4f}); "
            f"largest output error {result['output_error']:.4f} <= bound {result['bound']:.4f}; "
            f"relative output error {result['relative_output_error']:.2%}")


def kernel_rank_explorer(kernels: Mapping[str, object], image: object):
    """Pick a kernel and a rank; see ``K_r``, its output on ``image`` and the error (chapter 3).

    Parameters
    ----------
    kernels : mapping of str to array_like, shape (kh, kw)
        The kernels offered, by name (e.g. :func:`lrconv.kernels.classic_kernels`).
    image : array_like, shape (H, W)
        Grey-scale image.

    Returns
    -------
    ipywidgets.VBox
        A kernel menu and a rank slider (``children[0]``), a line of numbers
        (``children[1]``, an ``HTML`` widget) and the figure of
        :func:`lrconv.plotting.plot_rank_outputs` (``children[2]``, an ``Output`` widget).
    """
    import ipywidgets as widgets
    import matplotlib.pyplot as plt
    from IPython.display import display

    from lrconv.plotting import plot_rank_outputs

    if not isinstance(kernels, Mapping):
        raise TypeError(f"kernels must be a mapping of name to 2-D kernel; received "
                        f"{type(kernels).__name__}")
    if not kernels:
        raise ValueError("kernels must hold at least one kernel; received an empty mapping")
    for name in kernels:
        if not isinstance(name, str):
            raise TypeError(f"kernels must be named by strings (the menu's labels); received "
                            f"the key {name!r} (type {type(name).__name__})")
    checked = {name: _check_kernel_2d(k, f"kernels[{name!r}]") for name, k in kernels.items()}
    img = _check_image(image, [k.shape for k in checked.values()])
    first = next(iter(checked.values()))
    menu = widgets.Dropdown(options=list(checked), description="kernel")
    slider = widgets.IntSlider(value=1, min=1, max=min(first.shape), description="rank")
    numbers = widgets.HTML()
    figure = widgets.Output()

    def update(_change: object = None) -> None:
        kernel = checked[menu.value]
        slider.max = min(kernel.shape)
        rank = min(slider.value, slider.max)
        result = rank_exploration(kernel, rank, img)
        numbers.value = html.escape(rank_summary(result, rank))
        with figure:
            figure.clear_output(wait=True)
            fig = plot_rank_outputs(result["reference"], [kernel, result["approx"]],
                                    [result["reference"], result["output"]],
                                    [f"{menu.value} (full)", f"rank {rank}"])
            display(fig)
            plt.close(fig)

    menu.observe(update, names="value")
    slider.observe(update, names="value")
    update()
    return widgets.VBox([widgets.HBox([menu, slider]), numbers, figure])
