"""lstm@triton, checked in Triton's interpreter on the CPU against torch.nn.LSTM.

Triton reads TRITON_INTERPRET when @triton.jit decorates a kernel, i.e. when
rnnbench.plugins.triton.kernels is first imported: the ``parts`` fixture sets
it for this module's tests and (re)imports the kernels under it. Sizes stay tiny
(T <= 16, B <= 4, hidden <= 32, plus one hidden=80 case for the tiled path): the
interpreter runs every program in NumPy, so these are correctness tests, not speed tests.
Without triton the tests that need it are skipped, with the reason (pytest -ra prints it).
"""

import importlib
import importlib.util
import json
import os
import re
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest
import torch
from torch import nn

from rnnbench.model_api import ModelConfig
from rnnbench.plugins.triton import lstm as triton_lstm
from tasks_helpers import copy_task

SKIP_REASON = "triton is not installed (pip install 'rnnbench[triton]'); lstm@triton is not tested"


@pytest.fixture(scope="module")
def parts():
    """The package's modules that import triton, with the kernels jit-decorated for the interpreter."""
    pytest.importorskip("triton", reason=SKIP_REASON)
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("TRITON_INTERPRET", "1")
        from rnnbench.plugins.triton import autograd, barrier_safety, kernels, launchers, planning
        from triton.runtime.interpreter import InterpretedFunction

        if not isinstance(kernels._lstm_forward_kernel, InterpretedFunction):
            kernels = importlib.reload(kernels)  # imported earlier, compiled for a GPU (the launchers look it up)
        yield SimpleNamespace(kernels=kernels, planning=planning, launchers=launchers, barrier_safety=barrier_safety,
                              autograd=autograd)


def reference_and_core(hidden, layers, seed=0, design="auto"):
    """An nn.LSTM with random weights (biases included) and a TritonLSTMCore holding a copy."""
    torch.manual_seed(seed)
    reference = nn.LSTM(hidden, hidden, num_layers=layers, batch_first=True)
    with torch.no_grad():
        for p in reference.parameters():
            p.uniform_(-0.5, 0.5)  # larger than the default init, so the gates are not all near 0.5
    core = triton_lstm.TritonLSTMCore(hidden, layers, design=design)
    core.load_state_dict(reference.state_dict())
    return reference, core


CASES = [  # (T, B, hidden, layers, design): "auto" is one program owning all units; "per-step"
    # splits the units over programs (8 a slice) with the kernel boundary as the barrier.
    pytest.param(6, 4, 32, 1, "auto", id="T6-B4-H32-1layer-one-program"),
    pytest.param(7, 3, 16, 2, "auto", id="T7-B3-H16-2layers-one-program"),
    pytest.param(5, 3, 24, 2, "per-step", id="T5-B3-H24-2layers-split-3-slices"),
    pytest.param(4, 2, 20, 1, "per-step", id="T4-B2-H20-split-ragged-slice"),
    pytest.param(1, 1, 8, 1, "auto", id="T1-B1-H8"),
]


def assert_matches_nn_lstm(T, B, hidden, layers, design, tol=1e-4):
    reference, core = reference_and_core(hidden, layers, design=design)
    gen = torch.Generator().manual_seed(1)
    x = torch.randn(B, T, hidden, generator=gen)
    h0 = torch.randn(layers, B, hidden, generator=gen)
    c0 = torch.randn(layers, B, hidden, generator=gen)
    # A loss that weighs every output, h_n and c_n differently, so every path carries gradient.
    w_y, w_h, w_c = (torch.randn(s, generator=gen) for s in ((B, T, hidden), h0.shape, c0.shape))

    def run(module, forward):
        inputs = [t.clone().requires_grad_() for t in (x, h0, c0)]
        y, h_n, c_n = forward(*inputs)
        loss = (y * w_y).sum() + (h_n * w_h).sum() + (c_n * w_c).sum()
        params = dict(module.named_parameters())
        grads = torch.autograd.grad(loss, [*inputs, *params.values()])
        return (y, h_n, c_n), dict(zip(["x", "h0", "c0", *params], grads))

    def reference_forward(x_, h_, c_):
        y, (h_n, c_n) = reference(x_, (h_, c_))
        return y, h_n, c_n

    expected, expected_grads = run(reference, reference_forward)
    actual, actual_grads = run(core, core.run)
    for name, a, e in zip(("outputs", "h_n", "c_n"), actual, expected):
        torch.testing.assert_close(a, e, rtol=tol, atol=tol, msg=lambda m: f"{name}: {m}")
    assert set(actual_grads) == set(expected_grads) and len(actual_grads) == 3 + 4 * layers
    for name, grad in expected_grads.items():
        torch.testing.assert_close(actual_grads[name], grad, rtol=tol, atol=tol, msg=lambda m: f"d{name}: {m}")
    with torch.inference_mode():  # the inference path (nothing saved) gives the same numbers
        y, h_n, c_n = core.run(x, h0, c0)
    for name, a, e in zip(("outputs", "h_n", "c_n"), (y, h_n, c_n), expected):
        torch.testing.assert_close(a, e.detach(), rtol=tol, atol=tol, msg=lambda m: f"inference {name}: {m}")


@pytest.mark.slow  # over 6 s on a quiet 2-core machine: run by `pytest -m slow`
@pytest.mark.parametrize("T, B, hidden, layers, design", CASES)
def test_outputs_state_and_every_gradient_equal_nn_lstm(parts, T, B, hidden, layers, design):
    assert_matches_nn_lstm(T, B, hidden, layers, design)


@pytest.mark.slow  # over 6 s on a quiet 2-core machine: run by `pytest -m slow`
@pytest.mark.parametrize("resident, precision", [(True, "ieee"), (False, "ieee"), (False, "tf32")],
                         ids=["W-resident", "W-streamed-in-slabs", "W-streamed-tensor-core-products"])
def test_split_plans_of_the_gpu_equal_nn_lstm(parts, monkeypatch, resident, precision):
    """The GPU's plans in miniature: batch tiles narrower than the batch (two tiles, the
    second ragged), hidden slices of 16 units (the last ragged: 40 = 16 + 16 + 8), and
    either W_hh kept on chip or streamed in 16-wide slabs (40 = 16 + 16 + 8 again). The
    tensor-core form's backward reads each slab as a quarter of every gate's columns
    (4 at a time: 40 = 10 x 4) in one tl.dot."""
    plan = parts.planning.LaunchPlan("per-step", block_b=2, block_n=16, block_k=16, hp=64, w_resident=resident,
                              w_resident_backward=resident, num_warps=4, prefetch=resident, precision=precision)
    monkeypatch.setattr(parts.planning, "plan_for", lambda *args, **kwargs: plan)
    assert_matches_nn_lstm(T=3, B=3, hidden=40, layers=1, design="per-step")


def test_inference_saves_nothing_and_training_saves_for_the_backward(parts, monkeypatch):
    """Whether the forward keeps gates and cell states is decided by grad mode and the
    inputs, not by autograd's needs_input_grad (which stays true under no_grad)."""
    saved = []
    forward = parts.launchers.lstm_layer_forward

    def spy(*args, save, plan):
        saved.append(save)
        return forward(*args, save=save, plan=plan)

    monkeypatch.setattr(parts.launchers, "lstm_layer_forward", spy)
    _, core = reference_and_core(hidden=8, layers=1)
    x = torch.randn(2, 3, 8)
    state = core.init_state(2, x.device, x.dtype)
    with torch.no_grad():
        core.run(x, *state)
    with torch.inference_mode():
        core.run(x, *state)
    core.requires_grad_(False)
    core.run(x, *state)  # grad mode on, but nothing requires a gradient
    assert saved == [False, False, False]
    core.requires_grad_(True)
    y = core.run(x, *state)[0]
    assert saved[-1] is True and y.requires_grad


def test_decoding_launches_one_kernel_per_layer_and_allocates_nothing(parts, monkeypatch):
    _, core = reference_and_core(hidden=16, layers=2)
    launches = []
    decode_layer = parts.launchers.lstm_decode_layer
    monkeypatch.setattr(parts.launchers, "lstm_decode_layer", lambda *a: launches.append(1) or decode_layer(*a))
    x = torch.randn(3, 1, 16)
    with torch.inference_mode():
        state = core.init_state(3, x.device, x.dtype)
        given = [t.clone() for t in state]
        _, first = core.step(x, state)
        _, second = core.step(x, first)
        _, third = core.step(x, second)
        _, again = core.step(x, state)
    assert len(launches) == 4 * 2  # four tokens, two layers
    assert all(torch.equal(a, b) for a, b in zip(state, given))  # the input state is left as it was
    # the steps alternate between two preallocated (h, c) pairs: nothing new per token
    buffers = {t.data_ptr() for t in (*first, *second)}
    assert len(buffers) == 4 and {t.data_ptr() for t in (*third, *again)} <= buffers


def test_the_grid_barrier_counts_arrivals_and_gives_up_instead_of_hanging(parts):
    """The interpreter runs programs one after another, so a barrier between programs
    can never complete there: exactly the case the bounded spin is for."""
    count, flag = torch.zeros(1, dtype=torch.int32), torch.zeros(1, dtype=torch.int32)
    parts.kernels.barrier_floor_kernel[(1, 1)](count, flag, 4, 5)  # one participant: every wait completes
    assert count.item() == 4 and flag.item() == 0
    count.zero_()
    parts.kernels.barrier_floor_kernel[(1, 3)](count, flag, 4, 5)  # program 0 waits for 1 and 2, which run later
    assert count.item() == 3 * 4 and flag.item() == 1  # it gave up, flagged it, and every program finished


def test_a_persistent_split_that_cannot_meet_raises_instead_of_hanging(parts, monkeypatch):
    plan = parts.planning.LaunchPlan("persistent", block_b=4, block_n=8, block_k=16, hp=16, w_resident=True,
                              w_resident_backward=True, num_warps=4, prefetch=True, precision="ieee")
    assert plan.synced(16)
    monkeypatch.setattr(parts.planning, "plan_for", lambda *args, **kwargs: plan)
    monkeypatch.setattr(parts.barrier_safety, "SPIN_LIMIT", 3)
    _, core = reference_and_core(hidden=16, layers=1)
    with torch.inference_mode():
        core(torch.randn(2, 3, 16))
    with pytest.raises(parts.barrier_safety.BarrierTimeout, match="timed out at its grid barrier"):
        parts.barrier_safety.check_barrier(torch.device("cpu"), wait=True)
    parts.barrier_safety.check_barrier(torch.device("cpu"), wait=True)  # raised once; the flag is clear again


def test_programs_per_sm_follows_the_occupancy_rule(parts):
    h100 = SimpleNamespace(max_threads_per_multi_processor=2048, regs_per_multiprocessor=65536,
                           shared_memory_per_multiprocessor=228 * 1024)
    assert parts.barrier_safety.programs_per_sm(n_regs=128, num_warps=4, shared=0, props=h100) == 4  # registers bound
    assert parts.barrier_safety.programs_per_sm(n_regs=255, num_warps=8, shared=0, props=h100) == 1
    assert parts.barrier_safety.programs_per_sm(n_regs=32, num_warps=4, shared=100 * 1024, props=h100) == 2  # shared memory
    assert parts.barrier_safety.programs_per_sm(n_regs=16, num_warps=1, shared=0, props=h100) == 32  # the block limit
    assert parts.barrier_safety.programs_per_sm(n_regs=255, num_warps=32, shared=0, props=h100) == 0  # cannot run at all


def test_a_grid_that_cannot_be_resident_is_refused_before_launch(parts, monkeypatch):
    """The co-residency check, with a compiled kernel's figures standing in for a GPU's."""
    compiled = SimpleNamespace(n_regs=128, metadata=SimpleNamespace(shared=0), _init_handles=lambda: None)
    kernel = SimpleNamespace(fn=SimpleNamespace(__name__="fake_kernel"), warmup=lambda *args, grid, **meta: compiled)
    props = SimpleNamespace(name="a GPU of 132 SMs", multi_processor_count=132, max_threads_per_multi_processor=2048,
                            regs_per_multiprocessor=65536, shared_memory_per_multiprocessor=228 * 1024)
    monkeypatch.setattr(torch.cuda, "get_device_properties", lambda device: props)
    monkeypatch.setattr(parts.barrier_safety, "_checked_grids", {})
    cuda = torch.device("cuda", 0)
    parts.barrier_safety.check_co_resident(kernel, (), (4, 132), {"num_warps": 4}, cuda)  # 4 a SM at 128 registers: fits
    with pytest.raises(parts.barrier_safety.GridTooLargeError, match="529 programs cannot be resident at once"):
        parts.barrier_safety.check_co_resident(kernel, (), (1, 529), {"num_warps": 4}, cuda)


def test_tanh_is_exact_to_float32_and_saturates_without_nan(parts):
    x = torch.cat([torch.linspace(-12, 12, 4001),
                   torch.tensor([0.0, -0.0, 1e-30, -1e-7, 1e-6, 0.0999, 0.1, 0.1001, 9.0, 20.0, 30.0, -30.0,
                                 1e4, -1e4, 3e38, -3e38, float("inf"), float("-inf")])])
    y = parts.launchers.tanh(x)
    expected = torch.tanh(x.double()).float()
    assert torch.isfinite(y).all()
    torch.testing.assert_close(y, expected, rtol=2e-6, atol=2e-7)
    assert y[-4:].tolist() == [1.0, -1.0, 1.0, -1.0]
    assert parts.launchers.tanh(torch.tensor([1e-6])).item() == pytest.approx(1e-6, rel=1e-6)  # no cancellation at 0


def test_launch_plan_follows_the_documented_rule(parts):
    plan_launch, cuda, cpu = parts.planning.plan_launch, torch.device("cuda"), torch.device("cpu")
    f32, bf16 = torch.float32, torch.bfloat16
    # float32 IEEE products are reductions: batch 1 is one row, not padded to 16; tensor-core
    # types pad to 16 (an mma's M)
    assert plan_launch(1, 256, f32, cuda, num_sms=132).block_b == 1
    assert plan_launch(1, 256, bf16, cuda, num_sms=132).block_b == 16
    assert plan_launch(1, 256, f32, cuda, num_sms=132, precision="tf32").block_b == 16
    assert plan_launch(256, 256, bf16, cuda, num_sms=132).block_b == 64
    # small batch: 8-unit slices, one batch tile, a grid barrier; one warp for the 16 rows
    plan = plan_launch(16, 256, bf16, cuda, num_sms=132)
    assert (plan.design, plan.block_n, plan.grid(16, 256), plan.num_warps) == ("persistent", 8, (1, 32), 1)
    assert plan.synced(256) and plan.w_resident and not plan.w_resident_backward  # 4 gates' δ: 4x the operand
    # H=1024: the [16, 1024] operand is 1 KiB a thread: streamed in slabs (K >= 16 for Triton 3.6)
    plan = plan_launch(16, 1024, bf16, cuda, num_sms=132)
    assert plan.grid(16, 1024) == (1, 128) and not plan.w_resident and plan.block_k >= 16
    # any hidden size: 768 is 96 slices of 8 over a 1024-wide reduction
    plan = plan_launch(7, 768, bf16, cuda, num_sms=132)
    assert plan.grid(7, 768) == (1, 96) and plan.hp == 1024
    # large batch: batch tiles x hidden slices, slices widened until the grid fits the SMs;
    # one warp per 16 x 16 of the output (64 x 32: 8)
    plan = plan_launch(256, 1024, bf16, cuda, num_sms=132)
    assert plan.grid(256, 1024) == (4, 32) and not plan.w_resident and plan.num_warps == 8
    # tf32x3 on 8 warps over 64 rows (its chained products laid along M) takes IEEE products
    assert plan_launch(256, 1024, f32, cuda, num_sms=132, precision="tf32x3").precision == "ieee"
    assert plan_launch(256, 1024, f32, cuda, num_sms=132, precision="tf32").precision == "tf32"
    # the four gates' W slab a thread holds stays within W_SLAB_MAX_BYTES (16 x 64 bf16: 64 -> 32 wide)
    plan = plan_launch(16, 64, bf16, cuda, num_sms=132)
    assert 4 * plan.block_k * plan.block_n * 2 <= parts.planning.W_SLAB_MAX_BYTES * 32 * plan.num_warps
    # float32: W resident while one gate's product [rows, hp, units] is small; slabs >= 16 wide, except
    # 8 where a 16-wide slab would give a thread more than FMA_SLAB_PER_THREAD elements (32 x 64 tiles)
    assert plan_launch(1, 256, f32, cuda, num_sms=132).w_resident
    streamed = plan_launch(1, 1024, f32, cuda, num_sms=132)
    assert not streamed.w_resident and streamed.block_k >= 16
    assert all(plan_launch(b, h, f32, cuda, num_sms=132).block_k >= 16 for b in (1, 16, 64) for h in (256, 1024))
    wide = plan_launch(256, 1024, f32, cuda, num_sms=132)
    assert (wide.block_b, wide.block_n, wide.block_k, wide.num_warps) == (32, 64, 8, 8)
    # tl.dot's operands: K >= 16 always (Triton 3.6)
    assert all(plan_launch(b, h, f32, cuda, num_sms=132, precision="tf32").block_k >= 16
               for b in (1, 16, 64, 256) for h in (256, 1024))
    # tiny W_hh: one program owns every unit, no barrier
    tiny = plan_launch(8, 32, f32, cuda, num_sms=132)
    assert tiny.grid(8, 32) == (1, 1) and not tiny.synced(32)
    # the interpreter: one program per batch tile, unless per-step splits the units
    assert plan_launch(4, 96, f32, cpu).grid(4, 96) == (1, 1)
    assert plan_launch(4, 96, f32, cpu, design="per-step").grid(4, 96) == (1, 96 // 8)
    with pytest.raises(ValueError, match="design"):
        plan_launch(8, 64, f32, cuda, design="fastest")
    with pytest.raises(ValueError, match="precision"):
        plan_launch(8, 64, f32, cuda, precision="fp8")


def model_config(**overrides):
    fields = dict(input_kind="tokens", input_size=6, output_kind="classes", output_size=5, hidden=16, layers=2,
                  max_seq_len=12, seed=0, lr=1e-2)
    fields.update(overrides)
    return ModelConfig(**fields)


@pytest.mark.slow  # over 6 s on a quiet 2-core machine: run by `pytest -m slow`
def test_the_model_starts_as_lstm_torch_and_trains_the_same(parts, registry):
    """Same seed, same initialisation (forget-gate bias 1 included): the training runs agree."""
    triton_model = registry.models["lstm@triton"].factory(model_config(layers=1))
    torch_model = registry.models["lstm@torch"].factory(model_config(layers=1))
    copied = {name.replace("core.rnn.", "core."): p for name, p in torch_model.net.state_dict().items()}
    for name, p in triton_model.net.state_dict().items():
        assert torch.equal(p, copied[name]), name
    H = triton_model.config.hidden
    assert torch.all((triton_model.net.core.bias_ih_l0 + triton_model.net.core.bias_hh_l0)[H:2 * H] == 1.0)

    batch = copy_task(delay=1, num_symbols=3, alphabet_size=4).batch("train", 0, 4)
    losses = {}
    for name, model in (("triton", triton_model), ("torch", torch_model)):
        device_batch = model.to_device(batch)
        losses[name] = [model.train_step(device_batch) for _ in range(4)]
    np.testing.assert_allclose(losses["triton"], losses["torch"], rtol=1e-4)
    assert all(np.diff(losses["triton"]) < 0) and losses["triton"][-1] < 0.95 * losses["triton"][0], losses["triton"]


def test_step_by_step_decoding_equals_the_full_forward(parts, registry):
    model = registry.models["lstm@triton"].factory(model_config(layers=2))
    batch = copy_task(delay=2, num_symbols=3, alphabet_size=4).batch("test", 0, 3)
    full = model.predict(model.to_device(batch))
    state = model.init_state(3)
    outputs = []
    for t in range(batch.seq_len):
        sliced = type(batch)(batch.inputs[:, t:t + 1], batch.targets[:, t:t + 1], batch.mask[:, t:t + 1])
        out, state = model.step(model.to_device(sliced), state)
        outputs.append(out.numpy())
    np.testing.assert_allclose(np.concatenate(outputs, axis=1), full, rtol=1e-5, atol=1e-5)
    assert model.state_bytes(state) == 2 * 2 * 3 * 16 * 4  # (h, c) x layers x batch x hidden x float32


def test_describe_names_the_kernel_path_and_design(parts, registry):
    facts = registry.models["lstm@triton"].factory(model_config()).describe()
    assert facts["triton_interpret"] is True and "interpreter" in facts["kernel_path"]
    assert "persistent" in facts["launch_design"] and facts["triton"] and facts["fp32_precision"] == "ieee"


def test_factory_refuses_what_it_cannot_run(parts, registry, monkeypatch):
    factory = registry.models["lstm@triton"].factory
    with pytest.raises(ValueError, match="bfloat16 on CUDA only"):
        factory(model_config(dtype="bfloat16"))
    monkeypatch.delenv("TRITON_INTERPRET")
    with pytest.raises(RuntimeError, match="TRITON_INTERPRET=1"):
        factory(model_config())


def test_availability_gives_the_reason(monkeypatch):
    monkeypatch.setattr(triton_lstm, "triton_installed", lambda: False)
    assert triton_lstm.unavailable_reason() == "install rnnbench[triton]"
    monkeypatch.setattr(triton_lstm, "triton_installed", lambda: True)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.delenv("TRITON_INTERPRET", raising=False)
    assert triton_lstm.unavailable_reason() == (
        "needs a CUDA GPU, or TRITON_INTERPRET=1 to run in Triton's interpreter")
    monkeypatch.setenv("TRITON_INTERPRET", "1")
    assert triton_lstm.unavailable_reason() is None


def test_rnnbench_list_works_without_triton():
    # sys.modules["triton"] = None makes `import triton` fail as if it were not installed.
    code = "import sys; sys.modules['triton'] = None; from rnnbench.cli import main; sys.exit(main(['list']))"
    env = {**os.environ, "COLUMNS": "250"}
    env.pop("TRITON_INTERPRET", None)
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert "lstm@triton" in proc.stdout and "no: install rnnbench" in proc.stdout  # rich may wrap "[triton]"
    assert "lstm@torch" in proc.stdout


@pytest.mark.slow
def test_rnnbench_run_trains_lstm_triton_on_copy_in_the_interpreter(parts, cli_process, tmp_path, monkeypatch):
    """The command end to end: plan, train, evaluate, store. Three steps only: a training step takes
    seconds in the interpreter (8.5 s at T=8, B=8, H=16 on a 2-core CPU). That lstm@triton learns
    as lstm@torch does is test_the_model_starts_as_lstm_torch_and_trains_the_same's job; the
    forward's numbers are test_outputs_state_and_every_gradient_equal_nn_lstm's."""
    monkeypatch.setenv("TRITON_INTERPRET", "1")  # the subprocess inherits it
    proc = cli_process("run", "--models", "lstm@triton", "--tasks", "copy", "--seq-len", "2", "--hidden", "16",
                       "--batch-size", "8", "--steps", "3", "--lr", "0.01", "--task-opt", "copy.num_symbols=3",
                       "--task-opt", "copy.alphabet_size=4", "--scenarios", "train", "--no-progress",
                       "--out", tmp_path)
    assert proc.returncode == 0, proc.stderr
    [run_dir] = [p for p in tmp_path.iterdir() if p.is_dir()]
    [row] = pd.read_csv(run_dir / "results.csv").to_dict("records")
    assert row["status"] == "ok" and row["model"] == "lstm@triton" and row["train_steps_reached"] == 3
    assert len(json.loads(row["train_loss_curve"])) == 3 and row["train_time_s"] > 0
    assert 0.0 <= row["train_eval_accuracy"] <= 1.0 and row["train_baseline_accuracy"] == pytest.approx(0.25)


def test_float16_runs_with_float32_accumulation(parts):
    """The half-precision path (float16 storage, float32 accumulation and cell state).

    Triton 3.9's interpreter computes tl.dot wrongly for bfloat16 operands (a 16x16
    product is off by ~1e10), so bfloat16 is left to the GPU; float16 takes the same code path.
    """
    reference, core = reference_and_core(hidden=32, layers=1)
    gen = torch.Generator().manual_seed(2)
    x = torch.randn(3, 6, 32, generator=gen, requires_grad=True)
    grad_out = torch.randn(3, 6, 32, generator=gen)
    y = reference(x)[0]
    expected = torch.autograd.grad(y, [x, *reference.parameters()], grad_out)
    core = core.to(torch.float16)
    x16 = x.detach().to(torch.float16).requires_grad_()
    y16 = core(x16)
    assert y16.dtype == torch.float16
    actual = torch.autograd.grad(y16, [x16, *core.parameters()], grad_out.to(torch.float16))
    torch.testing.assert_close(y16.float(), y.detach(), rtol=0, atol=2e-3)
    for a, e in zip(actual, expected):
        assert a.dtype == torch.float16
        torch.testing.assert_close(a.float(), e, rtol=1e-2, atol=1e-2 * e.abs().max().item())


BENCHMARK = Path(__file__).resolve().parents[1] / "benchmarks" / "triton_vs_cudnn.py"


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the message given where there is no GPU")
def test_benchmark_script_says_it_needs_a_gpu():
    proc = subprocess.run([sys.executable, str(BENCHMARK)], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2 and "needs a CUDA GPU" in proc.stderr and not proc.stdout


def test_benchmark_script_runs_end_to_end_in_the_interpreter(parts, tmp_path):
    """A smoke test of the script's own code (on a GPU it compares with cuDNN; here with oneDNN)."""
    out = tmp_path / "rows.csv"
    proc = subprocess.run(
        [sys.executable, str(BENCHMARK), "--device", "cpu", "--batch", "2", "--hidden", "16", "--seq", "3",
         "--dtype", "float32", "--min-run-time", "0.01", "--csv", str(out)],
        capture_output=True, text=True, timeout=300, env={**os.environ, "TRITON_INTERPRET": "1"})
    assert proc.returncode == 0, proc.stderr
    assert "NOT a speed comparison" in proc.stdout
    rows = pd.read_csv(out)
    assert list(rows["mode"]) == ["forward", "fwd+bwd"]
    assert (rows["max_abs_diff"] < 1e-5).all() and (rows["triton_ms"] > 0).all()


@pytest.mark.slow
def test_kernels_compile_for_a_gpu_without_one(parts):
    """What the interpreter cannot check: the GPU compiler (through ptxas) accepts what one
    plan launches, specialised as at launch (B=1 becomes a constant), the grid barrier's
    atomics included, without spills, early time-loop loads or recomputed products."""
    script = BENCHMARK.parent / "compile_check.py"
    env = {**os.environ, "TRITON_DEFAULT_FP_FUSION": "1"}
    env.pop("TRITON_INTERPRET", None)
    proc = subprocess.run([sys.executable, str(script), "--arch", "90", "--batch", "1", "--hidden", "256",
                           "--dtype", "bfloat16", "--design", "persistent"], capture_output=True, text=True,
                          timeout=600, env=env)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "grid barrier each step" in proc.stdout and "SYNC=True" in proc.stdout
    assert "runtime constants B=1" in proc.stdout  # specialised as a launch with batch 1 is
    assert "5 distinct kernels compiled" in proc.stdout and "0 failure(s)" in proc.stdout
    assert len(re.findall(r"registers \d+, spilled 0 B, shared \d+ B", proc.stdout)) == 5


GPU_CHECK = BENCHMARK.parent / "gpu_check_triton.py"


def _gpu_check_module():
    spec = importlib.util.spec_from_file_location("gpu_check_triton", GPU_CHECK)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_gpu_check_lists_its_steps_and_timeouts_without_a_gpu(capsys, tmp_path):
    check = _gpu_check_module()
    assert check.main(["--dry-run", "--out", str(tmp_path / "out")]) == 0
    out = capsys.readouterr().out
    names = ["environment", "barrier", "tiny", "small-H", "timings", "GPU tests", "quick"]
    lines = [line for line in out.splitlines() if line[:1].isdigit()]
    assert [line.split()[1] for line in lines] == [n.split()[0] for n in names]  # in priority order
    assert all("timeout" in line for line in lines) and "the time left" in lines[-1]
    fixed = sum(t for _, t, _ in check.steps(tmp_path))
    assert fixed < 470 and "within 470 s" in out  # the default budget, under 8 minutes
    assert not (tmp_path / "out").exists()  # a dry run writes nothing


def test_a_gpu_check_step_that_hangs_is_killed_at_its_timeout(tmp_path):
    """What a hung grid barrier would do to a step: it ends at the timeout, and is reported."""
    check = _gpu_check_module()
    log = tmp_path / "hang.log"
    verdict = check.run_one([sys.executable, "-c", "print('waiting', flush=True); import time; time.sleep(60)"],
                            1.0, log)
    assert verdict.startswith("TIMED OUT") and "waiting" in log.read_text()
    assert check.run_one([sys.executable, "-c", "print('done')"], 30, log).startswith("ok")
