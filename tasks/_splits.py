"""The split helpers of the built-in tasks; they live in :mod:`rnnbench.task_api` (public)."""

from rnnbench.task_api import SPLIT_BUCKETS, row_buckets, sample_split, split_rng

__all__ = ["SPLIT_BUCKETS", "row_buckets", "sample_split", "split_rng"]
