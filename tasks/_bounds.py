"""Bounds on task options, checked before any case runs.

A task option sizes arrays: an alphabet is the width of the embedding, of the output head
and of every batch's logits; a count of symbols is a length. Without an upper bound, one
mistyped digit (``copy.alphabet_size=100000000``) asks for tens of gigabytes and is
stopped by the kernel half-way through a sweep. The bounds are far above what the tasks'
papers use, and each message says the bound, so a user who means it knows what to change.
"""

from __future__ import annotations

#: tokens of a vocabulary (an alphabet, keys, values): B·T·V float32 logits per batch,
#: with their gradient; at the largest bound a batch of 64 × 1,000 positions is 1 GB of logits
MAX_VOCABULARY = 4096
#: symbols, tokens, pairs or queries that one sequence holds
MAX_COUNT = 1024


def check_int_range(name: str, value: int, low: int, high: int, why: str) -> None:
    """Raise ``ValueError`` naming the option, the allowed range and why the upper bound exists."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(f"{name} must be an integer, got {value!r}")
    if value < low:
        raise ValueError(f"{name} must be at least {low}, got {value}")
    if value > high:
        raise ValueError(f"{name}={value} is above the bound of {high} ({why})")


def check_vocabulary(name: str, value: int, low: int = 2) -> None:
    check_int_range(name, value, low, MAX_VOCABULARY,
                    "it sets the embedding, the output head and every batch's logits")


def check_count(name: str, value: int, low: int = 1) -> None:
    check_int_range(name, value, low, MAX_COUNT, "it sets the length of every sequence")
