"""The NumPy models against torch: same weights give the same outputs, gradients, Adam
trajectories and decoding; the plugin fulfils the model contract."""

import numpy as np
import pytest
import torch
from torch import nn

from rnnbench.model_api import Batch, ModelConfig
from rnnbench.plugins.numpy.layers import Parameters, RecurrentStack
from rnnbench.plugins.numpy.convert import (TORCH_LAYERS, model_from_torch, model_to_torch, stack_from_torch,
                                          stack_like, stack_to_torch)
from rnnbench.plugins.numpy.train import Adam, clip_grad_norm

ARCHS = ["rnn", "lstm", "gru"]


@pytest.fixture(autouse=True)
def one_thread():
    """These sizes are tiny: one thread is fastest and never stalls on a busy machine."""
    from threadpoolctl import threadpool_limits

    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    with threadpool_limits(limits=1):
        yield
    torch.set_num_threads(previous)
TOLERANCE = {"float32": 1e-5, "float64": 1e-10}
TORCH_DTYPE = {"float32": torch.float32, "float64": torch.float64}


def config(**overrides):
    fields = dict(input_kind="tokens", input_size=10, output_kind="classes", output_size=9, hidden=16,
                  layers=2, max_seq_len=30, seed=0, lr=3e-3, dtype="float64")
    fields.update(overrides)
    return ModelConfig(**fields)


def model_pair(registry, arch, **overrides):
    """A torch model and a NumPy model with the same weights (copied from torch)."""
    cfg = config(**overrides)
    torch_model = registry.models[f"{arch}@torch"].factory(cfg)
    numpy_model = registry.models[f"{arch}@numpy"].factory(cfg)
    model_from_torch(numpy_model, torch_model.net)
    return torch_model, numpy_model


def copy_batch(registry, index=0, batch_size=8, delay=4):
    task = registry.tasks["copy"].factory({"num_symbols": 5, "alphabet_size": 8}, delay, 0)
    return task.batch("train", index, batch_size)


def regression_batch(seed=0, batch_size=6, seq_len=7, features=3, outputs=2):
    rng = np.random.default_rng(seed)
    mask = (rng.random((batch_size, seq_len)) < 0.6).astype(np.float32)
    return Batch(rng.standard_normal((batch_size, seq_len, features)).astype(np.float32),
                 rng.standard_normal((batch_size, seq_len, outputs)).astype(np.float32), mask)


# -- the recurrent layers alone against nn.RNN / nn.LSTM / nn.GRU ------------------------------
@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("layers", [1, 2])
@pytest.mark.parametrize("arch", ARCHS)
def test_forward_and_final_state_match_torch(arch, layers, dtype):
    torch.manual_seed(1)
    rnn = TORCH_LAYERS[arch](5, 12, num_layers=layers).to(TORCH_DTYPE[dtype])
    stack = stack_like(rnn, dtype=np.dtype(dtype))
    x = torch.randn(9, 4, 5, dtype=TORCH_DTYPE[dtype])
    h0 = torch.randn(layers, 4, 12, dtype=TORCH_DTYPE[dtype])
    state = (h0, torch.randn_like(h0)) if arch == "lstm" else h0
    with torch.no_grad():
        expected, expected_state = rnn(x, state)
    numpy_state = tuple(s.numpy() for s in state) if arch == "lstm" else state.numpy()
    output, final_state, _ = stack.forward(x.numpy(), numpy_state)
    tol = TOLERANCE[dtype]
    assert output.dtype == np.dtype(dtype)
    np.testing.assert_allclose(output, expected.numpy(), rtol=tol, atol=tol)
    pairs = zip(final_state, expected_state) if arch == "lstm" else [(final_state, expected_state)]
    for ours, theirs in pairs:  # h (and c): [layers, B, H]
        np.testing.assert_allclose(ours, theirs.numpy(), rtol=tol, atol=tol)


@pytest.mark.parametrize("layers", [1, 2])
@pytest.mark.parametrize("arch", ARCHS)
def test_layer_gradients_match_autograd(arch, layers):
    torch.manual_seed(2)
    rnn = TORCH_LAYERS[arch](5, 12, num_layers=layers).double()
    stack = stack_like(rnn)
    x = torch.randn(8, 3, 5, dtype=torch.float64, requires_grad=True)
    upstream = torch.randn(8, 3, 12, dtype=torch.float64)
    output, _ = rnn(x)
    output.backward(upstream)
    _, _, caches = stack.forward(x.detach().numpy())
    dx = stack.backward(upstream.numpy(), caches)
    assert_relative(dx, x.grad.numpy(), "dx")
    for name, parameter in rnn.named_parameters():
        assert_relative(stack.params.grads[name], parameter.grad.numpy(), name)


def assert_relative(ours, theirs, name, tol=1e-6):
    scale = np.abs(theirs).max()
    assert scale > 0, f"{name}: torch's gradient is zero, the comparison would prove nothing"
    error = np.abs(ours - theirs).max() / scale
    assert error <= tol, f"{name}: relative error {error:.3g}"


# -- whole models: embedding, core and head ---------------------------------------------------
def masked_loss_float64(outputs, targets, mask, kind):
    """rnnbench.torch_model.masked_loss in float64 throughout (it casts to float32)."""
    if kind == "cross_entropy":
        per_position = nn.functional.cross_entropy(outputs.reshape(-1, outputs.shape[-1]), targets.reshape(-1),
                                                   reduction="none").view_as(mask)
    else:
        per_position = ((outputs - targets) ** 2).mean(dim=-1)
    return (per_position * mask).sum() / mask.sum().clamp_min(1.0)


@pytest.mark.parametrize("kind", ["cross_entropy", "mse"])
@pytest.mark.parametrize("layers", [1, 2])
@pytest.mark.parametrize("arch", ARCHS)
def test_every_parameter_gradient_matches_autograd_on_a_masked_loss(registry, arch, layers, kind):
    if kind == "cross_entropy":
        torch_model, numpy_model = model_pair(registry, arch, layers=layers)
        batch = copy_batch(registry)
    else:
        torch_model, numpy_model = model_pair(registry, arch, layers=layers, input_kind="features", input_size=3,
                                              output_kind="regression", output_size=2)
        batch = regression_batch()
    tb = torch_model.to_device(batch)
    inputs = tb.inputs
    targets = tb.targets.double() if kind == "mse" else tb.targets
    loss = masked_loss_float64(torch_model.net(inputs), targets, tb.mask.double(), kind)
    torch_model.net.zero_grad()
    loss.backward()
    numpy_loss = numpy_model.loss_and_gradients(numpy_model.to_device(batch))
    assert numpy_loss == pytest.approx(loss.item(), rel=1e-12)
    names = [name for name, _ in torch_model.net.named_parameters()]
    assert sorted(names) == sorted(numpy_model.params.grads)  # embedding and head included
    for name, parameter in torch_model.net.named_parameters():
        assert_relative(numpy_model.params.grads[name], parameter.grad.numpy(), name)


@pytest.mark.parametrize("arch", ARCHS)
def test_fifty_adam_steps_follow_torch(registry, arch):
    torch_model, numpy_model = model_pair(registry, arch, layers=2, lr=1e-2)
    torch_losses, numpy_losses = [], []
    for step in range(50):
        batch = copy_batch(registry, index=step)
        torch_losses.append(torch_model.train_step(torch_model.to_device(batch)))
        numpy_losses.append(numpy_model.train_step(numpy_model.to_device(batch)))
    np.testing.assert_allclose(numpy_losses, torch_losses, rtol=1e-4)
    assert numpy_losses[-1] < numpy_losses[0]  # it trained, so the agreement means something


def test_clipping_and_adam_follow_torch():
    rng = np.random.default_rng(3)
    params = Parameters({"w": (4, 3), "b": (3,)}, np.float64)
    params.data[:] = rng.standard_normal(params.data.size)
    tensors = [torch.tensor(params.values["w"].copy(), requires_grad=True),
               torch.tensor(params.values["b"].copy(), requires_grad=True)]
    adam, torch_adam = Adam(params, lr=0.05), torch.optim.Adam(tensors, lr=0.05)
    for _ in range(5):
        grad = rng.standard_normal(params.data.size) * 3
        params.grad[:] = grad
        tensors[0].grad = torch.tensor(grad[:12].reshape(4, 3))
        tensors[1].grad = torch.tensor(grad[12:])
        norm = clip_grad_norm(params.grad, 1.0)
        torch_norm = nn.utils.clip_grad_norm_(tensors, 1.0)
        assert norm == pytest.approx(torch_norm.item(), rel=1e-12)
        adam.step()
        torch_adam.step()
        np.testing.assert_allclose(params.values["w"], tensors[0].detach().numpy(), rtol=1e-12, atol=1e-14)
        np.testing.assert_allclose(params.values["b"], tensors[1].detach().numpy(), rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("arch", ARCHS)
def test_step_decoding_gives_the_full_forward_logits(registry, arch):
    model = registry.models[f"{arch}@numpy"].factory(config(layers=2))
    batch = copy_batch(registry, batch_size=3)
    full = model.predict(model.to_device(batch))
    state = model.init_state(3)
    outputs = []
    for t in range(batch.seq_len):
        sliced = Batch(batch.inputs[:, t:t + 1], batch.targets[:, t:t + 1], batch.mask[:, t:t + 1])
        before = [np.copy(s) for s in (state if isinstance(state, tuple) else (state,))]
        out, state_next = model.step(model.to_device(sliced), state)
        after = state if isinstance(state, tuple) else (state,)
        assert all(np.array_equal(a, b) for a, b in zip(before, after)), "step() must not modify its state"
        outputs.append(out)
        state = state_next
    np.testing.assert_allclose(np.concatenate(outputs, axis=1), full, rtol=1e-10, atol=1e-10)


@pytest.mark.parametrize("arch", ARCHS)
def test_weights_copied_to_torch_give_torch_the_same_predictions(registry, arch):
    cfg = config(dtype="float32", layers=2)
    numpy_model = registry.models[f"{arch}@numpy"].factory(cfg)
    torch_model = registry.models[f"{arch}@torch"].factory(cfg)
    model_to_torch(numpy_model, torch_model.net)
    batch = copy_batch(registry)
    np.testing.assert_allclose(torch_model.predict(torch_model.to_device(batch)),
                               numpy_model.predict(numpy_model.to_device(batch)), rtol=1e-5, atol=1e-5)


def test_stack_round_trip_and_mismatches_are_refused():
    stack = RecurrentStack("gru", 4, 6, 2, dtype=np.float64, seed=5)
    gru = stack_to_torch(stack, nn.GRU(4, 6, num_layers=2).double())
    copy = stack_from_torch(RecurrentStack("gru", 4, 6, 2, dtype=np.float64, seed=6), gru)
    np.testing.assert_array_equal(copy.params.data, stack.params.data)
    with pytest.raises(ValueError, match="shape mismatch"):
        stack_from_torch(stack, nn.GRU(4, 7, num_layers=2))
    with pytest.raises(ValueError, match="copies from/to GRU, not LSTM"):
        stack_from_torch(stack, nn.LSTM(4, 6, num_layers=2))
    with pytest.raises(ValueError, match="unidirectional"):
        stack_from_torch(stack, nn.GRU(4, 6, num_layers=2, bidirectional=True))


# -- the rest of the model contract ---------------------------------------------------------------
def test_initialisation_follows_torch(registry):
    model = registry.models["lstm@numpy"].factory(config(hidden=32, layers=1, dtype="float32"))
    v = model.params.values
    H = 32
    assert np.all(v["core.rnn.bias_ih_l0"][H:2 * H] + v["core.rnn.bias_hh_l0"][H:2 * H] == 1.0)  # forget gate
    assert np.abs(v["core.rnn.weight_hh_l0"]).max() <= 1 / np.sqrt(H)
    assert np.abs(v["head.weight"]).max() <= 1 / np.sqrt(H)
    assert 0.8 < v["embed.weight"].std() < 1.2  # nn.Embedding: N(0, 1)
    again = registry.models["lstm@numpy"].factory(config(hidden=32, layers=1, dtype="float32"))
    np.testing.assert_array_equal(again.params.data, model.params.data)  # seeded


@pytest.mark.parametrize("arch", ARCHS)
def test_params_flops_dtype_and_description(registry, arch):
    torch_model, numpy_model = model_pair(registry, arch, dtype="float32", layers=2)
    assert numpy_model.num_params() == torch_model.num_params()
    assert numpy_model.flops(20, 4) == torch_model.flops(20, 4)
    assert numpy_model.flops(20, 4, training=True) == pytest.approx(3 * numpy_model.flops(20, 4))
    out = numpy_model.predict(numpy_model.to_device(copy_batch(registry, batch_size=3)))
    assert out.shape == (3, 14, 9) and out.dtype == np.float32
    facts = numpy_model.describe()
    assert "NumPy" in facts["kernel_path"] and facts["numpy"] == np.__version__


def test_memory_is_measured_with_tracemalloc_and_grows_with_length(registry):
    model = registry.models["gru@numpy"].factory(config())
    readings = []
    for delay in (5, 45):
        batch = model.to_device(copy_batch(registry, delay=delay))
        model.train_step(batch)  # the workspace exists before the meter, as in a real run
        with model.memory_meter("train") as reading:
            model.train_step(batch)
        readings.append(reading.bytes)
    assert "tracemalloc" in reading.method
    assert readings[1] > 2 * readings[0] > 0


def test_regression_task_trains_with_masked_mse(registry):
    model = registry.models["lstm@numpy"].factory(config(input_kind="features", input_size=2,
                                                         output_kind="regression", output_size=1, lr=1e-2))
    from tasks_helpers import regression_batch

    batch = model.to_device(regression_batch())
    losses = [model.train_step(batch) for _ in range(80)]
    assert losses[-1] < 0.2 * losses[0]


def test_numpy_models_are_listed_and_refuse_cuda_clearly(cli):
    listing = cli("list")
    assert listing.returncode == 0
    for arch in ARCHS:
        assert f"{arch}@numpy" in listing.stdout
    result = cli("run", "--models", "lstm@numpy", "--tasks", "copy", "--device", "cuda", "--no-progress")
    assert result.returncode == 2
    assert "lstm@numpy: not supported on cuda (supports: cpu)" in result.stderr
    assert "Traceback" not in result.stderr


def test_cpu_only_models_do_not_need_a_gpu_probe(registry):
    from rnnbench.request.options import RunRequest
    from rnnbench.request.sweep import expand

    def probe():
        raise AssertionError("no requested model can use CUDA, so the GPU must not be probed")

    expansion = expand(RunRequest(models=["lstm@numpy"], device=["cpu", "cuda"]), registry, cuda_probe=probe)
    assert [case.device for case in expansion.cases] == ["cpu"]
    assert expansion.skipped == ["lstm@numpy: not supported on cuda (supports: cpu)"]
