"""Small helpers for building built-in tasks directly in tests."""

from rnnbench.tasks.copy import CopyTask


def copy_task(delay=10, num_symbols=10, alphabet_size=8, seed=0):
    return CopyTask(delay=delay, num_symbols=num_symbols, alphabet_size=alphabet_size, seed=seed)
