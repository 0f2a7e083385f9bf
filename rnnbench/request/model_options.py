"""Model options (``--model-opt ARCH.KEY=VALUE``, ``[model_opt.ARCH]``): resolved per model spec.

A model declares its options in ``ModelSpec.options`` (name -> default; the default's
type is the option's type). The request names them by architecture (``transformer``,
which applies to every requested backend of that arch that declares the key) or by
model (``transformer@torch``). Everything is converted and checked here, before any
case runs, so a typo or an impossible value is one error line, not a failed case per
model.
"""

from __future__ import annotations

import math
from typing import Any, Iterable, Sequence

from rnnbench.errors import OptionError, UsageError
from rnnbench.manager import Registry
from rnnbench.records import CaseConfig
from rnnbench.specs import ModelSpec


def convert_value(kind: str, owner: str, key: str, default: Any, value: Any) -> Any:
    """Convert an option value to the type of its default, or raise an :class:`OptionError`.

    ``kind`` is ``model_opt`` or ``task_opt`` (for the message). A float option refuses NaN and
    infinities: no model is configured by them, and JSON (``export``) cannot store them.
    """
    text = value if isinstance(value, str) else str(value)
    try:
        if isinstance(default, bool):
            lowered = text.lower()
            if lowered not in ("true", "false", "1", "0", "yes", "no"):
                raise ValueError
            return lowered in ("true", "1", "yes")
        converted = type(default)(text)
    except ValueError:
        raise OptionError(kind, owner, key, f"'{text}' is not a valid {type(default).__name__}") from None
    if isinstance(converted, float) and not math.isfinite(converted):
        raise OptionError(kind, owner, key, f"'{text}' is not a finite number")
    return converted


def resolve_model_options(
    requested: dict[str, dict[str, Any]], specs: Sequence[ModelSpec], hiddens: Iterable[int],
) -> dict[str, tuple[tuple[str, Any], ...]]:
    """``{model name: options set away from their defaults}`` for the requested models.

    :param requested: ``{arch or ARCH@BACKEND: {key: value}}`` as the request holds it.
    :param specs: the models of the sweep.
    :param hiddens: every width the sweep builds them at, for ``check_options``.
    """
    set_by_model: dict[str, dict[str, Any]] = {spec.name: {} for spec in specs}
    for owner, options in requested.items():
        matching = [s for s in specs if owner in (s.arch, s.name)]
        if not matching:
            names = ", ".join(s.name for s in specs)
            raise OptionError("model_opt", owner, None, f"not among the models of the sweep ({names})")
        for key, value in options.items():
            declaring = [s for s in matching if key in s.options]
            if not declaring:
                known = "; ".join(f"{s.name}: {', '.join(sorted(s.options)) or 'none'}" for s in matching)
                raise OptionError("model_opt", owner, key, f"unknown option for model '{owner}' (options: {known})")
            for spec in declaring:
                set_by_model[spec.name][key] = convert_value("model_opt", owner, key, spec.options[key], value)
    widths = sorted(set(hiddens))
    resolved: dict[str, tuple[tuple[str, Any], ...]] = {}
    for spec in specs:
        options = {**spec.options, **set_by_model[spec.name]}
        if spec.check_options is not None:
            for hidden in widths:
                try:
                    spec.check_options(options, hidden)
                except ValueError as exc:
                    owners = [o for o in requested if o in (spec.arch, spec.name)]
                    if owners and set_by_model[spec.name]:  # the user's values: name where they were given
                        raise OptionError("model_opt", owners[0], None,
                                          f"model '{spec.name}' at --hidden {hidden}: {exc}") from None
                    raise UsageError(f"model '{spec.name}' at --hidden {hidden}: {exc}") from None
        # Only values that differ from the defaults: a case at the defaults keeps the id it had
        # before the model declared options, and `heads=0` typed out is the same case as omitted.
        resolved[spec.name] = tuple(sorted((k, v) for k, v in options.items() if v != spec.options[k]))
    return resolved


def refuse_untrainable(cases: Iterable[CaseConfig], registry: Registry) -> None:
    """A UsageError when a sweep that trains has a case in a dtype its model cannot train in there.

    Checked before the run starts: such a case would diverge at its first steps (the
    built-in torch models reach a NaN loss at step 1 in float16) and teach nothing.
    """
    refused: dict[tuple[str, str], list[str]] = {}
    for case in cases:
        spec = registry.resolve_model(case.model)
        if not spec.trains_in(case.device, case.dtype):
            dtypes = refused.setdefault((spec.name, case.device), [])
            if case.dtype not in dtypes:
                dtypes.append(case.dtype)
    for (name, device), dtypes in refused.items():
        spec = registry.models[name]
        note = f": {spec.train_dtype_note}" if spec.train_dtype_note else ""
        trains = ", ".join(spec.train_dtypes.get(device, spec.dtypes))
        raise UsageError(f"{name} cannot train in {', '.join(dtypes)} on {device} (it trains in {trains}){note}")
