"""Contract checks for plugin authors: one line in a plugin's own tests.

::

    from rnnbench.testing import check_model, check_task
    from rnnbench_mymodel.plugin import MODEL_SPEC, TASK_SPEC

    def test_model_contract():
        check_model(MODEL_SPEC)

    def test_task_contract():
        check_task(TASK_SPEC)

Each check builds the thing at small sizes, exercises the contract of docs/api.md
through the same calls the runner makes, and raises :class:`ContractError` (an
``AssertionError``, so pytest shows it as a failure) whose message names the spec
and the rule broken. On success it returns a :class:`CheckReport` listing what it
checked, so a test can also assert on it. The built-in plugins are held to the
same checks (tests/test_contracts.py).
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from typing import Any, Iterable, Sequence

import numpy as np

from rnnbench.errors import UsageError
from rnnbench.manager import Registry, load_registry
from rnnbench.model_api import Batch, MemoryReading, Model, ModelConfig
from rnnbench.request.model_options import resolve_model_options
from rnnbench.request.sweep import check_task_options, convert_option
from rnnbench.specs import ModelSpec, TaskSpec
from rnnbench.task_api import PREDICTOR_KINDS, SPLITS, Task, baseline_entries, baselines_by_metric, stored_name

__all__ = ["CheckReport", "ContractError", "check_model", "check_plugin", "check_task"]


class ContractError(AssertionError):
    """A plugin broke the contract; the message names the spec and the rule."""


@dataclass
class CheckReport:
    """What a check verified (one line each) and what it left out, with why."""

    name: str
    checked: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)


# -- plugins -----------------------------------------------------------------------------------

def check_plugin(*modules: str) -> Registry:
    """Load plugin modules by import path, as ``rnnbench -p MODULE`` does, and fail on any problem.

    Returns the registry (``.models``, ``.tasks``, ``.executors``, ``.studies``: name -> spec) of what
    the modules registered, without the installed plugins, so that a test sees its
    own plugin's registrations only. A module that fails to import, a hook that raises,
    an invalid or duplicate spec or a misspelled hook name fails with the reason.
    """
    registry = load_registry(list(modules), entry_points=False)
    problems = "; ".join(str(p) for p in registry.problems)
    _require(f"check_plugin({', '.join(modules)})", not problems, problems)
    _require(f"check_plugin({', '.join(modules)})",
             registry.models or registry.tasks or registry.executors or registry.studies,
             "the module(s) registered nothing (are the hooks decorated with @rnnbench.hookimpl?)")
    return registry


# -- models ------------------------------------------------------------------------------------

#: (input_kind, output_kind) pairs every model must accept (tasks use both)
SHAPES = (("tokens", "classes"), ("features", "regression"))


def check_model(
    spec: ModelSpec,
    *,
    options: dict[str, Any] | None = None,
    hidden: int = 16,
    layers: int = 2,
    seq_len: int = 8,
    batch_size: int = 4,
    device: str = "cpu",
    dtype: str | None = None,
    decode: bool = True,
    train_steps: int = 20,
    lr: float = 1e-2,
    shapes: Iterable[tuple[str, str]] = SHAPES,
) -> CheckReport:
    """Check a model spec against the model contract at small sizes.

    For each input/output kind it builds the model twice from one seed and checks:
    the same seed gives the same outputs; ``predict`` returns finite
    ``[B, T, output_size]``; the parameter count and FLOPs are positive, FLOPs are
    linear in the batch and grow linearly in ``T`` (exactly for the ``recurrent``
    family, between linear and quadratic for ``linear-recurrent``, at least linearly for the others) and training costs more than a
    forward; a few ``train_step`` calls on one fixed batch lower the loss;
    ``memory_meter`` yields a :class:`MemoryReading` that names its method. With
    ``decode`` (the default) it also checks that ``step()`` position by position
    gives what ``forward`` gives, that ``step()`` leaves the state it was given
    untouched, and that ``state_bytes`` counts the state (positive, except for the
    position-wise ``feedforward`` family); pass ``decode=False``
    for a model that does not support the ``decode`` scenario.

    :param options: model options to set (others keep their defaults).
    :param dtype: the dtype to build in; default float64 if the spec supports it
        (tight comparisons), else float32.
    """
    label = f"check_model({spec.name})"
    report = CheckReport(spec.name)
    dtype, model_options = _check_model_spec(label, spec, options or {}, hidden, device, dtype, report)
    tol = 1e-6 if dtype == "float64" else (1e-4 if dtype == "float32" else 3e-2)

    for input_kind, output_kind in shapes:
        kind = f"{input_kind}->{output_kind}"
        config = ModelConfig(
            input_kind=input_kind, input_size=7 if input_kind == "tokens" else 3,
            output_kind=output_kind, output_size=5 if output_kind == "classes" else 2,
            hidden=hidden, layers=layers, max_seq_len=seq_len, device=device, dtype=dtype,
            seed=0, lr=lr, options=dict(model_options),
        )
        batch = _fixed_batch(config, batch_size, seq_len)
        model, out = _check_predict(label, spec, config, batch, kind, report)
        _check_counts(label, spec, model, seq_len, batch_size, kind, report)
        _check_training(label, spec, config, batch, train_steps, kind, report)
        if decode:
            _check_decode(label, model, batch, out, tol, kind, report, spec.family)
    if not decode:
        report.skipped.append("decode: step()/init_state() not checked (decode=False)")
    return report




def _check_model_spec(label: str, spec: ModelSpec, options: dict[str, Any], hidden: int, device: str,
                      dtype: str | None, report: CheckReport) -> tuple[str, dict[str, Any]]:
    """What can be checked before building anything: the spec is valid and available, supports the device and
    dtype asked for, and accepts the options. Returns the dtype to build in and the options resolved."""
    _require(label, _validated(spec), "the spec is invalid")
    reason = spec.unavailable_reason()
    if reason is not None:
        _unavailable(label, reason)
    _require(label, device in spec.devices, f"device {device!r} is not among the spec's devices {spec.devices}")
    dtype = dtype or ("float64" if "float64" in spec.dtypes else "float32")
    _require(label, dtype in spec.dtypes, f"dtype {dtype!r} is not among the spec's dtypes {spec.dtypes}")
    model_options = _model_options(label, spec, options, hidden)
    report.checked.append(f"spec valid; options {model_options or '{}'} accepted at hidden={hidden}")
    return dtype, model_options

def _check_predict(label: str, spec: ModelSpec, config: ModelConfig, batch: Batch, kind: str,
                   report: CheckReport) -> tuple[Model, np.ndarray]:
    """Build the model and check ``predict``: shape, finiteness, and that a second build from the same seed
    predicts the same. Returns the model and its outputs, which the decode check compares ``step()`` with."""
    batch_size, seq_len = batch.batch_size, batch.seq_len
    model = _build(label, spec, config)
    dev = model.to_device(batch)
    out = _numpy(model.predict(dev))
    _require(label, out.shape == (batch_size, seq_len, config.output_size),
             f"{kind}: predict() returned shape {out.shape}, expected {(batch_size, seq_len, config.output_size)}")
    _require(label, np.isfinite(out).all(), f"{kind}: predict() returned non-finite values")
    again = _numpy(_build(label, spec, config).predict(dev))
    _require(label, np.array_equal(out, again),
             f"{kind}: two models built from one config (seed {config.seed}) predict differently;"
             " seed the parameters from config.seed")
    report.checked.append(f"{kind}: predict shape {out.shape}, finite, reproducible from config.seed")
    return model, out

def _check_counts(label: str, spec: ModelSpec, model: Model, T: int, B: int, kind: str, report: CheckReport) -> None:
    params = model.num_params()
    _require(label, isinstance(params, (int, np.integer)) and params > 0,
             f"{kind}: num_params() must be a positive int, got {params!r}")
    f = model.flops(T, B)
    _require(label, f > 0, f"{kind}: flops({T}, {B}) must be positive, got {f!r}")
    # linear in the batch, plus at most a constant per call that no batch element pays for alone (a
    # kernel built once per call, as S4D's): flops(T, B) = B·per_example(T) + per_call(T), per_call >= 0
    f_2b, f_3b = model.flops(T, 2 * B), model.flops(T, 3 * B)
    _require(label, _close(f_3b - f_2b, f_2b - f),
             f"{kind}: flops() must be linear in the batch (plus at most a per-call constant): flops(T, B),"
             f" flops(T, 2B), flops(T, 3B) = {f:g}, {f_2b:g}, {f_3b:g} do not grow by equal steps")
    per_call = 2 * f - f_2b
    _require(label, per_call >= -1e-6 * f and f_2b > f,
             f"{kind}: flops() must grow with the batch, and its per-call constant (2·flops(T, B) - flops(T, 2B)"
             f" = {per_call:g}) must not be negative")
    constant = "" if _close(f_2b, 2 * f) else f" plus {per_call:g} per call"

    def per_example(length: int) -> float:  # the part that grows with the batch: what the T rules read
        return model.flops(length, 2 * B) - model.flops(length, B)

    f, f2 = per_example(T), per_example(2 * T)
    if spec.family == "recurrent":
        _require(label, _close(f2, 2 * f),
                 f"{kind}: a recurrent model's FLOPs must be linear in T: flops(2T) = {f2:g}, 2·flops(T) = {2 * f:g}")
        growth = "linear in T"
    elif spec.family == "linear-recurrent":
        # Its parallel forms do O(T) work (chunked), O(T log T) (a Hillis-Steele scan) or, fully
        # parallel like attention, O(T²) (mLSTM's, linear attention's): no more than quadratic.
        _require(label, 2 * f * (1 - 1e-9) <= f2 <= 4 * f * (1 + 1e-9),
                 f"{kind}: a linear-recurrent model's FLOPs must grow between linearly and quadratically"
                 f" in T: flops(2T) = {f2:g}, flops(T) = {f:g}")
        growth = "between linear and quadratic in T"
    else:
        _require(label, f2 >= 2 * f * (1 - 1e-9),
                 f"{kind}: FLOPs must grow at least linearly in T: flops(2T) = {f2:g} < 2·flops(T) = {2 * f:g}")
        growth = "at least linear in T"
    trained, forward = model.flops(T, B, training=True), model.flops(T, B)
    _require(label, trained > forward,
             f"{kind}: a training step ({trained:g} FLOPs) must cost more than a forward ({forward:g})")
    report.checked.append(f"{kind}: {params} parameters; FLOPs positive, linear in B{constant}, {growth},"
                          " training > forward")


def _check_training(label: str, spec: ModelSpec, config: ModelConfig, batch: Batch, steps: int, kind: str,
                    report: CheckReport) -> None:
    model = _build(label, spec, config)
    dev = model.to_device(batch)
    with model.memory_meter("train") as reading:
        first = model.train_step(dev)
        model.synchronize()
    _require(label, isinstance(reading, MemoryReading) and isinstance(reading.method, str) and reading.method,
             f"{kind}: memory_meter('train') must yield a MemoryReading that names its method")
    _require(label, reading.bytes is None or (isinstance(reading.bytes, (int, np.integer)) and reading.bytes >= 0),
             f"{kind}: MemoryReading.bytes must be None or a non-negative int, got {reading.bytes!r}")
    losses = [float(first)] + [float(model.train_step(dev)) for _ in range(steps - 1)]
    _require(label, all(np.isfinite(losses)), f"{kind}: train_step() returned a non-finite loss: {losses}")
    end = float(np.mean(losses[-3:]))
    _require(label, end < 0.9 * losses[0],
             f"{kind}: {steps} train_step() calls on one fixed batch (lr={config.lr}) did not lower the loss"
             f" by 10%: {losses[0]:.4g} -> {end:.4g}")
    report.checked.append(f"{kind}: train_step lowers the loss on a fixed batch ({losses[0]:.3g} -> {end:.3g});"
                          f" memory meter: {reading.method}")


def _check_decode(label: str, model: Model, batch: Batch, full: np.ndarray, tol: float, kind: str,
                  report: CheckReport, family: str) -> None:
    B, T = batch.batch_size, batch.seq_len
    try:
        state = model.init_state(B)
    except NotImplementedError as exc:
        raise ContractError(f"{label}: {kind}: init_state() is not implemented ({exc}); pass decode=False"
                            " if the model does not support the decode scenario") from None
    positions = [model.to_device(Batch(batch.inputs[:, t:t + 1], batch.targets[:, t:t + 1], batch.mask[:, t:t + 1]))
                 for t in range(T)]
    outputs = []
    for t in range(T - 1):
        out, state = model.step(positions[t], state)
        outputs.append(_numpy(out))
    before = _snapshot(state)
    first, carried = model.step(positions[-1], state)
    second, _ = model.step(positions[-1], state)
    _require(label, _same(before, _snapshot(state)) and np.allclose(_numpy(first), _numpy(second), rtol=tol, atol=tol),
             f"{kind}: step() changed the state it was given; it must return a new state and leave its input"
             " untouched (the decode scenario times many steps from one state)")
    outputs.append(_numpy(first))
    stepped = np.concatenate(outputs, axis=1)
    _require(label, stepped.shape == full.shape,
             f"{kind}: step() outputs concatenate to {stepped.shape}, forward gives {full.shape}")
    scale = max(1.0, float(np.abs(full).max()))
    worst = float(np.abs(stepped - full).max())
    _require(label, worst <= tol * scale,
             f"{kind}: step() position by position differs from forward() by up to {worst:.3g}"
             f" (tolerance {tol * scale:.3g}); decoding must compute what the full forward computes")
    nbytes = model.state_bytes(carried)
    # A feedforward (position-wise) model carries nothing between steps; every other family does.
    stateless = family == "feedforward"
    _require(label, isinstance(nbytes, (int, np.integer)) and (nbytes >= 0 if stateless else nbytes > 0),
             f"{kind}: state_bytes() must be a {'non-negative' if stateless else 'positive'} int for a"
             f" {family} model's state, got {nbytes!r}")
    report.checked.append(f"{kind}: step() equals forward() (max diff {worst:.2g}), leaves its input state"
                          f" untouched; state_bytes {nbytes} at context {T}")


def _model_options(label: str, spec: ModelSpec, given: dict[str, Any], hidden: int) -> dict[str, Any]:
    """The options a case would run with, converted and checked by the code ``--model-opt`` goes through."""
    try:
        resolved = resolve_model_options({spec.name: given} if given else {}, [spec], [hidden])
    except UsageError as exc:
        raise ContractError(f"{label}: {exc}") from None
    return {**spec.options, **dict(resolved[spec.name])}


def _fixed_batch(config: ModelConfig, batch_size: int, seq_len: int) -> Batch:
    """One learnable batch: the target at t is a fixed function of the input at t."""
    rng = np.random.default_rng(1234)
    if config.input_kind == "tokens":
        inputs = rng.integers(0, config.input_size, size=(batch_size, seq_len)).astype(np.int64)
        first = inputs
    else:
        inputs = rng.standard_normal((batch_size, seq_len, config.input_size)).astype(np.float32)
        first = (inputs[..., 0] > 0).astype(np.int64)
    if config.output_kind == "classes":
        targets = (first % config.output_size).astype(np.int64)
    else:
        targets = np.stack([np.cumsum(first, axis=1) / seq_len] * config.output_size, axis=-1).astype(np.float32)
    mask = np.ones((batch_size, seq_len), np.float32)
    mask[:, 0] = 0.0  # a masked-out position: losses must honour the mask
    return Batch(inputs, targets, mask)


def _build(label: str, spec: ModelSpec, config: ModelConfig) -> Model:
    model = spec.factory(config)
    _require(label, isinstance(model, Model), f"factory returned {type(model).__name__}, not a rnnbench.Model")
    return model


# -- tasks -------------------------------------------------------------------------------------

def check_task(
    spec: TaskSpec,
    *,
    options: dict[str, Any] | None = None,
    seq_len: int | None = None,
    seed: int = 0,
    batch_size: int = 64,
    batches: int = 8,
    disjoint: bool = True,
    baseline_tolerance: float = 0.1,
) -> CheckReport:
    """Check a task spec against the task contract.

    It checks that the task builds at ``seq_len`` (the spec's default when not
    given) with its options; that every split's batches have the declared shapes,
    dtypes and value ranges and a mask with counted positions; that a batch is a
    pure function of the seed, split and index; that no input sequence appears in
    two splits (over ``batches`` batches each; ``disjoint=False`` skips this for a
    task whose splits are cut by position in a corpus, not by example); that the
    primary metric is among the metrics and baselines; and that each baseline with
    a metric of the same name is what guessing scores: a predictor that ignores the
    input and outputs the training targets' distribution (classes) or mean
    (regression), within ``baseline_tolerance`` (relative, at least 0.02 absolute).
    """
    label = f"check_task({spec.name})"
    report = CheckReport(spec.name)
    _require(label, _validated(spec), "the spec is invalid")
    seq_len = seq_len or spec.defaults.seq_len
    task_options = _task_options(label, spec, options or {}, seq_len)
    task = spec.factory(dict(task_options), seq_len, seed)
    _require(label, isinstance(task, Task), f"factory returned {type(task).__name__}, not a rnnbench.Task")
    try:
        task.shape.validate()
    except ValueError as exc:
        raise ContractError(f"{label}: invalid TaskShape: {exc}") from None
    report.checked.append(f"builds at seq_len={seq_len} with {task_options or '{}'}; shape {task.shape}")

    for split in SPLITS:
        _check_batch(label, task, task.batch(split, 0, batch_size), split, batch_size)
    report.checked.append("batches of every split have the declared shapes, dtypes and ranges")

    twin = spec.factory(dict(task_options), seq_len, seed)
    _check_pure_batches(label, task, twin, seed, batch_size, report)
    rows = {split: _rows(task, split, batches, batch_size) for split in SPLITS}
    if disjoint:
        _check_disjoint_splits(label, rows, batches, batch_size, report)
    else:
        report.skipped.append("split disjointness (disjoint=False)")

    _check_baselines(label, task, batches, batch_size, baseline_tolerance, report)
    return report



def _check_pure_batches(label: str, task: Task, twin: Task, seed: int, B: int, report: CheckReport) -> None:
    """A batch must be a pure function of (seed, split, index): the runner re-reads batches by index and
    compares models on the same ones, so a second call, or a twin task from the same seed, must agree."""
    for split in SPLITS:
        a, b, c = task.batch(split, 1, B), task.batch(split, 1, B), twin.batch(split, 1, B)
        _require(label, _batches_equal(a, b) and _batches_equal(a, c),
                 f"batch({split!r}, 1, {B}) differs between calls or between tasks built from seed {seed};"
                 " a batch must be a pure function of the seed, split and index")
    report.checked.append("batches are a pure function of (seed, split, index)")


def _check_disjoint_splits(label: str, rows: dict[str, set[bytes]], batches: int, B: int, report: CheckReport) -> None:
    """No input sequence may appear in two splits (``rows``: each split's sequences over ``batches`` batches):
    a test score on sequences seen in training would measure memory, not generalisation."""
    for i, first in enumerate(SPLITS):
        for second in SPLITS[i + 1:]:
            shared = rows[first] & rows[second]
            _require(label, not shared,
                     f"{len(shared)} input sequence(s) appear in both {first} and {second} (over {batches}"
                     f" batches of {B}); splits must be disjoint (rnnbench.task_api.sample_split)")
    report.checked.append(f"splits disjoint over {batches} batches of {B} each")

def _check_batch(label: str, task: Task, batch: Batch, split: str, B: int) -> None:
    shape, T = task.shape, task.shape.seq_len
    where = f"batch({split!r}, 0, {B})"
    _require(label, isinstance(batch, Batch), f"{where} returned {type(batch).__name__}, not a rnnbench.Batch")
    if shape.input_kind == "tokens":
        _require(label, batch.inputs.shape == (B, T) and batch.inputs.dtype == np.int64,
                 f"{where}: inputs must be int64 [{B}, {T}], got {batch.inputs.dtype} {batch.inputs.shape}")
        _require(label, batch.inputs.min() >= 0 and batch.inputs.max() < shape.input_size,
                 f"{where}: token ids must lie in [0, {shape.input_size}), got {batch.inputs.min()}..{batch.inputs.max()}")
    else:
        want = (B, T, shape.input_size)
        _require(label, batch.inputs.shape == want and batch.inputs.dtype == np.float32,
                 f"{where}: inputs must be float32 {list(want)}, got {batch.inputs.dtype} {batch.inputs.shape}")
    if shape.output_kind == "classes":
        _require(label, batch.targets.shape == (B, T) and batch.targets.dtype == np.int64,
                 f"{where}: targets must be int64 [{B}, {T}], got {batch.targets.dtype} {batch.targets.shape}")
        _require(label, batch.targets.min() >= 0 and batch.targets.max() < shape.output_size,
                 f"{where}: class ids must lie in [0, {shape.output_size}), got"
                 f" {batch.targets.min()}..{batch.targets.max()}")
    else:
        want = (B, T, shape.output_size)
        _require(label, batch.targets.shape == want and batch.targets.dtype == np.float32,
                 f"{where}: targets must be float32 {list(want)}, got {batch.targets.dtype} {batch.targets.shape}")
    _require(label, batch.mask.shape == (B, T) and batch.mask.dtype == np.float32,
             f"{where}: mask must be float32 [{B}, {T}], got {batch.mask.dtype} {batch.mask.shape}")
    # finite held-out sets (Task.test_batches) pad their last batch with examples that count nowhere
    padded = split != "train" and task.test_batches(B) is not None
    counted = (batch.mask > 0).any(axis=1)
    _require(label, bool(np.isin(batch.mask, (0.0, 1.0)).all()) and (counted.any() if padded else counted.all()),
             f"{where}: mask must be 0/1 with at least one counted position per example")


def _check_baselines(label: str, task: Task, batches: int, B: int, tolerance: float, report: CheckReport) -> None:
    shape = task.shape
    train = [task.batch("train", i, B) for i in range(batches)]
    if shape.output_kind == "classes":
        counts = np.zeros(shape.output_size)
        for batch in train:
            counts += np.bincount(batch.targets[batch.mask > 0], minlength=shape.output_size)
        guess = np.log((counts + 1) / (counts.sum() + shape.output_size))  # add-one smoothed
        how = "the training targets' class frequencies"
    else:
        picked = np.concatenate([batch.targets[batch.mask > 0] for batch in train])
        guess = picked.mean(axis=0)
        how = "the training targets' mean"
    totals: dict[str, float] = {}
    whole = task.test_batches(B)  # a finite test set is scored whole, each batch by its counted positions
    test = [task.batch("test", i, B) for i in range(batches if whole is None else whole)]
    weight = 0.0
    for batch in test:
        outputs = np.broadcast_to(guess, (*batch.mask.shape, shape.output_size)).astype(np.float32)
        counted = 1.0 if whole is None else float((batch.mask > 0).sum())
        weight += counted
        for key, value in task.metrics(outputs, batch).items():
            _require(label, np.isfinite(float(value)), f"metrics() returned a non-finite {key}: {value!r}")
            totals[key] = totals.get(key, 0.0) + counted * float(value)
    guessed = {key: total / weight for key, total in totals.items()}
    try:
        declared = task.baselines()
        baselines = baseline_entries(declared)
        by_metric = baselines_by_metric(declared)
    except (TypeError, ValueError) as exc:
        raise ContractError(f"{label}: baselines() must map metric names to numbers, rnnbench.Baseline or a list"
                            f" of them: {exc}") from None
    _require(label, task.primary_metric in guessed,
             f"primary_metric {task.primary_metric!r} is not a key of metrics() ({', '.join(guessed)})")
    _require(label, task.primary_metric in baselines,
             f"primary_metric {task.primary_metric!r} has no baseline (baselines: {', '.join(baselines) or 'none'})")
    compared, predictors = [], []
    for metric in sorted(by_metric):
        for index, baseline in enumerate(by_metric[metric]):
            key = stored_name(metric, baseline, index == 0)
            _require(label, np.isfinite(baseline.value), f"baseline {key} is not finite: {baseline.value!r}")
            if not baseline.guessable:  # a real predictor (persistence, 1-NN): taken as declared, named by its kind
                predictors.append(f"{key}={baseline.value:.3g} ({baseline.label})")
                continue
            if metric not in guessed:
                continue
            expected, got = baseline.value, guessed[metric]
            _require(label, abs(got - expected) <= max(0.02, tolerance * abs(expected)),
                     f"baseline {key}={expected:.4g} ({baseline.label}), but guessing ({how}, ignoring the input)"
                     f" scores {got:.4g} on the test split; a baseline of kind {baseline.kind!r} ignores the input"
                     f" and must be what guessing gets. A rule that reads the input is declared with a kind that"
                     f" says so: one of {', '.join(repr(k) for k in PREDICTOR_KINDS)}, e.g."
                     f" rnnbench.Baseline({expected:.4g}, 'predictor', 'what it predicts') (docs/plugins.md)")
            compared.append(f"{key}={expected:.3g} (guess {got:.3g})")
    report.checked.append(f"baselines are what guessing scores: {', '.join(compared) or 'none of that kind'}")
    if predictors:
        report.checked.append(f"baselines of a predictor, taken as declared: {', '.join(predictors)}")


def _task_options(label: str, spec: TaskSpec, given: dict[str, Any], seq_len: int) -> dict[str, Any]:
    """The options a case would run with, converted and checked by the code ``--task-opt`` goes through."""
    try:
        options = {**spec.options, **{key: convert_option(spec, key, value) for key, value in given.items()}}
        check_task_options(spec, options, [seq_len])
    except UsageError as exc:
        raise ContractError(f"{label}: {exc}") from None
    return options


def _rows(task: Task, split: str, batches: int, B: int) -> set[bytes]:
    return {row.tobytes() for i in range(batches) for row in np.ascontiguousarray(task.batch(split, i, B).inputs)}


def _batches_equal(a: Batch, b: Batch) -> bool:
    return all(np.array_equal(x, y) for x, y in ((a.inputs, b.inputs), (a.targets, b.targets), (a.mask, b.mask)))


# -- shared ------------------------------------------------------------------------------------

def _require(label: str, condition: Any, message: str) -> None:
    if not condition:
        raise ContractError(f"{label}: {message}")


def _validated(spec: ModelSpec | TaskSpec) -> bool:
    try:
        spec.validate()
    except ValueError as exc:
        raise ContractError(f"{type(spec).__name__} {getattr(spec, 'name', '?')}: {exc}") from None
    return True


def _unavailable(label: str, reason: str) -> None:
    """Skip under pytest (the model cannot run on this machine), fail elsewhere."""
    message = f"{label}: not available here: {reason}"
    pytest = sys.modules.get("pytest")
    if pytest is not None:
        pytest.skip(message)
    raise ContractError(message)


def _numpy(x: Any) -> np.ndarray:
    if hasattr(x, "detach"):  # a torch tensor, wherever it lives; NumPy has no bfloat16
        x = x.detach().cpu().float() if str(x.dtype) in ("torch.bfloat16", "torch.float16") else x.detach().cpu()
        x = x.numpy()
    x = np.asarray(x)
    # a complex state (S4D's, LRU's) stays complex: casting it to float would drop its imaginary part
    return x.astype(np.complex128 if np.iscomplexobj(x) else np.float64)


def _snapshot(state: Any) -> list[np.ndarray]:
    """Copies of every array in a (nested) state, to see whether step() wrote into it."""
    if state is None:
        return []
    if isinstance(state, dict):
        return [a for key in sorted(state, key=str) for a in _snapshot(state[key])]
    if isinstance(state, (list, tuple)):
        return [a for item in state for a in _snapshot(item)]
    if hasattr(state, "detach") or isinstance(state, np.ndarray):
        return [_numpy(state).copy()]
    return [np.asarray(state, dtype=object)] if np.isscalar(state) else []


def _same(a: Sequence[np.ndarray], b: Sequence[np.ndarray]) -> bool:
    return len(a) == len(b) and all(x.shape == y.shape and np.array_equal(x, y) for x, y in zip(a, b))


def _close(a: float, b: float) -> bool:
    return abs(a - b) <= 1e-6 * max(abs(a), abs(b))
