"""``rnnbench compare BASE NEW``."""

from rnnbench.analysis.compare import add_parser  # noqa: F401  (split by the render part of the redesign)
