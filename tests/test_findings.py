"""The findings engine on fabricated results tables: clear winner, no significant difference, failed case."""

import zlib

import numpy as np
import pandas as pd

from rnnbench.analysis.findings import attach_samples, compare_costs, findings, short_reason
from rnnbench.records import CaseResult, Metric
from rnnbench.records import CaseConfig


def _row(model, step, forward, *, seq_len=20, family="recurrent", accuracy=None, memory=None, status="ok",
         error="", seed=0, dtype="float32", n=20, spread=0.02):
    """One case: timings drawn around ``step``/``forward`` seconds with a relative spread (seeded)."""
    rng = np.random.default_rng(zlib.crc32(f"{model} {seq_len} {seed} {dtype}".encode()))
    row = {"case_id": f"{model}-{seq_len}-{seed}-{dtype}", "model": model, "family": family, "task": "copy",
           "task_options": "{}", "seq_len": seq_len, "batch_size": 4, "hidden": 32, "width": 32, "layers": 1,
           "device": "cpu", "dtype": dtype, "seed": seed, "steps": 30, "lr": 0.003, "status": status,
           "error": error, "cpu": "Test CPU", "threads": 2, "total_seq_len": seq_len + 2,
           "primary_metric": "accuracy", "higher_is_better": True}
    if status != "ok":
        return row
    for column, centre in (("train_step_time_s", step), ("forward_latency_s", forward)):
        samples = list(centre * (1 + spread * rng.standard_normal(n)))
        row[column] = float(np.median(samples))
        row[f"{column}_samples"] = samples
    if accuracy is not None:
        row["train_eval_accuracy"] = accuracy
        row["train_baseline_accuracy"] = 0.1
    if memory is not None:
        row["train_memory_bytes"] = memory
        row["train_memory_bytes_method"] = "autograd saved tensors"
    return row


def _texts(frame, kind):
    return [f.text for f in findings(frame) if f.kind == kind]


def test_clear_winner_is_named_with_its_ratio_and_interval():
    frame = pd.DataFrame([
        _row("gru", 0.010, 0.002, accuracy=0.9, memory=1000),
        _row("lstm", 0.013, 0.003, accuracy=0.6, memory=1300),
        _row("transformer", 0.030, 0.002 * 5, family="attention", accuracy=0.08, memory=5000),
    ])
    [train, forward] = _texts(frame, "speed")
    assert train.startswith("Fastest training step per token: gru")
    ranked = compare_costs(frame, "train_step_time_s")
    assert [c.model for c in ranked] == ["gru", "lstm", "transformer"]
    lstm = ranked[1]
    assert lstm.significant and lstm.ci_low < 1.3 < lstm.ci_high
    assert f"lstm {lstm.ratio:.2f}× slower (95% CI {lstm.ci_low:.2f}–{lstm.ci_high:.2f})" in train
    # the winner's figure is the results.csv median divided by batch x total length
    assert f"{frame.loc[0, 'train_step_time_s'] / (4 * 22) * 1e6:.3g} µs/token" in train
    assert "Fastest forward per token: gru" in forward
    quality, by_family = _texts(frame, "quality")
    assert quality.startswith("Most accurate: gru, held-out accuracy 0.9 against chance 0.1")
    assert by_family.endswith("recurrent: gru 0.9 (best of 2); attention: transformer 0.08."), by_family
    assert "transformer 0.08 (no better than chance)" in quality and "one seed" in quality
    [memory] = _texts(frame, "memory")
    assert memory.startswith("Smallest training memory: gru, 1000 B; lstm 1.27 KiB (1.3×)")
    [scope] = _texts(frame, "scope")
    assert "copy T=20 batch=4 hidden=32 layers=1 cpu float32 30 training steps lr=0.003" in scope and "Test CPU with 2 thread(s)" in scope


def test_when_no_model_beats_chance_every_model_is_listed():
    frame = pd.DataFrame([
        _row("gru", 0.010, 0.002, accuracy=0.09),
        _row("lstm", 0.013, 0.003, accuracy=0.07),
    ])
    [quality] = _texts(frame, "quality")
    assert quality.startswith("No model beats chance on held-out accuracy (chance 0.1); gru 0.09"), quality
    assert "lstm 0.07" in quality


def test_overlapping_timings_are_no_significant_difference():
    frame = pd.DataFrame([
        _row("gru", 0.0100, 0.0020, spread=0.2, seed=1),
        _row("lstm", 0.0101, 0.0020, spread=0.2, seed=2),
    ])
    [train, forward] = _texts(frame, "speed")
    for text in (train, forward):
        assert "no significant difference between" in text
        assert "slower" not in text
    [c] = compare_costs(frame, "forward_latency_s")[1:]
    assert c.significant is False and c.ci_low <= 1 <= c.ci_high


def test_failed_case_is_named_with_its_reason_and_left_out_of_the_comparison():
    frame = pd.DataFrame([
        _row("gru", 0.010, 0.002, accuracy=0.9),
        _row("lstm", 0, 0, status="error",
             error="Traceback ...\nFloatingPointError: training diverged: loss is nan at step 1 of the run"),
        _row("transformer", 0.02, 0.004, family="attention", accuracy=0.5),
    ])
    [failed] = _texts(frame, "failed")
    assert failed == ("Not compared, it failed: lstm (error: FloatingPointError: training diverged: loss is nan"
                      " at step…).")
    speed = _texts(frame, "speed")
    assert speed and all("lstm" not in text for text in speed)


def test_all_failed_says_there_is_nothing_to_compare():
    frame = pd.DataFrame([_row("gru", 0, 0, status="timeout"), _row("lstm", 0, 0, status="oom")])
    kinds = [f.kind for f in findings(frame)]
    assert kinds == ["failed", "scope"]


def test_ranking_change_along_the_length_axis():
    rows = []
    for T, (rnn, attn) in {16: (1.0, 0.5), 64: (1.0, 0.9), 256: (1.0, 2.0)}.items():
        rows += [_row("lstm", rnn * T * 1e-4, rnn * T * 1e-5, seq_len=T),
                 _row("transformer", attn * T * 1e-4, attn * T * 1e-5, seq_len=T, family="attention")]
    frame = pd.DataFrame(rows)
    ranking = _texts(frame, "ranking")
    assert any("Along T the fastest forward per token changes: transformer at T=16–64, then lstm at T=256" in t
               for t in ranking), ranking
    [compact] = [t for t in _texts(frame, "speed") if t.startswith("Fastest forward")]
    assert "transformer at T=16" in compact and "lstm at T=256" in compact
    assert "swept: T" in _texts(frame, "scope")[0]


def test_a_dtype_sweep_compares_models_within_each_dtype():
    frame = pd.DataFrame([_row(m, s, s / 5, dtype=d) for d in ("float32", "bfloat16")
                          for m, s in (("gru", 0.01), ("lstm", 0.02))])
    speed = _texts(frame, "speed")
    assert any(t.startswith("At float32: Fastest training step") for t in speed)
    assert any(t.startswith("At bfloat16: Fastest training step") for t in speed)


def test_single_samples_say_there_are_too_few_for_an_interval():
    frame = pd.DataFrame([_row("gru", 0.01, 0.002, n=1), _row("lstm", 0.02, 0.004, n=1)])
    [train, _] = _texts(frame, "speed")
    assert "n=1: too few samples for a confidence interval" in train


def test_attach_samples_copies_raw_timings_by_case_id():
    config = CaseConfig(model="lstm", task="copy", task_options={}, seq_len=4, batch_size=2, hidden=8,
                        layers=1, device="cpu", dtype="float32", seed=0, steps=2, lr=0.01)
    result = CaseResult(config, metrics=[Metric("forward", "latency_s", 2.0, "s", "", [1.0, 2.0, 3.0])])
    frame = pd.DataFrame([{"case_id": result.case_id, "model": "lstm", "forward_latency_s": 2.0}])
    out = attach_samples(frame, [result])
    assert out.loc[0, "forward_latency_s_samples"] == [1.0, 2.0, 3.0]
    assert out.loc[0, "train_step_time_s_samples"] is None


def test_short_reason_cuts_at_a_word():
    assert short_reason("x\nValueError: bad") == "ValueError: bad"
    assert short_reason("word " * 30, limit=12) == "word word…"


def test_busy_cases_rank_no_model_and_say_why_with_the_figures():
    """Cases the load meter flagged busy decide no timing ranking (as in compare); accuracy is still ranked."""
    from rnnbench.analysis.frame import results_frame

    def case(model, forward, busy):
        config = CaseConfig(model=f"{model}@torch", task="copy", task_options=(), seq_len=20, batch_size=4, hidden=32, layers=1,
                            device="cpu", dtype="float32", seed=0, steps=30, lr=0.003)
        # 2 CPUs, 1 thread of ours: 1.9 CPUs of other processes leave no room; 0.2 leave plenty
        others = 1.9 if busy else 0.2
        load = {"wall_s": 10.0, "own_cpu_s": 9.0, "others_cpu_s": others * 10.0, "cores": 2,
                "load_average_1min_end": 3.0}
        samples = [forward * (1 + 0.01 * i) for i in range(20)]
        result = CaseResult(config=config, status="ok", worker={"threads": 1, "load": load},
                            metrics=[Metric("forward", "latency_s", float(np.median(samples)), "s", "", samples),
                                     Metric("train", "eval_accuracy", 0.9 if model == "gru" else 0.5, "")],
                            details={"primary_metric": "accuracy", "higher_is_better": True, "total_seq_len": 22})
        return result

    busy = [case("gru", 0.002, busy=True), case("lstm", 0.004, busy=False)]
    [forward] = _texts(attach_samples(results_frame(busy), busy), "speed")
    assert "Fastest" not in forward and "slower" not in forward, forward
    assert "not ranked: the machine was busy during gru@torch copy T=20 seed 0: other processes kept 1.9 of 2" \
        " CPUs" in forward, forward
    assert "medians: gru@torch 2.19 ms, lstm@torch 4.38 ms" in forward, forward  # still shown
    [quality] = _texts(attach_samples(results_frame(busy), busy), "quality")
    assert quality.startswith("Most accurate: gru"), quality
    quiet = [case("gru", 0.002, busy=False), case("lstm", 0.004, busy=False)]
    [forward] = _texts(attach_samples(results_frame(quiet), quiet), "speed")
    assert forward.startswith("Fastest forward per token: gru") and "not ranked" not in forward


def test_a_distorted_timing_ranks_no_model():
    """The runner's timing check (a thread of the process ran during the timing) ranks nothing either."""
    frame = pd.DataFrame([_row("gru", 0.010, 0.002), _row("lstm", 0.013, 0.003)])
    frame["timing_distorted"] = [None, "the timing of lstm copy T=20 seed 0 was distorted: other threads took 1 s"]
    train, forward = _texts(frame, "speed")
    assert all(f.startswith(("Training step per token: not ranked: the timing of lstm",
                             "Forward per token: not ranked: the timing of lstm")) for f in (train, forward)), (train, forward)


def test_the_scope_says_only_what_was_done():
    """A forward-only run names no training; a --seq-len that only caps the task's series gives their length."""
    rows = [_row("gru", 0.010, 0.002), _row("lstm", 0.013, 0.003)]
    forward_only = pd.DataFrame([{k: v for k, v in r.items() if not k.startswith("train_")} for r in rows])
    [scope] = _texts(forward_only, "scope")
    assert "training steps" not in scope and "lr=" not in scope and "copy T=20 batch=4" in scope, scope
    capped = pd.DataFrame([{**r, "seq_len": 1024, "total_seq_len": 29} for r in rows])
    [scope] = _texts(capped, "scope")
    assert "T=29 (series of 29 steps; --seq-len 1024 caps them)" in scope and "T=1024 " not in scope, scope


def test_a_budgeted_run_says_its_budget_where_steps_are_empty():
    """Under --time-budget a case has no step count (steps None, an empty cell): the scope names the budget."""
    from rnnbench.analysis.frame import result_row

    results = [CaseResult(
        config=CaseConfig(model=model, task="copy", task_options=(), seq_len=20, batch_size=4, hidden=32, layers=1,
                          device="cpu", dtype="float32", seed=0, steps=None, lr=0.003, time_budget_s=20.0),
        metrics=[Metric("train", "time_s", 20.0, "s"), Metric("train", "steps_reached", 100.0, "steps")],
        worker={"cpu": "Test CPU", "threads": 2}) for model in ("lstm@torch", "gru@torch")]
    frame = pd.DataFrame([result_row(r) for r in results])
    assert frame["steps"].isna().all()
    [scope] = _texts(frame, "scope")
    assert "20 s training budget" in scope and "training steps" not in scope
