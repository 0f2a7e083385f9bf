"""Plugin discovery: entry points, -p modules, and plugins that misbehave."""

import pytest

from rnnbench.errors import UsageError
from rnnbench.manager import load_registry


def test_builtins_are_found_through_the_entry_point_group(registry):
    assert {"rnn@torch", "lstm@torch", "gru@torch", "transformer@torch"} <= set(registry.models)
    assert "copy" in registry.tasks
    assert "local" in registry.executors
    assert registry.owners["lstm@torch"] == "torch"
    assert not registry.problems


def test_without_entry_points_nothing_is_registered():
    registry = load_registry(entry_points=False)
    assert registry.models == {} and registry.tasks == {}


def test_dash_p_loads_a_module_by_import_path():
    registry = load_registry(["testplugins.tiny"], entry_points=False)
    assert list(registry.models) == ["tiny@test"]
    assert registry.plugin_modules == ("testplugins.tiny",)


def test_a_module_given_twice_is_loaded_once():
    registry = load_registry(["testplugins.tiny", "testplugins.tiny"], entry_points=False)
    assert list(registry.models) == ["tiny@test"] and not registry.problems


def test_a_plugin_that_fails_to_import_is_named_and_the_rest_load():
    registry = load_registry(["testplugins.does_not_exist", "testplugins.tiny"])
    assert "tiny@test" in registry.models and "lstm@torch" in registry.models
    [problem] = registry.problems
    assert problem.plugin == "testplugins.does_not_exist"
    assert "failed to import" in str(problem) and "testplugins.does_not_exist" in str(problem)


def test_a_hook_that_raises_is_named_and_the_rest_load():
    registry = load_registry(["testplugins.raising_hook", "testplugins.tiny"])
    assert "tiny@test" in registry.models and "lstm@torch" in registry.models
    [problem] = registry.problems
    assert "testplugins.raising_hook" in str(problem) and "registration exploded" in str(problem)


def test_invalid_and_duplicate_specs_are_rejected_by_name_and_valid_ones_kept():
    registry = load_registry(["testplugins.invalid_specs"])
    messages = [str(p) for p in registry.problems]
    assert any("family must be one of" in m for m in messages)
    assert any("duplicate name 'lstm@torch'" in m and "torch" in m for m in messages)
    assert all("testplugins.invalid_specs" in m for m in messages)
    assert "fine@test" in registry.models
    assert registry.owners["lstm@torch"] == "torch"  # the first registration wins


def test_a_misspelled_hook_is_reported_with_the_right_name():
    registry = load_registry(["testplugins.misspelled_hook"], entry_points=False)
    [problem] = registry.problems
    assert "unknown hook 'rnnbench_register_model'" in str(problem)
    assert "did you mean 'rnnbench_register_models'" in str(problem)


def test_bare_arch_means_the_default_backend(registry):
    assert registry.resolve_model("lstm").name == "lstm@torch"
    assert registry.resolve_model("LSTM@torch").name == "lstm@torch"


def test_unknown_model_suggests_a_close_match(registry):
    with pytest.raises(UsageError) as err:
        registry.resolve_model("lsmt")
    message = str(err.value)
    assert message.startswith("unknown model 'lsmt'; did you mean 'lstm'?")
    assert "lstm@torch" in message and "transformer@torch" in message


def test_unknown_task_and_executor(registry):
    with pytest.raises(UsageError, match="unknown task 'cpy'; did you mean 'copy'"):
        registry.resolve_task("cpy")
    with pytest.raises(UsageError, match="unknown executor 'remote'"):
        registry.resolve_executor("remote")


def test_observer_hook_failures_are_reported_not_raised(registry):
    import rnnbench

    class Observer:
        @rnnbench.hookimpl
        def rnnbench_environment(self, env):
            raise ValueError("cannot observe")

    registry.pm.register(Observer(), name="observer")
    try:
        env = {}
        failures = registry.notify("rnnbench_environment", env=env)
        assert failures == ["plugin 'observer': rnnbench_environment raised ValueError: cannot observe"]
    finally:
        registry.pm.unregister(name="observer")


def test_each_plugin_is_recorded_with_its_distribution_and_version(registry):
    import rnnbench

    source = registry.source_of("lstm@torch")
    assert (source.distribution, source.version, source.via) == ("rnnbench", rnnbench.__version__, "entry point")
    assert registry.plugin_label(source.plugin) == f"plugin '{source.plugin}' (from rnnbench {rnnbench.__version__})"


def test_a_dash_p_module_outside_any_distribution_says_so():
    registry = load_registry(["testplugins.tiny"], entry_points=False)
    source = registry.sources["testplugins.tiny"]
    assert source.distribution is None and source.via == "-p"
    assert source.describe() == "no installed distribution (loaded with -p)"


def test_hooks_run_in_pluggys_order_and_a_failing_one_stops_none(registry):
    """tryfirst first, then the plugin registered last, trylast last; one raising changes nothing for the others."""
    import rnnbench
    from rnnbench.manager import call_order

    calls = []

    def observer(name, fail=False, **options):
        class Observer:
            @rnnbench.hookimpl(**options)
            def rnnbench_environment(self, env):
                calls.append(name)
                if fail:
                    raise RuntimeError("broken observer")
        return Observer()

    plugins = [("last", observer("last", trylast=True)), ("early", observer("early")),
               ("first", observer("first", tryfirst=True)), ("late", observer("late", fail=True))]
    for name, plugin in plugins:
        registry.pm.register(plugin, name=name)
    try:
        failures = registry.notify("rnnbench_environment", env={})
        # pluggy's order (test_call_order_is_the_order_pluggy_itself_calls checks call_order against pluggy)
        expected = [impl.plugin_name for impl in call_order(registry.pm, "rnnbench_environment")
                    if impl.plugin_name in dict(plugins)]
    finally:
        for name, _ in plugins:
            registry.pm.unregister(name=name)
    assert calls == expected and calls[0] == "first" and calls[-1] == "last"
    assert failures == ["plugin 'late': rnnbench_environment raised RuntimeError: broken observer"]


def test_a_hook_wrapper_is_refused_at_load_with_one_line_naming_the_plugin():
    registry = load_registry(["testplugins.wrapper_hook", "testplugins.tiny"], entry_points=False)
    [problem] = registry.problems
    assert "\n" not in str(problem) and str(problem).startswith("plugin 'testplugins.wrapper_hook'")
    assert "rnnbench_case_finished (wrapper=True) is a hook wrapper" in str(problem)
    assert not registry.pm.has_plugin("testplugins.wrapper_hook") and "tiny@test" in registry.models


@pytest.mark.parametrize("options", [
    [{}, {}, {}],
    [{"trylast": True}, {}, {"tryfirst": True}, {}],
    [{"tryfirst": True}, {"tryfirst": True}, {"trylast": True}, {}, {"trylast": True}],
])
def test_call_order_is_the_order_pluggy_itself_calls(options):
    """manager.call_order against a real pluggy call of the same hook: the same implementations, same order."""
    import pluggy

    import rnnbench
    from rnnbench import hookspecs
    from rnnbench.manager import call_order

    pm = pluggy.PluginManager("rnnbench")
    pm.add_hookspecs(hookspecs)
    called = []

    def observer(name, **hook_options):
        class Observer:
            @rnnbench.hookimpl(**hook_options)
            def rnnbench_environment(self, env):
                called.append(name)
        return Observer()

    for index, hook_options in enumerate(options):
        pm.register(observer(f"p{index}", **hook_options), name=f"p{index}")
    pm.hook.rnnbench_environment(env={})  # pluggy's own order
    assert [impl.plugin_name for impl in call_order(pm, "rnnbench_environment")] == called
