"""The decode scenario: cached decoding is exact, states have their known sizes, timings are honest."""

import numpy as np
import pytest
import torch

from rnnbench.manager import load_registry
from rnnbench.model_api import Batch
from rnnbench.execution.runner import RunSettings, run_case
from rnnbench.records import CaseConfig
from rnnbench.execution.timing import TimerSettings
from test_torch_models import ARCHS, copy_batch, make

ITEMSIZE = {"float32": 4, "float64": 8}
QUICK = RunSettings(scenarios=("decode",), thread_cap=1,
                    timer=TimerSettings(warmup_calls=1, min_run_time=0.01, min_repeats=3, min_block_time=1e-4))


@pytest.fixture(autouse=True)
def one_thread():
    # Step-by-step decoding is hundreds of tiny ops: on a shared machine two OpenMP threads
    # wait on each other at every op, so these tests run single-threaded.
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)


def position(batch, t):
    return Batch(batch.inputs[:, t:t + 1], batch.targets[:, t:t + 1], batch.mask[:, t:t + 1])


def decode(model, batch, steps):
    state = model.init_state(batch.batch_size)
    outputs = []
    for t in range(steps):
        out, state = model.step(model.to_device(position(batch, t)), state)
        outputs.append(out.numpy())
    return np.concatenate(outputs, axis=1), state


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("name,per_layer_tensors", [("lstm@torch", 2), ("gru@torch", 1), ("rnn@torch", 1)])
def test_recurrent_state_bytes_are_the_known_size_at_any_context(registry, name, per_layer_tensors, dtype):
    layers, B, H = 2, 3, 32
    model = make(registry, name, layers=layers, hidden=H, dtype=dtype)
    batch = copy_batch(registry, batch_size=B, delay=10)
    expected = per_layer_tensors * layers * B * H * ITEMSIZE[dtype]  # LSTM: h and c; GRU, RNN: h
    assert model.state_bytes(model.init_state(B)) == expected
    for steps in (1, 7, 20):
        assert model.state_bytes(decode(model, batch, steps)[1]) == expected


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_kv_cache_bytes_are_2_layers_batch_context_width(registry, dtype):
    layers, B, d = 2, 3, 64  # 64 wide: two heads of 32
    model = make(registry, "transformer@torch", layers=layers, hidden=d, dtype=dtype)
    assert model.describe()["n_heads"] == 2
    batch = copy_batch(registry, batch_size=B, delay=10)
    assert model.state_bytes(model.init_state(B)) == 0
    for steps in (1, 2, 13):
        # keys and values, per block, [B, heads, t, head_dim]: nothing else, no larger buffer behind them
        assert model.state_bytes(decode(model, batch, steps)[1]) == 2 * layers * B * steps * d * ITEMSIZE[dtype]


def test_kv_cached_decoding_equals_the_full_forward_past_the_position_table(registry):
    # 300 positions: beyond the 256-row position table the core starts with; 3 heads of 32.
    model = make(registry, "transformer@torch", hidden=96, layers=2, dtype="float64", max_seq_len=300)
    assert model.describe()["n_heads"] == 3
    rng = np.random.default_rng(0)
    inputs = rng.integers(0, 10, size=(2, 300))
    batch = Batch(inputs, np.zeros_like(inputs), np.ones(inputs.shape, np.float32))
    stepped, _ = decode(model, batch, 300)
    np.testing.assert_allclose(stepped, model.predict(model.to_device(batch)), rtol=1e-9, atol=1e-9)


@pytest.mark.parametrize("name", ARCHS)
def test_step_leaves_the_state_it_is_given_untouched(registry, name):
    model = make(registry, name)
    batch = copy_batch(registry, batch_size=2)
    _, state = decode(model, batch, 5)
    before = model.state_bytes(state)
    nxt = model.to_device(position(batch, 5))
    first, _ = model.step(nxt, state)
    for _ in range(3):
        again, _ = model.step(nxt, state)
    assert model.state_bytes(state) == before
    np.testing.assert_array_equal(first.numpy(), again.numpy())


def case(model, seq_len, hidden=32, batch_size=4, layers=1):
    return CaseConfig(model=model, task="copy", task_options=(("alphabet_size", 8), ("num_symbols", 10)),
                      seq_len=seq_len, batch_size=batch_size, hidden=hidden, layers=layers, device="cpu",
                      dtype="float32", seed=0, steps=1, lr=1e-3)


def test_decode_scenario_records_latency_context_and_state(registry):
    rows = {}
    for model in ("lstm@torch", "transformer@torch"):
        for delay in (5, 40):
            result = run_case(case(model, delay), registry, QUICK)
            assert result.status == "ok", result.error
            rows[model, delay] = result
    for (model, delay), result in rows.items():
        T = delay + 2 * 10  # copy: the delay plus the symbols and their recall
        latency = result.metric("decode", "token_latency_s")
        assert latency.value > 0 and len(latency.samples) >= 3 and "fixed context" in latency.method
        assert result.metric("decode", "context_len").value == T
        expected = 2 * 1 * 4 * 32 * 4 * (T if model.startswith("transformer") else 1)
        assert result.metric("decode", "state_bytes").value == expected
    lstm_flops = [rows["lstm@torch", d].metric("decode", "gflops").value * rows["lstm@torch", d].metric(
        "decode", "token_latency_s").value for d in (5, 40)]
    assert lstm_flops[0] == pytest.approx(lstm_flops[1])  # one token costs the same FLOPs at any context


def test_a_step_that_mutates_its_state_fails_the_case_with_a_reason():
    registry = load_registry(("testplugins.mutating_state",))
    result = run_case(case("inplace@test", 5), registry, QUICK)
    assert result.status == "error"
    assert "step() changed the state it was given" in result.error
