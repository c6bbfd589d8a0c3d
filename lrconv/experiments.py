"""Results over several seeds: a mean, its spread, and when two results differ (chapters 7, 8).

One training run is one draw: another seed for the initial weights or the order of the images
gives another accuracy. The chapters therefore repeat every experiment over a few seeds and
report the mean with the sample standard deviation, and call two results different only when
their means are further apart than their spreads added together (:func:`differ`). With three
seeds this is a rule of thumb for reading a table, not a significance test; the chapters say so.

The runs of one experiment are independent, so :func:`over_seeds`, :func:`factorized_runs` and
:func:`adaptation_runs` run them side by side in worker processes where the platform allows
(:func:`lrconv._parallel.parallel_map`): the results are those of the plain loop, in order.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import NamedTuple, TypeVar

import numpy as np

from lrconv._parallel import parallel_map
from lrconv._validate import check_int
from lrconv.decompose import relative_error

__all__ = ["Spread", "adaptation_runs", "differ", "factorized_runs", "over_seeds", "spread"]

T = TypeVar("T")


class Spread(NamedTuple):
    """Mean and spread of one quantity over ``n`` runs (chapter 7).

    Attributes
    ----------
    mean : float
    std : float
        Sample standard deviation (``ddof=1``); 0 for a single run.
    low, high : float
        Smallest and largest value.
    n : int
        Number of runs.
    """

    mean: float
    std: float
    low: float
    high: float
    n: int

    def __format__(self, spec: str) -> str:
        """``format(s, ".3f")`` gives ``"0.984 ± 0.003"``."""
        spec = spec or ".3f"
        return f"{self.mean:{spec}} ± {self.std:{spec}}"

    def __str__(self) -> str:
        return format(self)


def spread(values: Iterable[float]) -> Spread:
    """The :class:`Spread` of a non-empty sequence of finite numbers (chapter 7).

    Raises
    ------
    TypeError
        If ``values`` is not a sequence of real numbers.
    ValueError
        If it is empty or holds NaN or infinity.
    """
    if isinstance(values, (str, bytes)) or not isinstance(values, Iterable):
        raise TypeError(f"values must be a sequence of numbers; received {type(values).__name__}")
    items = list(values)
    arr = np.asarray(items, dtype=object)
    if arr.ndim != 1 or arr.size == 0:
        raise ValueError(f"values must be a non-empty 1-D sequence; received shape {arr.shape}")
    for i, v in enumerate(items):
        if isinstance(v, bool) or not isinstance(v, (int, float, np.integer, np.floating)):
            raise TypeError(f"values[{i}] must be a real number; received {v!r}")
        if not math.isfinite(float(v)):
            raise ValueError(f"values[{i}] must be finite; received {v!r}")
    x = np.asarray(items, dtype=np.float64)
    std = float(np.std(x, ddof=1)) if x.size > 1 else 0.0
    return Spread(float(np.mean(x)), std, float(np.min(x)), float(np.max(x)), int(x.size))


def differ(a: Spread, b: Spread) -> bool:
    """Whether two results differ by more than their spreads: ``|mean_a - mean_b| > std_a +
    std_b`` (chapter 7). Results within that band are ones the runs cannot tell apart."""
    for name, s in (("a", a), ("b", b)):
        if not isinstance(s, Spread):
            raise TypeError(f"{name} must be a Spread; received {type(s).__name__}")
    return abs(a.mean - b.mean) > a.std + b.std


def over_seeds(run: Callable[[int], T], seeds: Sequence[int]) -> list[T]:
    """``[run(seed) for seed in seeds]``, with the seeds checked (chapter 7).

    The runs go to worker processes where the platform allows (see the module docstring):
    ``run`` must return a picklable result and must not rely on another run's side effects.
    """
    if not callable(run):
        raise TypeError(f"run must be callable; received {type(run).__name__}")
    if isinstance(seeds, (str, bytes)) or not isinstance(seeds, Sequence) or not seeds:
        raise ValueError(f"seeds must be a non-empty sequence of integers; received {seeds!r}")
    checked = [check_int(s, f"seeds[{i}]", 0) for i, s in enumerate(seeds)]
    if len(set(checked)) != len(checked):
        raise ValueError(f"seeds must be distinct; received {list(seeds)}")
    return parallel_map(run, checked)


def factorized_runs(nets: Mapping[int, object], data: Sequence[np.ndarray], form: str,
                    rank: object, *, init: str = "decompose", layer: int = 3, epochs: int = 2,
                    lr: float = 1e-3, seed_offset: int = 100,
                    **options: object) -> dict[str, list]:
    """Factorize one layer of every trained network, score it, fine-tune it, score it again
    (chapter 7).

    For each ``seed -> network`` of ``nets``: layer ``layer`` is replaced by
    ``FactorizedConv2d.from_conv(network[layer], form, rank, init=init, seed=seed, **options)``,
    the test accuracy is measured, the whole network is fine-tuned with
    :func:`lrconv.nn.fine_tune` (``epochs``, ``lr``, order of the images from
    ``seed + seed_offset``), and measured again. The trained networks are not changed.

    Returns
    -------
    dict
        ``"error"`` (relative error of the factorized kernel), ``"before"`` and ``"after"``
        (test accuracies, fractions in [0, 1]) and ``"models"`` (the fine-tuned networks): one
        entry per network, in the order of ``nets``.
    """
    from lrconv import nn  # the network layer of the package sits above this module

    if not isinstance(nets, Mapping) or not nets:
        raise TypeError(f"nets must be a non-empty mapping of seed to trained network; received "
                        f"{type(nets).__name__}")
    if not isinstance(data, tuple) or len(data) != 4:
        raise TypeError("data must be the digits split (X_train, X_test, y_train, y_test)")
    x_train, x_test, y_train, y_test = data
    layer = check_int(layer, "layer", 0)
    seed_offset = check_int(seed_offset, "seed_offset", 0)
    checked = {}
    for seed, net in nets.items():
        seed = check_int(seed, "nets key (a seed)", 0)
        if not isinstance(net, nn.Sequential) or layer >= len(net):
            raise TypeError(f"nets[{seed}] must be a Sequential with a layer {layer}")
        checked[seed] = net

    def one(seed: int) -> tuple[float, float, float, object]:
        net = checked[seed]
        new = nn.FactorizedConv2d.from_conv(net[layer], form, rank, init=init, seed=seed,
                                            **options)
        error = relative_error(net[layer].kernel(), new.kernel())  # before fine-tuning
        model = net.replace(layer, new)
        before = nn.correct(model, x_test, y_test) / len(y_test)
        nn.fine_tune(model, x_train, y_train, epochs=epochs, lr=lr, seed=seed + seed_offset)
        after = nn.correct(model, x_test, y_test) / len(y_test)
        return error, before, after, model

    results = parallel_map(one, list(checked))
    return {key: [r[i] for r in results]
            for i, key in enumerate(("error", "before", "after", "models"))}


def adaptation_runs(nets: Mapping[int, object], make: Callable[[object, int], object],
                    train: Sequence[np.ndarray], test: Sequence[np.ndarray], *,
                    epochs: int = 10, lr: float = 1e-2, batch_size: int = 64,
                    seed_offset: int = 3) -> dict[str, list]:
    """Adapt every trained network to a new task the same way and score it (chapter 8).

    For each ``seed -> network``: ``model = make(network, seed)`` (a copy prepared for training,
    e.g. with low-rank updates, or a fresh network for a baseline), trained on ``train = (X, y)``
    with Adam (``lr``, ``epochs``, ``batch_size``, order of the images from ``seed +
    seed_offset``) and scored on ``test = (X, y)``. With ``epochs=0`` the model is only scored.

    Returns
    -------
    dict
        ``"accuracy"`` (fractions in [0, 1]), ``"trainable"`` (number of trained parameters) and
        ``"models"``: one entry per network, in the order of ``nets``.
    """
    from lrconv import nn  # the network layer of the package sits above this module

    if not isinstance(nets, Mapping) or not nets:
        raise TypeError(f"nets must be a non-empty mapping of seed to trained network; received "
                        f"{type(nets).__name__}")
    if not callable(make):
        raise TypeError(f"make must be callable as make(network, seed); received "
                        f"{type(make).__name__}")
    for name, pair in (("train", train), ("test", test)):
        if not isinstance(pair, (tuple, list)) or len(pair) != 2:
            raise TypeError(f"{name} must be a pair (X, y)")
    epochs = check_int(epochs, "epochs", 0)
    seed_offset = check_int(seed_offset, "seed_offset", 0)
    checked = {check_int(seed, "nets key (a seed)", 0): net for seed, net in nets.items()}

    def one(seed: int) -> tuple[float, int, object]:
        model = make(checked[seed], seed)
        if not isinstance(model, nn.Sequential):
            raise TypeError(f"make must return a lrconv.nn.Sequential; received "
                            f"{type(model).__name__}")
        if epochs:
            nn.train(model, *train, epochs=epochs, batch_size=batch_size,
                     optimizer=nn.Adam(lr=lr), seed=seed + seed_offset)
        accuracy = nn.correct(model, *test) / len(test[1])
        return accuracy, int(sum(v.size for v in model.named_params().values())), model

    results = parallel_map(one, list(checked))
    return {key: [r[i] for r in results]
            for i, key in enumerate(("accuracy", "trainable", "models"))}
