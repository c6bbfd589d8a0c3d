"""The book's figures, drawn in one house style, organised by kind.

- :mod:`lrconv.plotting.style`     the house style (rcParams, colour maps, the ``styled`` decorator)
- :mod:`lrconv.plotting.heatmaps`  matrices, kernels, feature maps, photos, filter grids
- :mod:`lrconv.plotting.diagrams`  cubes, patches, sliding windows, the hand procedure
- :mod:`lrconv.plotting.layer_diagrams`  the stages of a factorized layer, what each stage reads
- :mod:`lrconv.plotting.charts`    the one line chart and bar charts
- :mod:`lrconv.plotting.speed`     charts of measured speed (chapter 6)
- :mod:`lrconv.plotting.experiments` results over seeds with error bars (chapters 7, 8)

Every public name is importable from :mod:`lrconv.plotting` itself.

Conventions: the data come first, the axes to draw into second (``ax=None`` makes a new figure),
every option is keyword-only. Helpers that draw into one set of axes return the
:class:`~matplotlib.axes.Axes`; helpers that draw several panels return the
:class:`~matplotlib.figure.Figure`. End a notebook figure cell with ``plt.show()`` so that only the
picture is shown (a trailing ``;`` is not enough under nbval, whose kernel does not record the
cell in its history and so prints the returned object's repr).
"""

from lrconv.plotting.charts import *  # noqa: F403
from lrconv.plotting.charts import __all__ as _charts
from lrconv.plotting.diagrams import *  # noqa: F403
from lrconv.plotting.diagrams import __all__ as _diagrams
from lrconv.plotting.experiments import *  # noqa: F403
from lrconv.plotting.experiments import __all__ as _experiments
from lrconv.plotting.heatmaps import *  # noqa: F403
from lrconv.plotting.heatmaps import __all__ as _heatmaps
from lrconv.plotting.layer_diagrams import *  # noqa: F403
from lrconv.plotting.layer_diagrams import __all__ as _layer_diagrams
from lrconv.plotting.speed import *  # noqa: F403
from lrconv.plotting.speed import __all__ as _speed
from lrconv.plotting.style import *  # noqa: F403
from lrconv.plotting.style import __all__ as _style

__all__ = sorted([*_style, *_heatmaps, *_diagrams, *_charts, *_speed, *_experiments,
                  *_layer_diagrams])
