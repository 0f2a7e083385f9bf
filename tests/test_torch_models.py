"""The built-in torch models: they learn, they decode as they forward, they count honestly."""

import numpy as np
import pytest
import torch

from rnnbench.model_api import ModelConfig
from rnnbench.execution.runner import build_task
from rnnbench.records import CaseConfig

ARCHS = ["rnn@torch", "lstm@torch", "gru@torch", "transformer@torch"]


def make(registry, name, **overrides):
    fields = dict(input_kind="tokens", input_size=10, output_kind="classes", output_size=9, hidden=32,
                  layers=2, max_seq_len=30, seed=0, lr=3e-3)
    fields.update(overrides)
    return registry.models[name].factory(ModelConfig(**fields))


def copy_batch(registry, batch_size=16, delay=4):
    case = CaseConfig(model="lstm@torch", task="copy", task_options=(("alphabet_size", 8), ("num_symbols", 10)),
                      seq_len=delay, batch_size=batch_size, hidden=32, layers=1, device="cpu",
                      dtype="float32", seed=0, steps=1, lr=1e-3)
    return build_task(case, registry).batch("train", 0, batch_size)


@pytest.mark.parametrize("name", ARCHS)
def test_train_step_reduces_the_loss_on_a_fixed_batch(registry, name):
    model = make(registry, name, lr=1e-2)
    batch = model.to_device(copy_batch(registry, batch_size=4))
    losses = [model.train_step(batch) for _ in range(60)]
    assert np.isfinite(losses).all()
    assert losses[-1] < 0.5 * losses[0], (losses[0], losses[-1])


@pytest.mark.parametrize("name", ARCHS)
def test_predict_shape_params_and_flops(registry, name):
    model = make(registry, name)
    batch = copy_batch(registry, batch_size=3)
    out = model.predict(model.to_device(batch))
    assert out.shape == (3, batch.seq_len, 9) and out.dtype == np.float32
    assert model.num_params() == sum(p.numel() for p in model.net.parameters())
    assert model.flops(20, 4, training=True) == pytest.approx(3 * model.flops(20, 4))
    assert model.flops(40, 4) > model.flops(20, 4) > 0


def test_recurrent_flops_follow_the_design_formula(registry):
    model = make(registry, "lstm@torch", layers=1)
    B, T, H, O = 4, 20, 32, 9
    assert model.flops(T, B) == 2 * B * T * 4 * H * (H + H) + 2 * B * T * H * O


@pytest.mark.parametrize("name", ARCHS)
def test_step_by_step_decoding_equals_the_full_forward(registry, name):
    model = make(registry, name, dtype="float64")
    batch = copy_batch(registry, batch_size=2)
    full = model.predict(model.to_device(batch))
    state = model.init_state(2)
    outputs = []
    for t in range(batch.seq_len):
        sliced = type(batch)(batch.inputs[:, t:t + 1], batch.targets[:, t:t + 1], batch.mask[:, t:t + 1])
        out, state = model.step(model.to_device(sliced), state)
        outputs.append(out.numpy())
    np.testing.assert_allclose(np.concatenate(outputs, axis=1), full, rtol=1e-9, atol=1e-9)


def test_lstm_forget_gate_bias_starts_at_one(registry):
    model = make(registry, "lstm@torch", layers=1)
    rnn = model.net.core.rnn
    H = rnn.hidden_size
    total = (rnn.bias_ih_l0 + rnn.bias_hh_l0).detach()
    assert torch.all(total[H:2 * H] == 1.0)


def test_regression_output_uses_masked_mse(registry):
    model = make(registry, "gru@torch", input_kind="features", input_size=2, output_kind="regression",
                 output_size=1)
    from tasks_helpers import regression_batch

    batch = model.to_device(regression_batch())
    losses = [model.train_step(batch) for _ in range(80)]
    assert losses[-1] < 0.2 * losses[0]


def test_saved_tensor_memory_grows_with_sequence_length(registry):
    model = make(registry, "gru@torch")
    readings = []
    for delay in (5, 45):
        batch = model.to_device(copy_batch(registry, delay=delay))
        with model.memory_meter("train") as reading:
            model.train_step(batch)
        readings.append(reading.bytes)
    assert "saved_tensors_hooks" in reading.method
    assert readings[1] > 2 * readings[0] > 0


def test_kernel_path_is_recorded(registry):
    facts = make(registry, "gru@torch").describe()
    assert facts["kernel_path"] == "ATen per-time-step loop"
