"""Plugin discovery: entry points of the ``rnnbench`` group and ``-p module.path``.

Each plugin is loaded and each of its registration hooks is called on its own, so
that a plugin that fails to import, raises in a hook or registers an invalid or
duplicate spec is reported by name while every other plugin still loads.

Hooks are called in pluggy's order (:func:`call_order`): ``tryfirst`` implementations
first, ``trylast`` ones last, and within each group the plugin registered last first.
pluggy itself would stop at the first exception, so each implementation is called on
its own; a hook wrapper (``wrapper=True`` or ``hookwrapper=True``) wraps that single
call chain, which does not exist here, so a plugin that declares one is refused at
load (docs/plugins.md, "Hook options").
"""

from __future__ import annotations

import difflib
import importlib
from dataclasses import dataclass, field
from importlib import metadata
from types import ModuleType
from typing import Any, Callable, Sequence

import pluggy

from rnnbench import hookspecs
from rnnbench.errors import PluginError, UsageError
from rnnbench.specs import ExecutorSpec, ModelSpec, TaskSpec
from rnnbench.study_api import StudySpec

ENTRY_POINT_GROUP = "rnnbench"


#: how a LoadProblem's message starts when the plugin's module could not be imported at all
IMPORT_FAILED = "failed to import"


@dataclass
class LoadProblem:
    """A plugin that could not be (fully) loaded, and why."""

    plugin: str
    message: str
    distribution: str | None = None

    def __str__(self) -> str:
        return str(PluginError(self.plugin, self.message, self.distribution))


@dataclass(frozen=True)
class PluginSource:
    """Where a loaded plugin came from: the distribution (and version) that provides it."""

    plugin: str  # the entry-point name, or the module path given with -p
    module: str
    distribution: str | None  # None: not part of an installed distribution
    version: str | None
    via: str  # "entry point" or "-p"

    def describe(self) -> str:
        """``rnnbench-mymodel 0.1.0``, or why there is no distribution."""
        if self.distribution is None:
            return "no installed distribution (loaded with -p)"
        return f"{self.distribution} {self.version}" if self.version else self.distribution

    def to_dict(self) -> dict[str, Any]:
        return {"module": self.module, "distribution": self.distribution, "version": self.version, "via": self.via}


@dataclass
class Registry:
    """Everything the installed and requested plugins registered."""

    pm: pluggy.PluginManager
    models: dict[str, ModelSpec] = field(default_factory=dict)
    tasks: dict[str, TaskSpec] = field(default_factory=dict)
    executors: dict[str, ExecutorSpec] = field(default_factory=dict)
    studies: dict[str, StudySpec] = field(default_factory=dict)
    #: which plugin registered each model/task/executor name
    owners: dict[str, str] = field(default_factory=dict)
    problems: list[LoadProblem] = field(default_factory=list)
    #: modules given with ``-p``; workers in other processes load them too
    plugin_modules: tuple[str, ...] = ()
    #: every plugin that loaded, by name, with its distribution and version
    sources: dict[str, PluginSource] = field(default_factory=dict)

    def source_of(self, name: str) -> PluginSource | None:
        """The source of the plugin that registered model/task/executor ``name``."""
        owner = self.owners.get(name)
        return self.sources.get(owner) if owner is not None else None

    def plugin_versions(self) -> dict[str, dict[str, Any]]:
        """Every loaded plugin's module, distribution and version, for env.json."""
        return {name: source.to_dict() for name, source in sorted(self.sources.items())}

    def plugin_label(self, plugin: str) -> str:
        """``plugin 'NAME' (from DIST VERSION)``: how warnings name a plugin."""
        source = self.sources.get(plugin)
        dist = source.describe() if source is not None and source.distribution else None
        return str(PluginError(plugin, "", dist)).rstrip(": ")

    # -- name resolution -----------------------------------------------------------
    def default_backend(self, arch: str) -> ModelSpec | None:
        candidates = [s for s in self.models.values() if s.arch == arch]
        for spec in candidates:
            if spec.default_for_arch:
                return spec
        return candidates[0] if len(candidates) == 1 else None

    def resolve_model(self, name: str) -> ModelSpec:
        """``ARCH@BACKEND`` or a bare ``ARCH`` (its default backend) to a spec."""
        name = name.strip().lower()
        if name in self.models:
            return self.models[name]
        if "@" not in name:
            spec = self.default_backend(name)
            if spec is not None:
                return spec
        known = sorted(self.models) + sorted({s.arch for s in self.models.values()})
        raise UsageError(_unknown("model", name, known, sorted(self.models)))

    def resolve_task(self, name: str) -> TaskSpec:
        name = name.strip().lower()
        if name in self.tasks:
            return self.tasks[name]
        raise UsageError(_unknown("task", name, sorted(self.tasks), sorted(self.tasks)))

    def resolve_executor(self, name: str) -> ExecutorSpec:
        name = name.strip().lower()
        if name in self.executors:
            return self.executors[name]
        raise UsageError(_unknown("executor", name, sorted(self.executors), sorted(self.executors)))

    def resolve_study(self, name: str) -> StudySpec:
        name = name.strip().lower()
        if name in self.studies:
            return self.studies[name]
        raise UsageError(_unknown("study", name, sorted(self.studies), sorted(self.studies)))

    # -- observer hooks ----------------------------------------------------------------
    def notify(self, hook_name: str, **kwargs: Any) -> list[str]:
        """Call an observer hook on every plugin, in pluggy's order; a plugin that raises is reported, not fatal."""
        failures = []
        for impl in getattr(self.pm.hook, hook_name).get_hookimpls():
            if _is_wrapper(impl):  # registered around load_registry, which refuses them
                failures.append(f"{self.plugin_label(impl.plugin_name)}: {hook_name} is a hook wrapper, which"
                                " rnnbench does not run")
        for impl in call_order(self.pm, hook_name):
            try:
                impl.function(**{k: kwargs[k] for k in impl.argnames})
            except Exception as exc:
                failures.append(f"{self.plugin_label(impl.plugin_name)}: {hook_name} raised {type(exc).__name__}: {exc}")
        return failures


def _is_wrapper(impl: pluggy.HookImpl) -> bool:
    return bool(impl.hookwrapper or getattr(impl, "wrapper", False))


def call_order(pm: pluggy.PluginManager, hook_name: str) -> list[pluggy.HookImpl]:
    """The implementations of ``hook_name`` in the order pluggy calls them, wrappers left out.

    pluggy keeps ``get_hookimpls()`` sorted trylast, plain, tryfirst (registration order
    within each) and its caller walks that list from the end, so the reversed list is the
    call order: tryfirst first, the last registered first, trylast last.
    """
    return [impl for impl in reversed(getattr(pm.hook, hook_name).get_hookimpls()) if not _is_wrapper(impl)]


def _wrappers(pm: pluggy.PluginManager, plugin: object) -> list[str]:
    """``rnnbench_case_finished (wrapper=True)`` for each hook wrapper ``plugin`` implements."""
    found = []
    for caller in pm.get_hookcallers(plugin) or []:
        for impl in caller.get_hookimpls():
            if impl.plugin is plugin and _is_wrapper(impl):
                found.append(f"{caller.name} ({'hookwrapper' if impl.hookwrapper else 'wrapper'}=True)")
    return found


def _unknown(kind: str, name: str, candidates: list[str], listed: list[str]) -> str:
    close = difflib.get_close_matches(name, candidates, n=1, cutoff=0.6)
    hint = f"; did you mean '{close[0]}'?" if close else ""
    available = ", ".join(listed) if listed else "none installed"
    return f"unknown {kind} '{name}'{hint} (available: {available})"


def _entry_point_source(ep: metadata.EntryPoint) -> PluginSource:
    dist = getattr(ep, "dist", None)
    return PluginSource(ep.name, ep.value.split(":", 1)[0], dist.name if dist else None,
                        dist.version if dist else None, "entry point")


def _module_source(path: str) -> PluginSource:
    """A ``-p`` module's distribution, if an installed one provides its top-level package."""
    top = path.split(".", 1)[0]
    try:
        names = metadata.packages_distributions().get(top, [])
    except Exception:  # a broken installation's metadata must not stop plugin loading
        names = []
    if len(names) == 1:
        try:
            return PluginSource(path, path, names[0], metadata.version(names[0]), "-p")
        except metadata.PackageNotFoundError:
            pass
    return PluginSource(path, path, None, None, "-p")


def _import_module(path: str) -> ModuleType:
    return importlib.import_module(path)


def load_registry(plugin_modules: Sequence[str] = (), *, entry_points: bool = True) -> Registry:
    """Load every plugin and collect what they register.

    :param plugin_modules: module paths given with ``-p``; loaded after entry points.
    :param entry_points: load the ``rnnbench`` entry-point group (tests may turn it off).
    """
    pm = pluggy.PluginManager(hookspecs.PROJECT_NAME)
    pm.add_hookspecs(hookspecs)
    registry = Registry(pm=pm, plugin_modules=tuple(plugin_modules))
    distributions: dict[str, str | None] = {}

    def add(name: str, load: Callable[[], Any], source: PluginSource) -> None:
        dist = source.describe() if source.distribution else None
        try:
            module = load()
        except Exception as exc:
            registry.problems.append(LoadProblem(name, f"{IMPORT_FAILED}: {type(exc).__name__}: {exc}", dist))
            return
        if pm.is_registered(module):
            return  # the same module through two routes (entry point and -p)
        try:
            pm.register(module, name=name)
        except Exception as exc:  # pluggy validates hook signatures here
            registry.problems.append(LoadProblem(name, f"invalid plugin: {exc}", dist))
            return
        wrappers = _wrappers(pm, module)
        if wrappers:
            pm.unregister(module)
            registry.problems.append(LoadProblem(
                name, f"not loaded: {', '.join(wrappers)} is a hook wrapper; rnnbench calls each implementation"
                      " on its own, so one failing plugin cannot stop the others, and runs no wrappers"
                      " (use a plain, tryfirst or trylast implementation)", dist))
            return
        unknown = [
            attr for attr in dir(module)
            if attr.startswith("rnnbench_") and callable(getattr(module, attr))
            and not hasattr(hookspecs, attr)
        ]
        for attr in unknown:
            close = difflib.get_close_matches(attr, [h for h in dir(hookspecs) if h.startswith("rnnbench_")], 1)
            hint = f"; did you mean '{close[0]}'?" if close else ""
            registry.problems.append(LoadProblem(name, f"defines unknown hook '{attr}'{hint}", dist))
        distributions[name] = dist
        registry.sources[name] = source

    if entry_points:
        for ep in sorted(metadata.entry_points(group=ENTRY_POINT_GROUP), key=lambda e: e.name):
            if pm.has_plugin(ep.name):
                continue  # one distribution installed twice (e.g. editable + regular)
            add(ep.name, ep.load, _entry_point_source(ep))
    for path in plugin_modules:
        add(path, lambda path=path: _import_module(path), _module_source(path))

    _collect(registry, "rnnbench_register_models", registry.models, ModelSpec, lambda s: s.name, distributions)
    _collect(registry, "rnnbench_register_tasks", registry.tasks, TaskSpec, lambda s: s.name, distributions)
    _collect(registry, "rnnbench_register_executors", registry.executors, ExecutorSpec, lambda s: s.name, distributions)
    _collect(registry, "rnnbench_register_studies", registry.studies, StudySpec, lambda s: s.name, distributions)
    return registry


def _collect(
    registry: Registry,
    hook_name: str,
    into: dict[str, Any],
    spec_type: type,
    key: Callable[[Any], str],
    distributions: dict[str, str | None],
) -> None:
    # Call each implementation separately, in pluggy's order: pluggy would stop at the first exception.
    # A name registered twice goes to the plugin loaded first (entry points by name, then -p in the
    # order given), whatever the call order: installing a plugin must not take over a name.
    calls: list[tuple[str, list[Any]]] = []
    for impl in call_order(registry.pm, hook_name):
        plugin = impl.plugin_name
        staged: list[Any] = []

        def register(spec: Any, _staged: list[Any] = staged) -> None:
            _staged.append(spec)

        try:
            impl.function(register=register)
        except Exception as exc:
            registry.problems.append(
                LoadProblem(plugin, f"{hook_name} raised {type(exc).__name__}: {exc}", distributions.get(plugin))
            )
            continue
        calls.append((plugin, staged))
    load_order = list(distributions)
    calls.sort(key=lambda call: load_order.index(call[0]) if call[0] in load_order else len(load_order))
    for plugin, staged in calls:
        dist = distributions.get(plugin)
        for spec in staged:
            if not isinstance(spec, spec_type):
                registry.problems.append(
                    LoadProblem(plugin, f"{hook_name} registered a {type(spec).__name__}, expected {spec_type.__name__}", dist)
                )
                continue
            try:
                spec.validate()
            except Exception as exc:
                registry.problems.append(LoadProblem(plugin, f"invalid {spec_type.__name__}: {exc}", dist))
                continue
            name = key(spec)
            if name in into:
                registry.problems.append(
                    LoadProblem(plugin, f"duplicate name '{name}' (already registered by plugin '{registry.owners[name]}'); ignored", dist)
                )
                continue
            into[name] = spec
            registry.owners[name] = plugin
