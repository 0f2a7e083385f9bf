"""A run of tasks with different primary metrics: every plot shows every task, each on its own metric."""

import pytest

pytest.importorskip("matplotlib")

from rnnbench.render import plots  # noqa: E402
from run_helpers import run_sweep  # noqa: E402


def _texts(figure) -> str:
    """Every word a figure shows: panel titles, axis labels and the legends' entries."""
    words = [t.get_text() for legend in figure.legends for t in legend.get_texts()]
    for ax in figure.axes:
        words += [ax.get_title(), ax.get_ylabel(), ax.get_xlabel()]
        words += [t.get_text() for t in (ax.get_legend().get_texts() if ax.get_legend() else [])]
    return " ".join(words)


@pytest.mark.slow
def test_adding_and_copy_both_appear_in_every_plot(tmp_path, monkeypatch):
    drawn = {}
    finish = plots._finish

    def record(figure, title, caption, path):
        drawn[path.name] = _texts(figure)
        return finish(figure, title, caption, path)

    monkeypatch.setattr(plots, "_finish", record)
    run_sweep(tmp_path, "--models", "lstm", "--tasks", "adding,copy", "--seq-len", "4,6", "--steps", "5", "--batch-size", "4",
              "--hidden", "8", "--scenarios", "train", "--threads", "1")
    assert {"accuracy.png", "pareto_accuracy_vs_training_time.png", "train_time_per_token.png"} <= set(drawn), drawn
    for name, words in drawn.items():
        assert "adding" in words and "copy" in words, (name, words)
    # each task's panel carries its own metric
    for name in ("accuracy.png", "pareto_accuracy_vs_training_time.png"):
        assert "adding: mse" in drawn[name] and "copy: accuracy" in drawn[name]
        assert "held-out mse" in drawn[name] and "held-out accuracy" in drawn[name]
