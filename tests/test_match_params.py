"""--match-params: every model of a sweep gets (within 5%) the first model's parameter count."""

import dataclasses

import pandas as pd
import pytest

from rnnbench.request import sweep as sw
from rnnbench.request.options import RunRequest
from rnnbench.records import CaseConfig
from rnnbench.analysis.match_params import TOLERANCE, choose_width, match_params, registry_param_counter
from rnnbench.analysis.match_params import ARCHITECTURE
from rnnbench.execution.runner import build_model, build_task
from rnnbench.store import DEFAULT_DB_NAME, ResultsStore


def expand(registry, **axes):
    return sw.expand(RunRequest(**axes), registry).cases


def built_params(registry, case):
    return build_model(case, registry, build_task(case, registry)).num_params()


@pytest.mark.parametrize("hidden", [32, 128])
def test_matched_widths_give_counts_within_5_percent_of_the_first_model(registry, hidden):
    cases = expand(registry, models=["lstm", "gru", "transformer", "rnn"], hidden=[hidden], seq_len=[5, 40])
    matching = match_params(cases, registry_param_counter(registry))
    assert len(matching.cases) == 8 and not matching.warnings
    for seq_len in (5, 40):
        point = [c for c in matching.cases if c.seq_len == seq_len]
        assert [c.model for c in point] == ["lstm@torch", "gru@torch", "transformer@torch", "rnn@torch"]
        assert point[0].hidden == hidden  # the reference keeps the width asked for
        target = built_params(registry, point[0])
        for case in point:
            assert case.requested_hidden == hidden
            assert abs(built_params(registry, case) - target) <= TOLERANCE * target, case
        widths = {c.model: c.hidden for c in point}
        assert widths["transformer@torch"] < hidden < widths["gru@torch"] < widths["rnn@torch"]


def test_the_case_id_is_the_work_that_ran_not_the_width_asked_for(registry):
    [lstm, transformer] = match_params(expand(registry, models=["lstm", "transformer"], hidden=[128]),
                                       registry_param_counter(registry)).cases
    plain = dataclasses.replace(transformer, requested_hidden=None)
    assert transformer.case_id == plain.case_id
    assert transformer.case_id != dataclasses.replace(plain, hidden=128).case_id
    assert CaseConfig.from_dict(transformer.to_dict()) == transformer  # the annotation is stored


def test_choose_width_prefers_multiples_of_8_within_the_band():
    def params(width):  # a Transformer-like count: 12·w² + 30·w
        return 12 * width * width + 30 * width

    target = params(105)
    width = choose_width(params, target, 128)
    assert width == 104 and abs(params(width) - target) <= TOLERANCE / 2 * target
    # 104 is 3.7% short of width 106's count, more than half the tolerance: the closest width wins
    assert choose_width(params, params(106), 128) == 106
    assert choose_width(params, params(106) + 1, 128) == 106


def test_a_band_between_two_widths_takes_the_nearer_and_warns(registry):
    cases = expand(registry, models=["lstm", "transformer"], hidden=[8])
    matching = match_params(cases, registry_param_counter(registry))
    [choice] = matching.choices
    assert not choice.within_tolerance
    assert "no width is within 5%" in matching.warnings[0]


def test_cli_match_params_puts_width_and_count_in_rows_and_table(cli, tmp_path):
    proc = cli("run", "--models", "lstm,gru,transformer", "--hidden", "64", "--match-params", "--scenarios",
               "forward", "--batch-size", "2", "--seq-len", "3", "--min-time", "0.01", "--threads", "1", "--no-progress",
               "--out", tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert "match-params: transformer@torch: width" in proc.stderr
    [run_dir] = [p for p in tmp_path.iterdir() if p.is_dir()]
    frame = pd.read_csv(run_dir / "results.csv").set_index("model")
    assert (frame["hidden"] == 64).all()
    assert frame.loc["lstm@torch", "width"] == 64 and frame.loc["transformer@torch", "width"] < 64
    params = frame["model_params"]
    assert ((params - params["lstm@torch"]).abs() <= TOLERANCE * params["lstm@torch"]).all()
    assert (frame["matched_params"] == params["lstm@torch"]).all()  # the count each case was sized to
    with ResultsStore.reader(tmp_path / DEFAULT_DB_NAME) as store:
        stored = {r.config.model: r.config.matched_params for r in store.results(store.run_ids()[-1])}
    assert stored == {m: int(params["lstm@torch"]) for m in frame.index}
    assert "width" in proc.stdout
    report = (run_dir / "report.md").read_text()
    section = report.split("## Parameter matching (--match-params)")[1].split("## ")[0]
    width = int(frame.loc["transformer@torch", "width"])
    assert f"| transformer@torch | 3 | 64 | {width} |" in section and "vs lstm@torch" in section


def test_lm_transformer_is_matched_to_the_lstm_despite_family_learning_rates(registry):
    """Issue 21 item 1: lm gives recurrent models their own rate (lr_by_family); the rate is no
    architecture, so the Transformer must still be re-sized to the LSTM's count."""
    cases = expand(registry, models=["lstm", "transformer"], tasks=["lm"], hidden=[64], seq_len=[32])
    assert len({c.lr for c in cases}) == 2  # the premise: the two families train at different rates
    matching = match_params(cases, registry_param_counter(registry))
    [lstm, transformer] = matching.cases
    target = built_params(registry, lstm)
    assert transformer.hidden != 64
    assert abs(built_params(registry, transformer) - target) <= TOLERANCE * target


def test_the_training_protocol_is_no_architecture():
    """Declared in rnnbench.sweep_axes: a protocol field in the point splits models apart (the lm bug)."""
    assert ARCHITECTURE == ("task", "task_options", "seq_len", "hidden", "layers")


def test_rates_steps_and_seeds_of_one_point_share_one_match(registry):
    """On adding (not copy), a sweep over rates, steps and seeds: the reference keeps its width at every
    rate, every other model gets one width, and each case records the count it was sized to."""
    cases = expand(registry, models=["gru", "lstm", "rnn"], tasks=["adding"], hidden=[32], seq_len=[10],
                   lr=[1e-3, 1e-2], steps=[5, 10], seeds=[0, 1])
    matching = match_params(cases, registry_param_counter(registry))
    assert len(matching.cases) == 24 and not matching.warnings
    widths = {}
    for case in matching.cases:
        widths.setdefault(case.model, set()).add(case.hidden)
    assert widths["gru@torch"] == {32} and len(widths["lstm@torch"]) == len(widths["rnn@torch"]) == 1
    target = built_params(registry, matching.cases[0])
    assert {c.matched_params for c in matching.cases} == {target}
    for case in matching.cases:
        assert abs(built_params(registry, case) - target) <= TOLERANCE * target


def test_configs_stored_before_matched_params_read_as_unmatched(make_case):
    stored = make_case().to_dict()
    stored.pop("matched_params")
    config = CaseConfig.from_dict(stored)
    assert config.matched_params is None
    assert config.case_id == dataclasses.replace(config, matched_params=1234).case_id  # an annotation
