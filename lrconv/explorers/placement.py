"""The stage-placement explorer of chapter 4 and the functions behind it.

:func:`placement_stages` puts the stride and the padding of a CP layer on the stages a
placement names; :func:`stage_placement` runs those stages and compares them with the
convolution by the rebuilt kernel; :func:`placement_summary` says the result in one line;
:func:`stage_placement_explorer` wires them to controls.
"""

from __future__ import annotations

import html
from collections.abc import Mapping

import numpy as np

from lrconv._validate import as_array, check_int, check_ndim, check_pair
from lrconv.conv import conv2d
from lrconv.decompose import CPFactors, cp_to_kernel
from lrconv.factors import Stage
from lrconv.layers import run_stages

__all__ = ["PLACEMENTS", "placement_stages", "placement_summary", "stage_placement",
           "stage_placement_explorer"]

#: Where :func:`stage_placement` may put the stride and the padding of a CP layer.
PLACEMENTS = ("spatial", "first", "last", "swapped")


def placement_stages(factors: CPFactors, *, stride: int | tuple[int, int] = 1,
                     padding: int | tuple[int, int] = 0,
                     placement: str = "spatial") -> tuple[Stage, ...]:
    """The four CP stages with the stride and padding on the stages ``placement`` names
    (chapter 4).

    Parameters
    ----------
    factors : CPFactors
    stride, padding : int or (int, int)
        Of the layer, per axis (rows, columns).
    placement : {"spatial", "first", "last", "swapped"}
        ``"spatial"``: the vertical stage takes the vertical stride and padding, the horizontal
        stage the horizontal ones (``factors.stage_plan``, the right placement). ``"first"`` or
        ``"last"``: both on the first or the last 1x1 stage. ``"swapped"``: the vertical stage
        takes the horizontal ones and the horizontal stage the vertical ones.

    Returns
    -------
    tuple of Stage
        A 1x1 stage that carries a stride or padding is a ``"dense"`` stage with a 1x1 kernel.
    """
    if not isinstance(factors, CPFactors):
        raise TypeError(f"factors must be CPFactors; received {type(factors).__name__}")
    if placement not in PLACEMENTS:
        raise ValueError(f"placement must be one of {PLACEMENTS}; received {placement!r}")
    (sh, sw), (ph, pw) = check_pair(stride, "stride", 1), check_pair(padding, "padding", 0)
    plan = list(factors.stage_plan(stride=(sh, sw), padding=(ph, pw)))
    if placement == "spatial":
        return tuple(plan)
    if placement == "swapped":
        vertical, horizontal = plan[1], plan[2]
        plan[1] = Stage(vertical.name, "depthwise", vertical.weight, (1, sw), (0, pw))
        plan[2] = Stage(horizontal.name, "depthwise", horizontal.weight, (sh, 1), (ph, 0))
        return tuple(plan)
    plan = list(factors.stage_plan())
    j = 0 if placement == "first" else 3
    plan[j] = Stage(plan[j].name, "dense", plan[j].weight[:, :, None, None], (sh, sw), (ph, pw))
    return tuple(plan)


def stage_placement(x: object, factors: CPFactors, *, stride: int | tuple[int, int] = 1,
                    padding: int | tuple[int, int] = 0,
                    placement: str = "spatial") -> dict[str, object]:
    """Run the four CP stages with the stride and padding placed as ``placement`` says, and
    compare with the convolution by the rebuilt kernel (chapter 4).

    Parameters
    ----------
    x : array_like, shape (C_in, H, W) or (N, C_in, H, W)
    factors : CPFactors
    stride, padding : int or (int, int)
    placement : {"spatial", "first", "last", "swapped"}
        See :func:`placement_stages`.

    Returns
    -------
    dict
        ``"output"`` (the stages' output, or ``None`` if a filter no longer fits the map it
        reads), ``"expected"`` (``conv2d(x, cp_to_kernel(factors), stride, padding)``),
        ``"same_shape"`` (bool), ``"wrong"`` (boolean array of the expected shape: the outputs
        that differ from the expected ones by more than ``1e-9`` times the largest expected
        magnitude; ``None`` when the shapes differ), ``"differ"`` (how many are wrong, or
        ``None``) and ``"total"`` (the number of expected outputs).
    """
    stages = placement_stages(factors, stride=stride, padding=padding, placement=placement)
    arr = as_array(x, "x")
    check_ndim(arr, "x", (3, 4), "(C_in, H, W) or (N, C_in, H, W)")
    if arr.shape[-3] != factors.shape[1]:
        raise ValueError(f"x must have C_in = {factors.shape[1]} channels, as the factors; "
                         f"received x of shape {arr.shape}")
    expected = conv2d(arr, cp_to_kernel(factors), stride=stride, padding=padding)
    try:
        output = run_stages(arr, stages)[-1]
    except ValueError:  # x is valid (conv2d accepted it): a later filter outgrew its input
        output = None
    same = output is not None and output.shape == expected.shape
    wrong = None
    if same:
        scale = max(float(np.abs(expected).max()), np.finfo(float).tiny)
        wrong = np.abs(output - expected) > 1e-9 * scale
    return {"output": output, "expected": expected, "same_shape": same, "wrong": wrong,
            "differ": None if wrong is None else int(np.count_nonzero(wrong)),
            "total": int(expected.size)}


def placement_summary(result: Mapping[str, object]) -> str:
    """One line for a :func:`stage_placement` result, e.g. ``"shape (2, 4, 4) as expected;
    12 of 32 outputs differ"`` (chapter 4)."""
    keys = ("output", "expected", "same_shape", "differ", "total")
    if not isinstance(result, Mapping) or not all(k in result for k in keys):
        raise TypeError(f"result must be what stage_placement returns (a mapping with "
                        f"{list(keys)}); received {type(result).__name__}")
    expected = result["expected"].shape
    if result["output"] is None:
        return f"a filter no longer fits its input; expected shape {expected}"
    if not result["same_shape"]:
        return f"shape {result['output'].shape}, expected {expected}: the shapes differ"
    return (f"shape {expected} as expected; {result['differ']} of {result['total']} outputs "
            "differ")


# --------------------------------------------------------------------------- widgets


def stage_placement_explorer(x: object, factors: CPFactors, *, max_stride: int = 3,
                             max_padding: int = 2):
    """Pick where the stride and padding go and how large they are; see the output shape and
    how many outputs are wrong (chapter 4).

    Returns an ``ipywidgets.VBox``: the controls (``children[0]``: placement, vertical and
    horizontal stride, vertical and horizontal padding) and a line of numbers
    (``children[1]``). Each change reruns :func:`stage_placement`.
    """
    import ipywidgets as widgets

    stage_placement(x, factors)  # checks x and the factors before any control is built
    max_stride = check_int(max_stride, "max_stride", 1)
    max_padding = check_int(max_padding, "max_padding", 0)
    where = widgets.ToggleButtons(options=list(PLACEMENTS), description="placement")
    sliders = [widgets.IntSlider(value=1, min=1, max=max_stride, description=d)
               for d in ("stride h", "stride w")]
    sliders += [widgets.IntSlider(value=min(1, max_padding), min=0, max=max_padding,
                                  description=d) for d in ("padding h", "padding w")]
    numbers = widgets.HTML()

    def update(_change: object = None) -> None:
        sh, sw, ph, pw = (s.value for s in sliders)
        try:
            line = placement_summary(stage_placement(x, factors, stride=(sh, sw),
                                                     padding=(ph, pw), placement=where.value))
        except ValueError as err:  # e.g. the kernel is larger than the padded input
            line = str(err)
        numbers.value = html.escape(f"{where.value}: {line}")

    for control in (where, *sliders):
        control.observe(update, names="value")
    update()
    return widgets.VBox([widgets.HBox([where, widgets.VBox(sliders)]), numbers])
