"""The linear-recurrent models of plugins/torch/: both forms agree, gradients are right, decode is honest.

Each model runs training and the forward by a parallel (or chunkwise) form and
decoding by its recurrence; these tests hold the two to each other (outputs and
every gradient, float32), check the parallel form's gradient by finite differences
(float64), and count the decode state from the tensors step() returns. Sizes are tiny.
"""

import numpy as np
import pytest
import torch
from torch.func import functional_call

from rnnbench.model_api import Batch, ModelConfig
from rnnbench.torch_model import state_tensors

#: model -> (the option that picks the form, the parallel value, the sequential value, extra options)
#: (kernel=torch: the pure-torch forms; tests/test_fused_scans.py holds the fused kernels to them)
FORMS = {
    "mingru@torch": ("scan", "parallel", "sequential", {"kernel": "torch"}),
    "minlstm@torch": ("scan", "parallel", "sequential", {"kernel": "torch"}),
    "mamba@torch": ("scan", "chunked", "sequential", {"chunk": 4, "d_state": 4, "kernel": "torch"}),
    "deltanet@torch": ("form", "chunked", "sequential", {"chunk": 4, "heads": 2}),
    "linear_attention@torch": ("form", "chunked", "sequential", {"chunk": 4, "heads": 2}),
    "hawk@torch": ("scan", "chunked", "sequential", {"chunk": 4, "kernel": "torch"}),
    "xlstm@torch": ("form", "parallel", "sequential", {"cell": "mlstm", "heads": 2}),
}
#: models (and options) that have only the sequential form: checked for all but the agreement of forms
SEQUENTIAL_ONLY = {"xlstm@torch/slstm": ("xlstm@torch", {"cell": "slstm", "heads": 2})}
EVERY = [*FORMS, *SEQUENTIAL_ONLY]


def config(input_kind="tokens", dtype="float32", hidden=8, layers=2, **options):
    return ModelConfig(input_kind=input_kind, input_size=5 if input_kind == "tokens" else 3,
                       output_kind="classes", output_size=4, hidden=hidden, layers=layers, max_seq_len=16,
                       dtype=dtype, seed=0, lr=1e-2, options=options)


def batch(B=2, T=11, input_kind="tokens"):
    rng = np.random.default_rng(0)
    inputs = rng.integers(0, 5, (B, T)) if input_kind == "tokens" else rng.standard_normal((B, T, 3)).astype(np.float32)
    return Batch(inputs, rng.integers(0, 4, (B, T)), np.ones((B, T), np.float32))


def build(registry, name, form, dtype="float32", **kw):
    if name in SEQUENTIAL_ONLY:
        arch, options = SEQUENTIAL_ONLY[name]
        return registry.models[arch].factory(config(dtype=dtype, **kw, **options))
    key, parallel, sequential, extra = FORMS[name]
    value = parallel if form == "parallel" else sequential
    return registry.models[name].factory(config(dtype=dtype, **kw, **{**extra, key: value}))


def outputs_and_gradients(model, data):
    from rnnbench.torch_model import masked_loss

    dev = model.to_device(data)
    model.net.zero_grad()
    out = model.net(dev.inputs)
    masked_loss(out, dev, "cross_entropy").backward()
    return out.detach(), {n: p.grad.detach().clone() for n, p in model.net.named_parameters() if p.grad is not None}


def assert_relative(got, want, rtol, what):
    scale = float(want.abs().max())
    worst = float((got - want).abs().max())
    assert worst <= rtol * max(scale, 1e-30), f"{what}: max diff {worst:.3g} vs scale {scale:.3g}"


@pytest.mark.parametrize("name", FORMS)
def test_parallel_and_sequential_forms_agree_in_outputs_and_every_gradient(registry, name):
    data = batch()
    out_p, grads_p = outputs_and_gradients(build(registry, name, "parallel"), data)
    out_s, grads_s = outputs_and_gradients(build(registry, name, "sequential"), data)
    assert_relative(out_p, out_s, 1e-5, "outputs")
    assert grads_p.keys() == grads_s.keys() and len(grads_p) == sum(1 for _ in build(registry, name, "parallel")
                                                                      .net.parameters())
    for key in grads_s:
        assert_relative(grads_p[key], grads_s[key], 1e-5, f"gradient of {key}")


@pytest.mark.parametrize("name", EVERY)
def test_parallel_form_gradient_matches_finite_differences(registry, name):
    model = build(registry, name, "parallel", dtype="float64", input_kind="features", hidden=4, layers=1)
    core = model.net.core
    params = {n: p.detach().clone().requires_grad_(True) for n, p in core.named_parameters()}
    x = torch.randn(2, 4, 4, dtype=torch.float64, requires_grad=True)
    names = list(params)

    def run(x, *values):
        return functional_call(core, dict(zip(names, values)), (x,))

    assert torch.autograd.gradcheck(run, (x, *params.values()), eps=1e-6, atol=1e-6, rtol=1e-4,
                                    fast_mode=True)


@pytest.mark.parametrize("name", EVERY)
def test_decode_state_bytes_are_the_tensors_step_returns(registry, name):
    model = build(registry, name, "parallel")
    data = batch(B=3, T=4)
    state = model.init_state(3)
    for t in range(4):
        position = Batch(data.inputs[:, t:t + 1], data.targets[:, t:t + 1], data.mask[:, t:t + 1])
        _, state = model.step(model.to_device(position), state)
    returned = sum(t.untyped_storage().nbytes() for t in state_tensors(state))
    assert model.state_bytes(state) == returned > 0
    # the state does not grow with the context: a recurrence carries a fixed-size state
    assert model.state_bytes(model.init_state(3)) == returned


@pytest.mark.parametrize("name", EVERY)
def test_bfloat16_trains_forwards_and_decodes_on_cpu(registry, name):
    model = build(registry, name, "parallel", dtype="bfloat16")
    data = batch(T=6)
    dev = model.to_device(data)
    losses = [model.train_step(dev) for _ in range(3)]
    assert np.isfinite(losses).all()
    full = model.predict(dev)
    assert full.dtype == np.float32 and np.isfinite(full).all()
    state = model.init_state(2)
    out, state = model.step(model.to_device(Batch(data.inputs[:, :1], data.targets[:, :1], data.mask[:, :1])), state)
    assert out.dtype == torch.bfloat16
    np.testing.assert_allclose(out.float().numpy(), full[:, :1], atol=5e-2)


@pytest.mark.parametrize("name", EVERY)
def test_state_gradients_run_through_the_recurrence(registry, name):
    model = build(registry, name, "parallel")
    norms = model.state_gradients(model.to_device(batch(T=6)))
    assert norms.shape == (2, 6) and np.isfinite(norms).all() and (norms > 0).all()


@pytest.mark.parametrize("name", FORMS)
def test_flops_count_the_form_that_runs(registry, name):
    parallel, sequential = build(registry, name, "parallel"), build(registry, name, "sequential")
    assert parallel.flops(16, 2) != sequential.flops(16, 2)
    assert parallel.describe() != sequential.describe()


def test_mingru_is_the_papers_recurrence(registry):
    """h_t = (1 - z_t) h_{t-1} + z_t g(k_h), written out here once more from the paper."""
    model = build(registry, "mingru@torch", "parallel", layers=1, input_kind="features")
    layer = model.net.core.mixers[0]
    x = torch.randn(2, 7, 8)
    k_z, k_h = layer.proj(x).chunk(2, dim=-1)
    z, h, want = torch.sigmoid(k_z), torch.zeros(2, 8), []
    for t in range(7):
        tilde = torch.where(k_h[:, t] >= 0, k_h[:, t] + 0.5, torch.sigmoid(k_h[:, t]))
        h = (1 - z[:, t]) * h + z[:, t] * tilde
        want.append(h)
    assert_relative(layer(x).detach(), torch.stack(want, 1).detach(), 1e-5, "minGRU")


@pytest.mark.parametrize("name,bad", [("mingru@torch", {"scan": "tree"}), ("mamba@torch", {"d_state": 0}),
                                      ("deltanet@torch", {"heads": 3}), ("hawk@torch", {"chunk": 0}),
                                      ("xlstm@torch", {"cell": "gru"})])
def test_options_the_factory_cannot_build_are_refused_before_a_case_runs(registry, name, bad):
    spec = registry.models[name]
    with pytest.raises(ValueError, match=next(iter(bad))):
        spec.check_options({**spec.options, **bad}, 16)


def test_check_model_refuses_a_linear_recurrent_model_whose_flops_grow_faster_than_quadratically(registry):
    import dataclasses

    from rnnbench.testing import ContractError, check_model

    spec = registry.models["mingru@torch"]

    def cubic(config):
        model = spec.factory(config)
        model.flops = lambda T, B, training=False: float(B * T ** 3 * (3 if training else 1))
        return model

    with pytest.raises(ContractError, match="between linearly and quadratically"):
        check_model(dataclasses.replace(spec, factory=cubic), shapes=[("tokens", "classes")], decode=False)


def test_the_readme_table_and_docs_models_name_every_built_in_model(registry):
    from pathlib import Path

    root = Path(__file__).resolve().parents[1]
    readme = root.joinpath("README.md").read_text()
    models_doc = root.joinpath("docs", "models.md").read_text()
    builtin = [n for n in registry.models if registry.source_of(n).distribution == "rnnbench"]
    assert builtin and all(f"`{name}`" in readme for name in builtin), "README's model table misses a model"
    for name in FORMS:
        assert f"## `{name}`" in models_doc, f"docs/models.md has no section for {name}"
