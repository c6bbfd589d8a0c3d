"""Charts of measured speed (chapter 6)."""

__all__: list[str] = []
