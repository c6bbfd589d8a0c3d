"""Explorers (ipywidgets) of chapters 4 to 7, and the plain functions behind them, by chapter.

- :mod:`lrconv.explorers.placement`  stride and padding placed on the CP stages (chapter 4)
- :mod:`lrconv.explorers.als`        ALS convergence against the rank and the start (chapter 5)
- :mod:`lrconv.explorers.speed`      rank against measured time and output error (chapter 6)
- :mod:`lrconv.explorers.accuracy`   rank against accuracy before and after fine-tuning (chapter 7)

Every public name is importable from :mod:`lrconv.explorers` itself.

The widgets only wire controls to the plain functions (:func:`stage_placement`,
:func:`als_history`, :func:`als_histories`, :func:`rank_tradeoff`, :func:`time_against_dense`,
:func:`time_stages`, :func:`rank_accuracy`), which are tested directly. A static page cannot
recompute a widget, so each chapter follows its explorer with a static figure of the same
exploration at a few settings.
"""

from lrconv.explorers.accuracy import *  # noqa: F403
from lrconv.explorers.accuracy import __all__ as _accuracy
from lrconv.explorers.als import *  # noqa: F403
from lrconv.explorers.als import __all__ as _als
from lrconv.explorers.placement import *  # noqa: F403
from lrconv.explorers.placement import __all__ as _placement
from lrconv.explorers.speed import *  # noqa: F403
from lrconv.explorers.speed import FORMS as FORMS  # the forms rank_time_explorer offers
from lrconv.explorers.speed import __all__ as _speed

__all__ = sorted([*_placement, *_als, *_speed, *_accuracy])
