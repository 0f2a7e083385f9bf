"""Plots that read with many series: small multiples, the Pareto line only when drawn, history ticks."""

import pandas as pd

from rnnbench.analysis.history import RunRow
from rnnbench.render.figure_layout import MAX_SERIES_PER_PANEL, chunks
from rnnbench.render.history import tick_labels
from rnnbench.render.plots import make_plots, panels

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def _frame(models, dtypes=("float32",), lengths=(8, 16, 32), accuracy=None):
    rows = []
    for m in models:
        for d in dtypes:
            for T in lengths:
                rows.append({"model": m, "family": "recurrent", "status": "ok", "task": "copy", "task_options": "{}",
                             "seq_len": T, "hidden": 32, "batch_size": 4, "layers": 1, "device": "cpu", "dtype": d,
                             "steps": 30, "lr": 0.01, "seed": 0, "total_seq_len": T + 2,
                             "forward_latency_s": 1e-3 * T, "train_step_time_s": 3e-3 * T, "train_time_s": 0.1 * T,
                             "primary_metric": "accuracy", "higher_is_better": True,
                             "train_eval_accuracy": (accuracy or {}).get(m, 0.5), "train_baseline_accuracy": 0.1})
    return pd.DataFrame(rows)


def test_many_series_become_small_multiples_of_a_handful():
    frame = _frame(["lstm", "gru", "transformer"], dtypes=("float32", "bfloat16", "float64"))
    split = panels(frame, "seq_len")
    assert len(split) == 3  # one panel per dtype, the three models compared within each
    assert all(rows["model"].nunique() == 3 and rows["dtype"].nunique() == 1 for _, rows in split)
    assert panels(_frame(["lstm", "gru"]), "seq_len")[0][0] == ""  # few series: one panel
    many = panels(_frame([f"m{i}" for i in range(12)]), "seq_len")
    assert all(rows["model"].nunique() <= MAX_SERIES_PER_PANEL for _, rows in many) and len(many) == 3


def test_chunks_are_even_and_in_order():
    assert chunks(list(range(9)), 5) == [[0, 1, 2, 3, 4], [5, 6, 7, 8]]
    assert chunks(list(range(12)), 5) == [[0, 1, 2, 3], [4, 5, 6, 7], [8, 9, 10, 11]]


def test_the_pareto_line_is_named_only_when_it_is_drawn(tmp_path):
    one = _frame(["lstm", "gru"], lengths=(8,), accuracy={"lstm": 0.9, "gru": 0.2})
    one.loc[one["model"] == "lstm", "train_time_s"] = 0.1  # lstm is faster and more accurate: one point on the front
    [pareto] = [f for f in make_plots(one, {}, tmp_path).figures if "Pareto" in f.title]
    assert "no front line to draw" in pareto.caption and "The line joins" not in pareto.caption
    assert pareto.path.read_bytes()[:8] == PNG_MAGIC
    two = _frame(["lstm", "gru"], lengths=(8,), accuracy={"lstm": 0.5, "gru": 0.9})
    two.loc[two["model"] == "lstm", "train_time_s"] = 0.1  # faster but less accurate: both on the front
    [pareto] = [f for f in make_plots(two, {}, tmp_path).figures if "Pareto" in f.title]
    assert "The line joins the cases no other case beats on both" in pareto.caption


def test_history_ticks_say_which_run_when_the_commit_is_shared():
    shared = [RunRow(f"r{i}", 1_700_000_000 + 60 * i, "764231f2abc", 2) for i in range(3)]
    labels, xlabel = tick_labels(shared)
    assert labels[0].startswith("1\n") and labels[2].startswith("3\n") and "all at commit 764231f2" in xlabel
    distinct = [RunRow(f"r{i}", 1_700_000_000 + i, f"{i}aaaaaaa", 2) for i in range(3)]
    assert tick_labels(distinct) == (["0aaaaaaa", "1aaaaaaa", "2aaaaaaa"], "run (commit), oldest first")
    mixed = distinct[:2] + [RunRow("r2", 1_700_000_100, "1aaaaaaa", 2)]
    assert tick_labels(mixed) == (["1\n0aaaaaaa", "2\n1aaaaaaa", "3\n1aaaaaaa"], "run number and commit, oldest first")


# -- issue 40: baselines on quality axes, long labels ------------------------------------------------

def _captured(monkeypatch):
    """The figures make_plots saves, by file name."""
    from rnnbench.render import figure_layout

    saved = {}
    real = figure_layout.save

    def save(figure, path):
        saved[path.name] = figure
        real(figure, path)

    monkeypatch.setattr(figure_layout, "save", save)
    return saved


def test_quality_axes_span_every_baseline(tmp_path, monkeypatch):
    import json

    saved = _captured(monkeypatch)
    frame = _frame(["lstm", "transformer"], lengths=(29, 58), accuracy={"lstm": 0.97, "transformer": 0.98})
    frame["baselines"] = json.dumps([["majority class", "baseline_accuracy"], ["1-NN DTW", "baseline_accuracy_1nn_dtw"]])
    frame["train_baseline_accuracy"] = 0.111
    frame["train_baseline_accuracy_1nn_dtw"] = 0.949
    frame.loc[frame["model"] == "lstm", "train_time_s"] = 1.0
    make_plots(frame, {}, tmp_path)
    for name in ("pareto_accuracy_vs_training_time.png", "accuracy.png"):
        [ax] = [a for a in saved[name].axes if a.get_label() != "<colorbar>"][:1]
        low, high = ax.get_ylim()
        assert low <= 0.111 and high >= 0.98, (name, low, high)  # a 1-point gap no longer fills the plot
        drawn = {round(line.get_ydata()[0], 3) for line in ax.get_lines() if line.get_color() == "gray"}
        assert {0.111, 0.949} <= drawn, (name, drawn)  # each baseline drawn, not only named in the legend


def test_long_labels_do_not_collapse_the_timing_plots(tmp_path, monkeypatch, recwarn):
    saved = _captured(monkeypatch)
    long = ["lru@lrupkg[scan=sequential,init=ring,radius=0.99] copy alphabet_size=8,num_symbols=10",
            "transformer@torch[heads=4,norm=pre] copy alphabet_size=8,num_symbols=10"]
    make_plots(_frame(long), {}, tmp_path)
    assert not [w for w in recwarn if "constrained_layout not applied" in str(w.message)]
    figure = saved["forward_time_per_token.png"]
    figure.canvas.draw()
    width = figure.axes[0].get_position().width  # the panel's share of the figure's width
    assert width > 0.4, width


def test_the_html_table_box_ends_with_its_table():
    from rnnbench.render.html import STYLE

    rule = STYLE[STYLE.index(".table-wrap"):].split("}")[0]
    assert "width: fit-content" in rule and "max-width: 100%" in rule  # narrow tables: no page-wide box
