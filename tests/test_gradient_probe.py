"""The gradient-flow probe: its gradients against a closed form and finite differences, and its fit."""

import math

import numpy as np
import pytest
import torch
from torch import nn

from rnnbench.execution.gradients import GradientProfile, fit_decay, last_position_batch, probe, profile_of
from rnnbench.model_api import Batch, ModelConfig
from rnnbench.torch_model import TorchModel, masked_loss


def config(**overrides) -> ModelConfig:
    fields = dict(input_kind="tokens", input_size=7, output_kind="classes", output_size=5, hidden=4,
                  layers=2, max_seq_len=6, dtype="float64", seed=0)
    fields.update(overrides)
    return ModelConfig(**fields)


def token_batch(batch_size=2, length=6, seed=0, last=None) -> Batch:
    rng = np.random.default_rng(seed)
    inputs = rng.integers(0, 7, size=(batch_size, length))
    targets = rng.integers(0, 5, size=(batch_size, length))
    mask = np.zeros((batch_size, length), dtype=np.float32)
    for b, position in enumerate(last if last is not None else [length - 1] * batch_size):
        mask[b, position] = 1.0
        mask[b, max(0, position - 2)] = 1.0  # an earlier scored position: the probe must ignore it
    return Batch(inputs, targets, mask)


class LinearCore(nn.Module):
    """h_t = h_{t-1} Wᵀ + x_t with W = ρ·Q, Q orthogonal: ∂ℓ/∂h_{t-d} = ∂ℓ/∂h_t · W^d, norm ρ^d·‖∂ℓ/∂h_t‖."""

    def __init__(self, hidden: int, rho: float):
        super().__init__()
        q, _ = torch.linalg.qr(torch.randn(hidden, hidden, generator=torch.Generator().manual_seed(3),
                                           dtype=torch.float64))
        self.weight = nn.Parameter(rho * q)

    def probe_forward(self, x):
        h = torch.zeros_like(x[:, 0])
        states = []
        for t in range(x.shape[1]):
            h = h @ self.weight.T + x[:, t]
            states.append((h,))
        return torch.stack([s[0] for s in states], 1), states

    def forward(self, x):
        return self.probe_forward(x)[0]


def test_linear_rnn_matches_the_closed_form():
    rho, length = 0.8, 12
    model = TorchModel(config(layers=1, max_seq_len=length), lambda c: LinearCore(c.hidden, rho),
                       lambda T, B: 0.0)
    profile, fit = probe(model, token_batch(batch_size=3, length=length))
    # every example's loss sits at the last position: the norm at distance d is exactly ρ^d times d = 0's
    assert list(profile.examples) == [3] * length
    np.testing.assert_allclose(profile.norm, profile.norm[0] * rho ** np.arange(length), rtol=1e-10)
    assert fit.decay_per_step == pytest.approx(-math.log(rho), rel=1e-9)
    assert fit.stderr < 1e-6 and fit.points == length - 1


def finite_difference_norms(model: TorchModel, batch: Batch, eps=1e-6) -> np.ndarray:
    """‖∂ℓ_b/∂state_t‖ by central differences, perturbing each carried state entry through step()."""
    probed, last = last_position_batch(batch)
    device_batch = model.to_device(probed)
    net = model.net
    B, T = probed.mask.shape

    def loss_with(t: int, perturb) -> float:
        state = net.core.init_state(B, model.device, model.dtype)
        outputs = []
        with torch.no_grad():
            for k in range(T):
                out, state = net.core.step(net.embed(device_batch.inputs[:, k:k + 1]), state)
                if k == t:  # the perturbed state is also this position's output (the top layer's h)
                    state = perturb(state)
                    out = (state[0] if isinstance(state, tuple) else state)[-1].unsqueeze(1)
                outputs.append(out)
            return float(masked_loss(net.head(torch.cat(outputs, 1)), device_batch, model.config.loss)) * B

    norms = np.zeros((B, T))
    for t in range(T):
        reference = net.core.init_state(B, model.device, model.dtype)
        parts = reference if isinstance(reference, tuple) else (reference,)
        for b in range(B):
            squared = 0.0
            for which, part in enumerate(parts):
                for index in np.ndindex(part.shape[0], part.shape[2]):  # (layer, unit) of example b

                    def shift(state, sign, which=which, index=index):
                        pieces = [p.clone() for p in state] if isinstance(state, tuple) else [state.clone()]
                        where = (index[0], b, index[1])
                        if which == 1:  # the LSTM's c_t: h_t = o_t ⊙ tanh(c_t) moves with it (BPTT's total δc_t)
                            h, c = pieces
                            h[where] *= torch.tanh(c[where] + sign * eps) / torch.tanh(c[where])
                        pieces[which][where] += sign * eps
                        return tuple(pieces) if isinstance(state, tuple) else pieces[0]

                    d = (loss_with(t, lambda s: shift(s, +1)) - loss_with(t, lambda s: shift(s, -1))) / (2 * eps)
                    squared += d * d
            norms[b, t] = math.sqrt(squared)
    return norms


@pytest.mark.parametrize("name", ["rnn@torch", "lstm@torch", "gru@torch"])
def test_recurrent_probe_forward_is_the_fused_forward(registry, name):
    model = registry.models[name].factory(config())
    x = torch.randn(2, 5, 4, dtype=torch.float64, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        stepped, states = model.net.core.probe_forward(x)
        torch.testing.assert_close(stepped, model.net.core(x), rtol=1e-12, atol=1e-12)
    assert len(states) == 5 and len(states[0]) == (4 if name.startswith("lstm") else 2)  # h (and c) per layer


@pytest.mark.parametrize("name", ["rnn@torch", "lstm@torch", "gru@torch"])
def test_recurrent_state_gradients_match_finite_differences(registry, name):
    # One layer: perturbing the state step() returns is then exactly perturbing h_t (and c_t).
    # Between layers, the NumPy backend's hand-written backward is the check (below).
    model = registry.models[name].factory(config(hidden=3, layers=1))
    batch = token_batch(batch_size=2, length=5, last=[4, 3])
    probed, last = last_position_batch(batch)
    exact = model.state_gradients(model.to_device(probed)) * len(last)
    np.testing.assert_allclose(exact, finite_difference_norms(model, batch), rtol=1e-5, atol=1e-9)
    assert np.all(exact[1, 4:] == 0)  # nothing after example 1's loss position reaches it


def test_transformer_residual_stream_gradients_match_finite_differences(registry):
    model = registry.models["transformer@torch"].factory(config(hidden=8, layers=1))
    batch = token_batch(batch_size=2, length=5, last=[4, 2])
    probed, last = last_position_batch(batch)
    exact = model.state_gradients(model.to_device(probed)) * len(last)
    device_batch = model.to_device(probed)
    net, eps = model.net, 1e-6

    def loss_with(delta: torch.Tensor) -> float:
        with torch.no_grad():
            x = net.embed(device_batch.inputs)
            x = x + net.core._positions(x.shape[1], 0, x) + delta
            for block in net.core.blocks:
                x = block(x)
            return float(masked_loss(net.head(net.core.ln_f(x)), device_batch, "cross_entropy")) * 2

    numeric = np.zeros((2, 5))
    for b, t, i in np.ndindex(2, 5, 8):
        delta = torch.zeros(2, 5, 8, dtype=torch.float64)
        delta[b, t, i] = eps
        numeric[b, t] += ((loss_with(delta) - loss_with(-delta)) / (2 * eps)) ** 2
    np.testing.assert_allclose(exact, np.sqrt(numeric), rtol=1e-5, atol=1e-9)
    assert np.all(exact[1, 3:] == 0)  # causal: positions after the loss do not reach it


def test_mlp_has_no_gradient_across_time_and_no_fit(registry):
    model = registry.models["mlp@torch"].factory(config())
    profile, fit = probe(model, token_batch(batch_size=3, length=6))
    assert profile.norm[0] > 0 and np.all(profile.norm[1:] == 0)
    assert fit.decay_per_step is None and "no gradient reaches" in fit.reason


def test_profile_averages_by_distance_over_examples_of_different_lengths():
    norms = np.array([[1.0, 2.0, 4.0, 9.0], [3.0, 5.0, 0.0, 0.0]])
    profile = profile_of(norms, np.array([2, 1]))
    # example 0: d=0 -> 4, d=1 -> 2, d=2 -> 1; example 1: d=0 -> 5, d=1 -> 3
    np.testing.assert_allclose(profile.norm, [4.5, 2.5, 1.0])
    assert list(profile.examples) == [2, 2, 1]


def test_fit_recovers_a_known_decay_and_its_standard_error():
    rng = np.random.default_rng(0)
    distance = np.arange(40)
    norm = np.exp(1.0 - 0.3 * distance + rng.normal(0, 0.05, size=40))
    fit = fit_decay(GradientProfile(distance, norm, np.ones(40, dtype=int)))
    assert fit.decay_per_step == pytest.approx(0.3, abs=3 * fit.stderr)
    assert 0 < fit.stderr < 0.01 and fit.points == 39
    growing = fit_decay(GradientProfile(distance, np.exp(0.1 * distance), np.ones(40, dtype=int)))
    assert growing.decay_per_step == pytest.approx(-0.1)  # exploding: negative decay


def test_fit_leaves_out_zero_norms_and_refuses_too_few_points():
    distance = np.arange(6)
    underflowed = fit_decay(GradientProfile(distance, np.array([1, 0.5, 0.25, 0.125, 0.0, 0.0]), np.ones(6)))
    assert underflowed.points == 3 and underflowed.decay_per_step == pytest.approx(math.log(2))
    few = fit_decay(GradientProfile(distance[:3], np.array([1.0, 0.5, 0.25]), np.ones(3)))
    assert few.decay_per_step is None and "a fit needs 3" in few.reason


def test_batch_without_any_scored_position_is_refused():
    batch = Batch(np.zeros((2, 3), dtype=np.int64), np.zeros((2, 3), dtype=np.int64), np.zeros((2, 3), np.float32))
    with pytest.raises(ValueError, match="no scored position"):
        last_position_batch(batch)


@pytest.mark.parametrize("arch", ["rnn", "lstm", "gru"])
def test_numpy_backward_through_time_gives_the_torch_state_gradients(registry, arch):
    from rnnbench.plugins.numpy.convert import model_from_torch

    # two layers: a lower layer's h_t reaches the loss through the layer above at t and through t + 1
    torch_model = registry.models[f"{arch}@torch"].factory(config(layers=2))
    numpy_model = model_from_torch(registry.models[f"{arch}@numpy"].factory(config(layers=2)), torch_model.net)
    probed, _ = last_position_batch(token_batch(batch_size=3, length=6, last=[5, 3, 4]))
    expected = torch_model.state_gradients(torch_model.to_device(probed))
    np.testing.assert_allclose(numpy_model.state_gradients(numpy_model.to_device(probed)), expected,
                               rtol=1e-10, atol=1e-14)
    assert all(layer.state_gradient_sink is None for layer in numpy_model.core.layers)  # training unaffected
