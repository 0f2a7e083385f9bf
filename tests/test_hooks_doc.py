"""docs/hooks.md is generated from rnnbench/hookspecs.py and must not go stale."""

import importlib.util
import inspect
from pathlib import Path

import pytest

GENERATOR = Path(__file__).parents[1] / "docs" / "gen_hooks.py"


@pytest.fixture(scope="module")
def gen():
    spec = importlib.util.spec_from_file_location("gen_hooks", GENERATOR)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_hooks_md_matches_the_hookspecs(gen):
    assert gen.TARGET.read_text() == gen.render(), "docs/hooks.md is stale: run python docs/gen_hooks.py"


def test_every_hook_documents_when_it_is_called_what_it_returns_and_an_example(gen):
    import rnnbench.hookspecs as hookspecs

    names = {name for name in dir(hookspecs) if name.startswith("rnnbench_")}
    documented = gen.hookspecs()
    assert {f.__name__ for f in documented} == names
    for function in documented:
        _, fields, params, example = gen.split_docstring(function.__doc__ or "")
        where = function.__name__
        assert fields.get("called") and fields.get("returns"), f"{where}: needs :called: and :returns:"
        assert set(params) == set(inspect.signature(function).parameters), f"{where}: every :param: documented"
        assert f"def {where}(" in example, f"{where}: needs an Example:: implementing the hook"
        compile(example, where, "exec")  # the example is valid Python


def test_check_mode_reports_a_stale_file(gen, tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(gen, "TARGET", tmp_path / "hooks.md")
    (tmp_path / "hooks.md").write_text("old\n")
    assert gen.main(["--check"]) == 1
    assert "stale" in capsys.readouterr().err
    assert gen.main([]) == 0 and gen.main(["--check"]) == 0
