"""lstm@triton's compiled kernels on a CUDA GPU, against a float64 nn.LSTM.

Skipped, with the reason, where there is no CUDA GPU or no triton (pytest -ra prints
it); the CPU checks of the same kernels are in test_triton_lstm.py (Triton's
interpreter). On a GPU this is where the persistent design's grid barrier runs: the
interpreter executes programs one after another and cannot. Run on an H100 with

    pytest -q tests/test_triton_lstm_gpu.py     # all of it; a chosen subset: benchmarks/gpu_check_triton.py

Sizes: B in {1, 7, 16, 64}, H in {96, 256, 768, 1024}, 1 and 2 layers, float32 (IEEE),
float16 and bfloat16; H in {16, 32, 64} at B 1 and 16 (one program owning all units);
float32 B=256 H 768/1024 with each precision; T = 17 (short, so the test is quick; every code path — the
barrier, masking of ragged slices and batch tiles, W resident or streamed — is taken
at any T > 1). No test here asserts a time.
"""

from __future__ import annotations

import os
from types import SimpleNamespace

import pytest
import torch
from torch import nn

pytestmark = [
    pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU (torch.cuda.is_available() is False)"),
    pytest.mark.skipif(os.environ.get("TRITON_INTERPRET", "").strip().lower() in ("1", "true", "on", "yes", "y"),
                       reason="TRITON_INTERPRET is set: these tests are for the compiled kernels"),
]

#: max |actual − float64 reference| allowed, relative to the reference's largest value
#: (at least 1): float32 to 1e-4 as on the CPU; 16-bit storage rounds every h_t and gate.
TOLERANCE = {torch.float32: 1e-4, torch.float16: 1e-2, torch.bfloat16: 5e-2}
T = 17


@pytest.fixture(scope="module")
def parts():
    """The package's modules that import triton (compiled kernels: TRITON_INTERPRET is unset here)."""
    pytest.importorskip("triton", reason="triton is not installed (pip install 'rnnbench[triton]')")
    from rnnbench.plugins.triton import barrier_safety, kernels, launchers, planning

    return SimpleNamespace(kernels=kernels, planning=planning, launchers=launchers, barrier_safety=barrier_safety)


def close(actual: torch.Tensor, expected: torch.Tensor) -> float:
    """The error relative to the reference's scale (0 is exact)."""
    scale = max(1.0, expected.abs().max().item())
    return (actual.double() - expected).abs().max().item() / scale


def run_both(B, H, layers, dtype, design="auto", precision=None):
    from rnnbench.plugins.triton import barrier_safety
    from rnnbench.plugins.triton.lstm import TritonLSTMCore

    device = torch.device("cuda")
    torch.manual_seed(0)
    reference = nn.LSTM(H, H, num_layers=layers, batch_first=True).to(device=device, dtype=torch.float64)
    core = TritonLSTMCore(H, layers, design=design, precision=precision).to(device=device, dtype=dtype)
    core.load_state_dict({k: v.to(dtype) for k, v in reference.state_dict().items()})
    gen = torch.Generator(device=device).manual_seed(1)
    x = torch.randn(B, T, H, device=device, dtype=torch.float64, generator=gen)
    h0 = torch.randn(layers, B, H, device=device, dtype=torch.float64, generator=gen)
    c0 = torch.randn(layers, B, H, device=device, dtype=torch.float64, generator=gen)
    weights = [torch.randn(s, device=device, dtype=torch.float64, generator=gen)
               for s in ((B, T, H), h0.shape, c0.shape)]

    def run(module, forward, cast):
        inputs = [t.detach().to(cast).requires_grad_() for t in (x, h0, c0)]
        y, h_n, c_n = forward(*inputs)
        loss = sum((out.double() * w).sum() for out, w in zip((y, h_n, c_n), weights))
        grads = torch.autograd.grad(loss, [*inputs, *module.parameters()])
        return [y, h_n, c_n, *grads]

    def reference_forward(x_, h_, c_):
        y, (h_n, c_n) = reference(x_, (h_, c_))
        return y, h_n, c_n

    expected = [t.detach() for t in run(reference, reference_forward, torch.float64)]
    actual = [t.detach() for t in run(core, core.run, dtype)]
    names = ["outputs", "h_n", "c_n", "dx", "dh0", "dc0", *(n for n, _ in core.named_parameters())]
    with torch.inference_mode():
        inference = core.run(x.to(dtype), h0.to(dtype), c0.to(dtype))
    torch.cuda.synchronize()
    barrier_safety.check_barrier(device, wait=True)  # a timed-out barrier fails the test here
    errors = {name: close(a, e) for name, a, e in zip(names, actual, expected)}
    errors.update({f"inference {n}": close(a, e) for n, a, e in zip(names, inference, expected)})
    return errors


DTYPES = pytest.mark.parametrize("dtype", [torch.float32, torch.float16, torch.bfloat16],
                                 ids=lambda d: str(d).replace("torch.", ""))


def assert_within_tolerance(errors, dtype):
    worst = max(errors, key=errors.get)
    assert errors[worst] <= TOLERANCE[dtype], f"{worst}: error {errors[worst]:.2e} (all: {errors})"


@DTYPES
@pytest.mark.parametrize("layers", [1, 2], ids=lambda n: f"layers{n}")
@pytest.mark.parametrize("H", [96, 256, 768, 1024], ids=lambda h: f"H{h}")
@pytest.mark.parametrize("B", [1, 7, 16, 64], ids=lambda b: f"B{b}")
def test_outputs_state_and_every_gradient_match_float64(parts, B, H, layers, dtype):
    assert_within_tolerance(run_both(B, H, layers, dtype), dtype)


@DTYPES
@pytest.mark.parametrize("H", [16, 32, 64], ids=lambda h: f"H{h}")
@pytest.mark.parametrize("B", [1, 16], ids=lambda b: f"B{b}")
def test_small_hidden_sizes_one_program_owning_all_units_match_float64(parts, B, H, dtype):
    """One program owns every unit (no barrier in the time loop): where Triton's software
    pipeliner, had the time loop not been pinned to num_stages=1, loaded h_{t-1} two steps
    ahead of the step that writes it (every step after the first read unwritten memory)."""
    plan = parts.planning.plan_for(B, H, dtype, torch.device("cuda"))
    if H * H * 4 * dtype.itemsize <= parts.planning.ONE_SLICE_MAX_W_BYTES:
        assert plan.grid(B, H)[1] == 1
    assert_within_tolerance(run_both(B, H, 2, dtype), dtype)


@pytest.mark.parametrize("precision", ["ieee", "tf32", "tf32x3"])
@pytest.mark.parametrize("H", [768, 1024], ids=lambda h: f"H{h}")
def test_large_batch_float32_plans_compile_and_match(parts, H, precision):
    """float32 at B=256: its plans once chose a reduction slab (K=8) that Triton 3.6 refuses."""
    errors = run_both(256, H, 1, torch.float32, precision=None if precision == "ieee" else precision)
    assert max(errors.values()) <= (TOLERANCE[torch.float32] if precision == "ieee" else 5e-3), errors


@pytest.mark.parametrize("design", ["persistent", "per-step"])
def test_both_designs_agree_at_a_large_batch(parts, design):
    """B = 256: several batch tiles, each with its own barrier counter."""
    errors = run_both(256, 256, 1, torch.bfloat16, design=design)
    assert max(errors.values()) <= TOLERANCE[torch.bfloat16], errors


@pytest.mark.parametrize("precision", ["tf32", "tf32x3"])
def test_opt_in_tf32_stays_within_its_documented_error(parts, precision):
    errors = run_both(16, 1024, 1, torch.float32, precision=precision)
    print(f"float32 with {precision} products, B=16 H=1024 T={T}: largest relative error "
          f"{max(errors.values()):.2e}")  # the figure docs/triton.md quotes (pytest -s shows it)
    assert max(errors.values()) <= 5e-3, errors


def test_decoding_equals_the_full_forward(parts):
    from rnnbench.plugins.triton.lstm import TritonLSTMCore

    device = torch.device("cuda")
    torch.manual_seed(0)
    core = TritonLSTMCore(768, 2).to(device=device, dtype=torch.float16)
    x = torch.randn(7, 12, 768, device=device, dtype=torch.float16)
    with torch.inference_mode():
        full = core(x)
        state = core.init_state(7, device, torch.float16)
        steps = []
        for t in range(12):
            out, state = core.step(x[:, t:t + 1], state)
            steps.append(out.clone())
    assert close(torch.cat(steps, dim=1), full.double()) <= TOLERANCE[torch.float16]


def test_the_largest_grid_the_plans_use_completes(parts):
    """No hang: the barrier-only kernel on the largest grid plan_launch picks here, and the
    kernels themselves at that size, finish and leave the timeout flag clear."""
    device = torch.device("cuda")
    sizes = [(b, h, d) for b in (1, 7, 16, 64, 256) for h in (96, 256, 768, 1024)
             for d in (torch.float32, torch.bfloat16)]
    plans = {size: parts.planning.plan_for(size[0], size[1], size[2], device) for size in sizes}
    (B, H, dtype), plan = max(plans.items(), key=lambda item: item[1].grid(item[0][0], item[0][1])[0]
                              * item[1].grid(item[0][0], item[0][1])[1])
    tiles, slices = plan.grid(B, H)
    parts.launchers.barrier_floor(1000, tiles, slices, device)
    torch.cuda.synchronize()
    parts.barrier_safety.check_barrier(device, wait=True)
    errors = run_both(B, H, 1, dtype)
    assert max(errors.values()) <= TOLERANCE[dtype], errors


def test_an_impossible_grid_raises_instead_of_hanging(parts):
    device = torch.device("cuda")
    sms = torch.cuda.get_device_properties(device).multi_processor_count
    with pytest.raises(parts.barrier_safety.GridTooLargeError, match="cannot be resident"):
        parts.launchers.barrier_floor(10, 64, sms, device)  # 64 programs a SM: more than fit
