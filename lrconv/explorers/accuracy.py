"""The rank/accuracy explorer of chapter 7 and the functions behind it.

:func:`rank_accuracy` measures the accuracy of trained networks with one layer factorized at a
rank, before and after fine-tuning; :func:`accuracy_summary` says the result in one line;
:func:`rank_accuracy_explorer` wires them to a slider.
"""

from __future__ import annotations

import html
from collections.abc import Mapping, Sequence

import numpy as np

from lrconv._validate import check_int
from lrconv.experiments import Spread, factorized_runs, spread

__all__ = ["accuracy_summary", "rank_accuracy", "rank_accuracy_explorer"]


def rank_accuracy(nets: Mapping[int, object], data: Sequence[np.ndarray], rank: object, *,
                  form: str = "cp", init: str = "decompose", epochs: int = 2,
                  **options: object) -> dict[str, object]:
    """Accuracy of every trained network with one layer factorized at ``rank``, before and
    after fine-tuning (chapter 7).

    Runs :func:`lrconv.experiments.factorized_runs` (``options`` are passed on, e.g. ``tol``
    and ``max_iter`` of CP-ALS, or ``layer``).

    Returns
    -------
    dict
        ``"error"``, ``"before"`` and ``"after"``: one value per network, in the order of
        ``nets`` (relative kernel error; test accuracy straight after the swap and after
        ``epochs`` epochs of fine-tuning); ``"error_spread"``, ``"before_spread"`` and
        ``"after_spread"``: their :class:`lrconv.experiments.Spread`.
    """
    epochs = check_int(epochs, "epochs", 0)
    return _with_spreads(factorized_runs(nets, data, form, rank, init=init, epochs=epochs,
                                         **options))


def _with_spreads(runs: Mapping[str, object]) -> dict[str, object]:
    """The lists ``"error"``, ``"before"``, ``"after"`` of ``runs`` and their spreads."""
    if not isinstance(runs, Mapping) or not {"error", "before", "after"} <= set(runs):
        raise TypeError("each result must hold the lists 'error', 'before' and 'after' (as "
                        "factorized_runs returns them)")
    out: dict[str, object] = {key: [float(v) for v in runs[key]]
                              for key in ("error", "before", "after")}
    for key in ("error", "before", "after"):
        out[f"{key}_spread"] = spread(out[key])
    return out


def accuracy_summary(result: Mapping[str, object], rank: object, epochs: int) -> str:
    """One line for a :func:`rank_accuracy` result (chapter 7)."""
    keys = [f"{key}_spread" for key in ("error", "before", "after")]
    if not isinstance(result, Mapping) or not all(k in result for k in keys):
        raise TypeError(f"result must be what rank_accuracy returns (a mapping with {keys}); "
                        f"received {type(result).__name__}")
    parts = {key: result[f"{key}_spread"] for key in ("error", "before", "after")}
    if not all(isinstance(s, Spread) for s in parts.values()):
        raise TypeError("result must come from rank_accuracy")
    return (f"rank {rank}: kernel error {parts['error']:.3f}; test accuracy straight after the "
            f"swap {parts['before']:.3f}, after {epochs} epochs of fine-tuning "
            f"{parts['after']:.3f} (mean ± standard deviation over {parts['error'].n} networks)")


# --------------------------------------------------------------------------- widgets


def rank_accuracy_explorer(nets: Mapping[int, object], data: Sequence[np.ndarray],
                           ranks: Sequence[object], *, form: str = "cp",
                           init: str = "decompose", epochs: int = 2,
                           known: Mapping[object, Mapping[str, object]] | None = None,
                           **options: object):
    """Slide over ``ranks``; see the kernel error and the test accuracy before and after
    fine-tuning, over all networks (chapter 7).

    Returns an ``ipywidgets.VBox``: the slider (``children[0]``) and a line of numbers
    (``children[1]``). Each new rank runs :func:`rank_accuracy` once; its result is kept, so
    going back to a rank costs nothing. ``known`` maps ranks to results already computed with
    the same settings (of :func:`rank_accuracy` or
    :func:`lrconv.experiments.factorized_runs`), which are shown without running again; the
    slider starts at the first known rank.
    """
    import ipywidgets as widgets

    if isinstance(ranks, (str, bytes)) or not isinstance(ranks, Sequence) or not ranks:
        raise TypeError(f"ranks must be a non-empty sequence of ranks; received {ranks!r}")
    epochs = check_int(epochs, "epochs", 0)
    numbers = widgets.HTML()
    if known is not None and not isinstance(known, Mapping):
        raise TypeError(f"known must be a mapping of rank to result; received "
                        f"{type(known).__name__}")
    seen = {r: accuracy_summary(_with_spreads(res), r, epochs)
            for r, res in (known or {}).items()}
    first = next((r for r in ranks if r in seen), ranks[0])  # nothing to run at the start
    slider = widgets.SelectionSlider(options=list(ranks), value=first, description="rank")

    def update(_change: object = None) -> None:
        r = slider.value
        if r not in seen:
            result = rank_accuracy(nets, data, r, form=form, init=init, epochs=epochs,
                                   **options)
            seen[r] = accuracy_summary(result, r, epochs)
        numbers.value = html.escape(seen[r])

    slider.observe(update, names="value")
    update()
    return widgets.VBox([slider, numbers])
