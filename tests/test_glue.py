"""lrconv.glue writes the record myst-nb's glue writes, so the book's {glue:} roles read it."""

from __future__ import annotations

from unittest import mock

import pytest

from lrconv.glue import GLUE_PREFIX, glue


def _recorded(func, *args, **kwargs) -> list[tuple[tuple, dict]]:
    """The calls ``func`` makes to IPython.display.display (as myst-nb and lrconv import it)."""
    calls: list[tuple[tuple, dict]] = []
    with mock.patch("IPython.display.display", lambda *a, **k: calls.append((a, k))), \
            mock.patch("myst_nb.ext.glue.ipy_display", lambda *a, **k: calls.append((a, k))):
        func(*args, **kwargs)
    return calls


@pytest.mark.parametrize("value", [3, 0.9873, -2, "CP-ALS", 12_010, True])
def test_same_record_as_myst_nb(value):
    from myst_nb.ext.glue import GLUE_PREFIX as myst_prefix
    from myst_nb.ext.glue import glue as myst_glue

    assert GLUE_PREFIX == myst_prefix
    ours = _recorded(glue, "a_name", value)
    theirs = _recorded(myst_glue, "a_name", value, display=False)
    assert ours == theirs and len(ours) == 1
    (bundle,), kwargs = ours[0]
    assert bundle == {GLUE_PREFIX + "text/plain": repr(value)}
    assert kwargs["metadata"]["scrapbook"] == {"name": "a_name", "mime_prefix": GLUE_PREFIX}


def test_markdown_is_recorded_for_the_md_role():
    from IPython.display import Markdown
    from myst_nb.ext.glue import glue as myst_glue

    ours = _recorded(glue, "verdict", Markdown("slower"))
    assert ours == _recorded(myst_glue, "verdict", Markdown("slower"), display=False)
    (bundle,), _ = ours[0]
    assert bundle[GLUE_PREFIX + "text/markdown"] == "slower"


@pytest.mark.parametrize("name", ["", "two words", "x.y", 3, None])
def test_bad_names_raise_type_error_naming_the_argument(name):
    with pytest.raises(TypeError, match="name must be"):
        glue(name, 1)


def test_the_chapters_glue_with_lrconv():
    """Importing myst-nb's glue loads nbformat and jsonschema, about a second per chapter."""
    import json
    from pathlib import Path

    for path in sorted((Path(__file__).resolve().parents[1] / "book").glob("*.ipynb")):
        code = "".join("".join(c["source"]) for c in json.loads(path.read_text())["cells"]
                       if c["cell_type"] == "code")
        assert "myst_nb" not in code, path.name
        if "glue(" in code:
            assert "from lrconv.glue import glue" in code, path.name
