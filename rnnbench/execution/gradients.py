"""The gradient-flow probe: ‖∂ℓ/∂h_t‖ against the distance from the loss, and its decay per step.

This is the measurement behind "vanilla RNNs suffer vanishing gradients" (Bengio,
Simard & Frasconi 1994; Pascanu, Mikolov & Bengio 2013): the loss at step T
reaches the state at step t through the product of T - t Jacobians ∂h_k/∂h_{k-1},
so its norm shrinks (or grows) roughly geometrically with the distance T - t.

Protocol, chosen so that every model and task is probed the same way:

* The loss ℓ is each example's loss at its *last* scored position (the last
  position of its mask): one loss position per example, so the distance of a
  position t from the loss is unambiguous, ``d = last - t``.
* ``h_t`` is what the model carries past position t (see
  :meth:`rnnbench.model_api.Model.state_gradients`); the norm is taken per
  example and averaged over the examples at each distance.
* The decay per step is minus the least-squares slope of ``ln mean‖∂ℓ/∂h_t‖``
  against ``d`` over ``d >= 1`` (``d = 0`` is the head's direct term, not a
  step through the recurrence), with the slope's standard error from
  scipy.stats.linregress. Positive means vanishing, negative exploding. The
  standard error assumes independent residuals; neighbouring distances share
  most of their Jacobian product, so it understates the uncertainty, and seeds
  are the honest spread.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from rnnbench.model_api import Batch, Model
from rnnbench.records import CaseResult, Metric, Series, TrainingNotes
from rnnbench.task_api import Task

#: distances below this are left out of the fit (0 is the head's direct gradient)
MIN_FIT_DISTANCE = 1
#: a fit needs this many distances for a standard error that means anything
MIN_FIT_POINTS = 3

LOSS_POSITION_RULE = "loss at each example's last scored position; distance d = that position - t"
FIT_RULE = ("decay per step = -slope of least squares ln(mean over examples of ||dl/dh_t||) on d,"
            f" d >= {MIN_FIT_DISTANCE}, zero norms left out (scipy.stats.linregress; se = the slope's"
            " standard error)")


@dataclass(frozen=True)
class GradientProfile:
    """Mean per-example ‖∂ℓ/∂h_t‖ at each distance ``d = last - t`` (0, 1, 2, …)."""

    distance: np.ndarray  # int, ascending from 0
    norm: np.ndarray  # float64
    examples: np.ndarray  # how many examples reach each distance


@dataclass(frozen=True)
class DecayFit:
    """The fitted decay per step; ``decay_per_step`` is None (with the reason) when no fit is possible."""

    decay_per_step: float | None
    stderr: float | None
    points: int
    reason: str = ""


def last_positions(mask: np.ndarray) -> np.ndarray:
    """Each row's last position with a non-zero mask, -1 for a row without any."""
    scored = np.asarray(mask) > 0
    length = scored.shape[1]
    last = length - 1 - np.argmax(scored[:, ::-1], axis=1)
    return np.where(scored.any(axis=1), last, -1)


def last_position_batch(batch: Batch) -> tuple[Batch, np.ndarray]:
    """The batch restricted to examples with a scored position, the mask kept only at the last one."""
    last = last_positions(batch.mask)
    keep = last >= 0
    if not keep.any():
        raise ValueError("the batch has no scored position to take the loss at")
    last = last[keep]
    mask = np.zeros((int(keep.sum()), batch.mask.shape[1]), dtype=np.float32)
    mask[np.arange(len(last)), last] = 1.0
    return Batch(batch.inputs[keep], batch.targets[keep], mask), last


def profile_of(norms: np.ndarray, last: np.ndarray) -> GradientProfile:
    """Average ``norms[b, t]`` over examples by the distance ``last[b] - t`` (t <= last[b])."""
    norms = np.asarray(norms, dtype=np.float64)
    batch, _ = norms.shape
    span = int(last.max()) + 1
    totals = np.zeros(span)
    counts = np.zeros(span, dtype=np.int64)
    for b in range(batch):
        # positions last[b], last[b]-1, ..., 0 sit at distances 0, 1, ..., last[b]
        along = norms[b, : last[b] + 1][::-1]
        totals[: len(along)] += along
        counts[: len(along)] += 1
    return GradientProfile(np.arange(span), totals / counts, counts)


def fit_decay(profile: GradientProfile) -> DecayFit:
    """Minus the slope of ln(norm) against distance, over d >= 1 with a positive, finite norm."""
    from scipy.stats import linregress

    usable = (profile.distance >= MIN_FIT_DISTANCE) & np.isfinite(profile.norm) & (profile.norm > 0)
    points = int(usable.sum())
    if points < MIN_FIT_POINTS:
        beyond = profile.distance >= MIN_FIT_DISTANCE
        if beyond.any() and np.all(profile.norm[beyond] == 0):
            reason = "no gradient reaches any earlier position (exactly zero at every distance >= 1)"
        else:
            reason = f"only {points} distance(s) with a positive norm; a fit needs {MIN_FIT_POINTS}"
        return DecayFit(None, None, points, reason)
    fit = linregress(profile.distance[usable].astype(np.float64), np.log(profile.norm[usable]))
    stderr = float(fit.stderr) if math.isfinite(fit.stderr) else None
    return DecayFit(-float(fit.slope), stderr, points)


def probe(model: Model, batch: Batch) -> tuple[GradientProfile, DecayFit]:
    """Probe ``model`` on ``batch``: the profile of ‖∂ℓ/∂h_t‖ by distance and its fitted decay.

    Raises NotImplementedError (with the model's reason) when the model cannot
    expose its per-position states.
    """
    probed, last = last_position_batch(batch)
    norms = np.asarray(model.state_gradients(model.to_device(probed)), dtype=np.float64)
    if norms.shape != probed.mask.shape:
        raise ValueError(f"state_gradients returned shape {norms.shape}, expected {probed.mask.shape}")
    # The model differentiates its masked mean, (1/n)·Σ_b ℓ_b over the n examples; times n
    # it is each example's own ∂ℓ_b/∂h_t (examples do not interact).
    norms = norms * len(last)
    profile = profile_of(norms, last)
    return profile, fit_decay(profile)


# -- the ``gradients`` scenario: probe at initialisation and after training, record both ------------

@dataclass(frozen=True)
class ProbeOutcome:
    """One probe of a case's model: the profile and its fit, or why the model cannot be probed."""

    profile: GradientProfile | None = None
    fit: DecayFit | None = None
    unsupported: str = ""


def take(model: Model, task: Task, batch_size: int) -> ProbeOutcome:
    """Probe the model as it is now on the first test batch (the same batch at every stage)."""
    try:
        profile, fit = probe(model, task.batch("test", 0, batch_size))
    except NotImplementedError as exc:
        return ProbeOutcome(unsupported=str(exc) or f"{type(model).__name__} cannot be probed")
    return ProbeOutcome(profile, fit)


def record(result: CaseResult, init: ProbeOutcome, trained: ProbeOutcome | None) -> None:
    """Store the probes as Series("gradients", "grad_norm_<stage>") and the fits as metrics."""
    if init.unsupported:
        TrainingNotes(gradients_unsupported=init.unsupported).store(result.details)
        return
    facts = {"loss_position": LOSS_POSITION_RULE, "fit": FIT_RULE, "batch": "test split, batch 0",
             "state": "what the model carries past position t (Model.state_gradients)"}
    if trained is None:
        facts["trained"] = "not probed: the train scenario did not run in this case"
    TrainingNotes(gradients=facts).store(result.details)
    for stage, outcome in (("init", init), ("trained", trained)):
        if outcome is None or outcome.profile is None or outcome.fit is None:
            continue
        profile, fit = outcome.profile, outcome.fit
        when = "at initialisation" if stage == "init" else "after training"
        result.series.append(Series(
            "gradients", f"grad_norm_{stage}", [float(d) for d in profile.distance], [float(v) for v in profile.norm],
            "distance from the loss (steps)", "L2 norm",
            f"mean over examples of ||dl/dh_t|| {when}; {LOSS_POSITION_RULE}"))
        how = f"{FIT_RULE}; {fit.points} distances, {when}"
        if fit.reason:
            how = f"no fit: {fit.reason}"
        result.metrics += [
            Metric("gradients", f"decay_per_step_{stage}", fit.decay_per_step, "1/step", how),
            Metric("gradients", f"decay_per_step_{stage}_se", fit.stderr, "1/step",
                   "standard error of the fitted slope (scipy.stats.linregress)"),
            Metric("gradients", f"fit_points_{stage}", float(fit.points), "count", "distances in the fit"),
        ]
