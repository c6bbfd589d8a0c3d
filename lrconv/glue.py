"""Values for the book's text: ``glue(name, value)`` (every chapter).

A chapter computes a number and the prose quotes it with ``{glue:}`name```. The record is the
one :func:`myst_nb.glue` writes with ``display=False``: a ``display_data`` output whose MIME
types carry the prefix ``application/papermill.record/`` and whose metadata names the value,
which myst-nb reads from the executed notebook when it builds the page. Importing myst-nb's own
``glue`` loads nbformat and jsonschema (about a second per chapter); this one needs IPython
only, and outside IPython (a plain ``python`` run) it records nothing.
"""

from __future__ import annotations

__all__ = ["GLUE_PREFIX", "glue"]

GLUE_PREFIX = "application/papermill.record/"


def glue(name: str, value: object) -> None:
    """Record ``value`` under ``name`` for ``{glue:}`name``` in the page's text.

    The text shown is the value's ``repr`` as IPython displays it (round floats before gluing
    them). Raises TypeError unless ``name`` is a non-empty string of letters, digits, ``_`` and
    ``-``.
    """
    if not isinstance(name, str):
        raise TypeError(f"name must be a str; received {type(name).__name__}")
    if not name or not all(ch.isalnum() or ch in "_-" for ch in name):
        raise TypeError(f"name must be a non-empty string of letters, digits, '_' and '-'; "
                        f"received {name!r}")
    try:
        from IPython.core.formatters import format_display_data
        from IPython.display import display
    except ImportError:  # no IPython: nothing can read the record
        return
    bundle, metadata = format_display_data(value)
    metadata["scrapbook"] = {"name": name, "mime_prefix": GLUE_PREFIX}
    display({GLUE_PREFIX + mime: data for mime, data in bundle.items()}, raw=True,
            metadata=metadata)
