"""The chapters' shared experiment: the digits split, the training schedule, the network.

Introduced in chapter 7 and reused by chapter 8, so that both train the same network the same
way in one call::

    data = load_digits_split()
    model, history = train_digits_cnn(seed=0, data=data)
    correct(model, data.X_test, data.y_test)        # of 450

The data are the UCI handwritten digits (Alpaydin and Kaynak, 1998; CC BY 4.0) as scikit-learn
ships them (``sklearn.datasets.load_digits``: 1,797 images of 8x8 pixels, values 0..16), scaled
to [0, 1] and split 1,347 / 450 with every digit in the same proportion in both parts
(``train_test_split(test_size=0.25, random_state=0, stratify=target)``). The images, labels and
the split's two index arrays are stored with the package (``lrconv/digits.npz``, 49 kB), so the
split is the same on every machine and loading it imports no scikit-learn; a test checks the
file against scikit-learn's own functions.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

import numpy as np

from lrconv._validate import check_float, check_int
from lrconv.nn._checks import Seed, as_generator, as_labels, check_dtype, check_type
from lrconv.nn.container import Sequential, small_cnn
from lrconv.nn.training import Adam, History, train

__all__ = ["DIGITS_SCHEDULE", "DigitsSplit", "Schedule", "fine_tune", "load_digits_split",
           "sample_per_class", "train_digits_cnn"]

DIGITS_FILE = Path(__file__).resolve().parents[1] / "digits.npz"
"""The stored digits: ``images`` (1797, 8, 8) uint8 in 0..16, ``target`` (1797,), and the
split's ``train_index`` (1347,) and ``test_index`` (450,)."""


class DigitsSplit(NamedTuple):
    """The digits split, in the order of ``train_test_split``'s result."""

    X_train: np.ndarray
    """``(1347, 1, 8, 8)`` images in [0, 1]."""
    X_test: np.ndarray
    """``(450, 1, 8, 8)`` images in [0, 1]."""
    y_train: np.ndarray
    """``(1347,)`` labels 0..9."""
    y_test: np.ndarray
    """``(450,)`` labels 0..9."""


def load_digits_split() -> DigitsSplit:
    """The digits as ``(N, 1, 8, 8)`` images in [0, 1], split 1,347 / 450 (chapter 7).

    ``train_test_split(X, target, test_size=0.25, random_state=0, stratify=target)`` of
    scikit-learn's ``load_digits()``, read from the copy stored with the package: the same split
    on every machine, with each digit's share the same in both parts. Float64 images, integer
    labels; fresh arrays on every call.
    """
    with np.load(DIGITS_FILE) as stored:
        images = stored["images"][:, None].astype(np.float64) / 16.0
        target = stored["target"].astype(np.int64)
        train, test = stored["train_index"], stored["test_index"]
    return DigitsSplit(images[train], images[test], target[train], target[test])


@dataclass(frozen=True)
class Schedule:
    """A training schedule: Adam through phases of ``(epochs, learning rate)`` (chapter 7).

    One Adam optimizer runs every phase (its moment estimates carry over); phase ``k`` visits
    the images in an order drawn from ``seed + k``.

    Attributes
    ----------
    phases : tuple of (int, float)
        ``(epochs, lr)`` per phase.
    batch_size : int
    """

    phases: tuple[tuple[int, float], ...] = ((15, 3e-3), (5, 1e-3))
    batch_size: int = 32

    def __post_init__(self) -> None:
        if not isinstance(self.phases, tuple) or not self.phases:
            raise TypeError(f"phases must be a non-empty tuple of (epochs, lr) pairs; received "
                            f"{self.phases!r}")
        for k, phase in enumerate(self.phases):
            if not isinstance(phase, tuple) or len(phase) != 2:
                raise TypeError(f"phases[{k}] must be a pair (epochs, lr); received {phase!r}")
            check_int(phase[0], f"phases[{k}] epochs", 0)
            check_float(phase[1], f"phases[{k}] lr", minimum=0.0, strict=True)
        check_int(self.batch_size, "batch_size", 1)

    @property
    def epochs(self) -> int:
        """The number of epochs over all phases."""
        return sum(e for e, _ in self.phases)

    def run(self, model: Sequential, X: object, y: object, *, seed: int = 0) -> History:
        """Train ``model`` in place through every phase; the loss of every epoch."""
        seed = check_int(seed, "seed", 0)
        optimizer = Adam(lr=self.phases[0][1])
        history = History()
        for k, (epochs, lr) in enumerate(self.phases):
            optimizer.lr = lr
            part = train(model, X, y, epochs=epochs, batch_size=self.batch_size,
                         optimizer=optimizer, seed=seed + k)
            history.loss += part.loss
        return history


DIGITS_SCHEDULE = Schedule()
"""Chapter 7's schedule: Adam at 3e-3 for 15 epochs, then at 1e-3 for 5, batches of 32."""


def train_digits_cnn(seed: int = 0, *, channels: tuple[int, int] = (16, 64),
                     schedule: Schedule = DIGITS_SCHEDULE, dtype: object = np.float32,
                     data: DigitsSplit | None = None) -> tuple[Sequential, History]:
    """Chapter 7's network trained on the digits in one call: ``(model, history)``.

    ``small_cnn(seed, channels=channels, dtype=dtype)`` trained by ``schedule.run(..., seed=
    seed)`` on ``data.X_train`` (default :func:`load_digits_split`; pass the split to load it
    once for several seeds). Float32 by default: the same conclusions, several times faster;
    ``dtype=np.float64`` for finite-difference checks.
    """
    seed = check_int(seed, "seed", 0)
    check_type(schedule, Schedule, "schedule", "a lrconv.nn.Schedule")
    dt = check_dtype(dtype)
    data = _check_split(data)
    model = small_cnn(seed, channels=channels, dtype=dt)
    history = schedule.run(model, data.X_train, data.y_train, seed=seed)
    return model, history


def _check_split(data: object) -> DigitsSplit:
    if data is None:
        return load_digits_split()
    check_type(data, tuple, "data", "a DigitsSplit (X_train, X_test, y_train, y_test)")
    if len(data) != 4:
        raise TypeError(f"data must be a DigitsSplit (X_train, X_test, y_train, y_test); "
                        f"received {len(data)} items")
    return DigitsSplit(*data)


def fine_tune(model: Sequential, X: object, y: object, *, epochs: int = 2, lr: float = 1e-3,
              batch_size: int = 32, seed: Seed = 0) -> History:
    """Train ``model`` in place with a fresh Adam for a few epochs (chapters 7 and 8).

    The budget chapter 7 gives a factorized network: 2 epochs at ``lr = 1e-3``, batches of 32.
    Only trainable layers change (set ``layer.trainable = False`` to freeze one).
    """
    return train(model, X, y, epochs=epochs, batch_size=batch_size, optimizer=Adam(lr=lr),
                 seed=seed)


def sample_per_class(y: object, per_class: int, *, seed: Seed = 0) -> np.ndarray:
    """Indices of ``per_class`` examples of every class of ``y``, drawn without replacement
    (chapter 8's few-shot setting, e.g. 10 images per digit).

    Returns the indices sorted, so ``X[idx], y[idx]`` keep the original order. Every class
    present in ``y`` must have at least ``per_class`` examples.
    """
    labels = np.asarray(y)
    if labels.ndim != 1 or labels.size == 0:
        raise ValueError(f"y must be a non-empty 1-D array of labels; received shape "
                         f"{labels.shape}")
    labels = as_labels(labels, labels.size, "y")
    per_class = check_int(per_class, "per_class", 1)
    rng = as_generator(seed, "seed")
    picks = []
    for label in np.unique(labels):
        where = np.flatnonzero(labels == label)
        if where.size < per_class:
            raise ValueError(f"per_class must be at most the size of the smallest class; "
                             f"class {label} has {where.size} examples, received {per_class}")
        picks.append(rng.choice(where, size=per_class, replace=False))
    return np.sort(np.concatenate(picks))
