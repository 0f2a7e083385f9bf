"""lstm@triton's kernels compiled for an H100 (sm_90a) on this machine, without a GPU.

What Triton's interpreter cannot show, read from the compiler's own output (TTGIR, and
ptxas's report): the software pipeliner must not issue a time step's loads of h_{t-1}
(or δgates_{t+1}) before the step that writes them, and no product may be computed by
several warps over again. The launches are built by the launchers from CPU tensors and
specialised by Triton's binder as a real launch would be (rnnbench.plugins.triton.aot).
Compiling a kernel takes seconds: the LSTM kernels' tests are marked slow.
"""

import importlib

import pytest
import torch

triton = pytest.importorskip("triton", reason="triton is not installed (pip install 'rnnbench[triton]')")
tl = triton.language


@pytest.fixture(scope="module")
def parts(monkeypatch_module):
    monkeypatch_module.delenv("TRITON_INTERPRET", raising=False)
    monkeypatch_module.setenv("TRITON_DEFAULT_FP_FUSION", "1")  # Triton 3.9 warns when it is unset
    from rnnbench.plugins.triton import aot, kernels, launchers, planning
    from triton.runtime.interpreter import InterpretedFunction

    if isinstance(kernels._lstm_forward_kernel, InterpretedFunction):
        importlib.reload(kernels)  # an earlier test module decorated them for the interpreter
    return aot, launchers, planning


@pytest.fixture(scope="module")
def monkeypatch_module():
    with pytest.MonkeyPatch.context() as patch:
        yield patch


@triton.jit
def _recurrence_default(x_ptr, w_ptr, T):
    """x_t = x_{t-1}·W, as the LSTM's h_{t-1}·W_hhᵀ: each step reads what the step before wrote."""
    tile = tl.arange(0, 16)[:, None] * 16 + tl.arange(0, 16)[None, :]
    w = tl.load(w_ptr + tile)
    for t in range(1, T):  # a plain range: Triton's default num_stages pipelines it
        prev = tl.load(x_ptr + (t - 1) * 256 + tile, cache_modifier=".cg")
        tl.store(x_ptr + t * 256 + tile, tl.dot(prev, w).to(tl.float16))


@triton.jit
def _recurrence_unpipelined(x_ptr, w_ptr, T):
    tile = tl.arange(0, 16)[:, None] * 16 + tl.arange(0, 16)[None, :]
    w = tl.load(w_ptr + tile)
    for t in tl.range(1, T, num_stages=1):
        prev = tl.load(x_ptr + (t - 1) * 256 + tile, cache_modifier=".cg")
        tl.store(x_ptr + t * 256 + tile, tl.dot(prev, w).to(tl.float16))


def _ttgir(fn):
    if not hasattr(fn, "cache_key"):  # decorated while TRITON_INTERPRET was set: an interpreted function
        pytest.skip("this module's kernels were defined under TRITON_INTERPRET=1: run it without")
    from triton.backends.compiler import GPUTarget
    from triton.compiler import ASTSource

    aligned = [["tt.divisibility", 16]]
    src = ASTSource(fn, {"x_ptr": "*fp16", "w_ptr": "*fp16", "T": "i32"}, {}, {(0,): aligned, (1,): aligned})
    return triton.compile(src, target=GPUTarget("cuda", 90, 32), options={"num_warps": 4}).asm["ttgir"]


def _loop_prefetches(ttgir: str) -> list[str]:
    lines = ttgir.splitlines()
    start = next(i for i, line in enumerate(lines) if "scf.for" in line)
    return [line for line in lines[:start] if "async_copy" in line] + (
        [lines[start]] if "!ttg.async.token" in lines[start] else [])


def test_the_pipeliner_issues_a_recurrence_s_loads_ahead_unless_told_not_to(parts):
    """The hazard, and that the check sees it: in a plain loop Triton's pipeliner copies
    step t+1's input before step t has stored it; ``tl.range(..., num_stages=1)`` does not."""
    assert _loop_prefetches(_ttgir(_recurrence_default)), "expected the default loop to be pipelined"
    assert _loop_prefetches(_ttgir(_recurrence_unpipelined)) == []


def _one_slice_launches(parts, batch, hidden, dtype):
    _, launchers, planning = parts
    plan = planning.plan_launch(batch, hidden, dtype, torch.device("cuda"), num_sms=132)
    T = 2
    w, b = torch.zeros(4 * hidden, hidden, dtype=dtype), torch.zeros(4 * hidden, dtype=dtype)
    h0 = torch.zeros(batch, hidden, dtype=dtype)
    out, forward = launchers.forward_launches(torch.zeros(T, batch, 4 * hidden, dtype=dtype), w, b, b, h0, h0,
                                              True, plan)
    _, backward = launchers.backward_launches(torch.zeros(T, batch, hidden, dtype=dtype), w, h0, out.cs, out.gates,
                                              torch.zeros(batch, hidden), plan)
    return plan, forward[0], backward[0]


@pytest.mark.slow
@pytest.mark.parametrize("batch, hidden, dtype", [(16, 64, torch.bfloat16), (4, 32, torch.float32)],
                         ids=["bf16-B16-H64", "fp32-B4-H32"])
def test_the_time_loops_are_not_pipelined_ahead(parts, batch, hidden, dtype):
    """One program owns all units here (no barrier in the loop): before the fix, the TTGIR
    of bf16 B=16 H=64 had two async copies of h_prev before the time loop."""
    aot = parts[0]
    plan, forward, backward = _one_slice_launches(parts, batch, hidden, dtype)
    assert plan.grid(batch, hidden)[1] == 1 and not forward.synced
    for launch in (forward, backward):
        ttgir = aot.compile_launch(launch).asm["ttgir"]
        assert aot.time_loop_prefetches(ttgir) == [], launch.label


@pytest.mark.slow
def test_a_small_batch_bf16_tile_runs_on_one_warp_per_mma_tile(parts):
    """16 rows x 8 units is one mma tile: on one warp, not recomputed by 8 (issue's 16x8 on 8 warps)."""
    aot, launchers, planning = parts
    plan = planning.plan_launch(16, 256, torch.bfloat16, torch.device("cuda"), num_sms=132)
    _, forward, _ = _one_slice_launches(parts, 16, 256, torch.bfloat16)
    compiled = aot.compile_launch(forward)
    assert plan.num_warps == 1 and aot.redundant_products(compiled.asm["ttgir"]) == []
    assert aot.register_use(compiled)[1] == 0  # no spill


@pytest.mark.slow
def test_float32_ieee_products_stay_ieee_reductions(parts):
    """IEEE float32 multiplies by broadcasting and reducing over K: no tl.dot in the TTGIR
    (Triton rewrote the axis-1 form into a dot, a tf32 one on Triton 3.6), and no output
    computed twice (tl.dot on FMAs computed each output of a [1, 8] tile 32 times)."""
    aot, launchers, planning = parts
    _, forward, backward = _one_slice_launches(parts, 16, 16, torch.float32)
    for launch in (forward, backward):
        ttgir = aot.compile_launch(launch).asm["ttgir"]
        assert "tt.dot" not in ttgir and "tf32" not in ttgir and '"tt.reduce"' in ttgir, launch.label
        assert aot.redundant_products(ttgir) == [], launch.label
