"""Issue 40: ``compare``, ``history`` and ``study list`` fitted to 100 columns as the run's table is:
no line wider, no word broken across lines, COLUMNS honoured when piped, the cases with a history first."""

import re

import pytest

from run_helpers import run_sweep

TINY = ["--hidden", "8", "--batch-size", "4", "--seq-len", "3", "--threads", "1", "--no-progress",
        "--scenarios", "forward", "--min-time", "0.01"]
#: long words that a narrow column once broke (``transformer@`` / ``torch``)
MODELS = ["--models", "lstm,transformer", "--model-opt", "transformer.heads=2"]


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    out = tmp_path_factory.mktemp("fitted")
    # first seen, but with one value: its history column goes last (and is the one a narrow table leaves out)
    run_sweep(out, "--models", "gru", "--model-opt", "gru.init=orthogonal", *TINY)
    base = run_sweep(out, *MODELS, *TINY)
    new = run_sweep(out, *MODELS, *TINY)
    return out, base, new


def _lines(text):
    return [line.rstrip() for line in text.splitlines()]


def _words_whole(text, cells):
    """Every word of every cell appears whole in the printed text (a word split over two lines does not)."""
    printed = set(re.split(r"[\s│┃|]+", text))
    return [word for cell in cells for word in cell.split() if word not in printed]


def _at_100(cli, monkeypatch, *args):
    monkeypatch.setenv("COLUMNS", "100")  # piped (captured): COLUMNS is the width, as in `COLUMNS=100 ... | cat`
    proc = cli(*args)
    assert proc.returncode in (0, 1), proc.stderr
    too_wide = [line for line in _lines(proc.stdout) if len(line) > 100]
    assert not too_wide, too_wide[:3]
    return proc.stdout


def test_compare_fits_100_columns_without_breaking_a_word(store, cli, monkeypatch):
    out, base, new = store
    text = _at_100(cli, monkeypatch, "compare", "--out", out, base, new)
    assert "transformer@torch[heads=2]" in text  # the label with its model option, whole
    from rnnbench.render.compare import cells

    comparison = _comparison(out, base, new)
    assert comparison.rows
    # labels, metrics, both figures and the verdict: every word whole (the CI and p may be left out)
    assert not _words_whole(text, [cell for row in comparison.rows for cell in cells(row)[:4] + cells(row)[-1:]])


def _comparison(out, base, new):
    from rnnbench.analysis.compare.match import compare_runs
    from rnnbench.analysis.sources import load_run_source

    return compare_runs(load_run_source(base, out), load_run_source(new, out))


def test_history_at_100_columns_shows_the_cases_with_a_history_first(store, cli, monkeypatch):
    out, _, _ = store
    text = _at_100(cli, monkeypatch, "history", "--out", out)
    # the two cases with two runs each come before the case with one value, which may be left out
    assert "lstm@torch" in text and "transformer@torch[heads=2]" in text
    assert "gru@torch" not in text or text.index("gru@torch") > text.index("transformer@torch[heads=2]"), text


def test_study_list_honours_columns_when_piped(cli, monkeypatch):
    text = _at_100(cli, monkeypatch, "study", "list")
    assert "modern-recurrence" in text and "modern_recurrence" in text  # names whole, never broken
    wide = _lines(text)
    assert max(len(line) for line in wide) > 80  # it used the width it was given, not 160


def test_long_labels_and_timed_figures_fit_100_columns_whole():
    """Figures with their spread and count, and a label with model options: too wide for every column at
    100, so the figures wrap after their spread and the CI and p are named as left out."""
    import io

    from rich.console import Console

    from rnnbench.render.compare import print_rows

    rows = [["transformer@torch[heads=2] copy T=10 B=64 H=128 L=1 seed=0", "train step_time_s",
             "70.8 ms ±13.9 ms (n=397)", "175 ms ±29.1 ms (n=397)", "2.47 [2.10, 2.90]", "0.0001",
             "slower (the 95% interval lies beyond +10%)"],
            ["lstm@torch copy T=10 B=64 H=128 L=1 seed=0", "train memory_bytes", "17.5 MiB", "17.5 MiB", "1.000",
             "-", "same"]]
    for width in (100, 80, 140):
        out = io.StringIO()
        print_rows(Console(file=out, width=width, force_terminal=True, color_system=None), rows, "compare")
        text = out.getvalue()
        assert max(len(line) for line in _lines(text)) <= width, width
        assert not _words_whole(text, [cell for row in rows for cell in row[:4] + row[-1:]]), (width, text)
