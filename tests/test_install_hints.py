"""Issue 40: install hints in the form the reader installed rnnbench; --help states choices and defaults."""

from pathlib import Path

import pytest

from rnnbench import extras


def test_a_clone_is_told_pip_install_dash_e(monkeypatch, tmp_path):
    clone = Path(extras.__file__).resolve().parent.parent
    assert extras.source_tree() == clone  # the tests run from a clone
    monkeypatch.chdir(clone)
    assert extras.install_command("plot") == "pip install -e '.[plot]'"
    monkeypatch.chdir(tmp_path)  # elsewhere: the clone's path, so the command still works
    assert extras.install_command("data") == f"pip install -e '{clone}[data]'"
    assert extras.install_hint("data").startswith("install rnnbench[data] (pip install -e ")


def test_an_installed_package_is_told_the_index_form(monkeypatch):
    monkeypatch.setattr(extras, "source_tree", lambda: None)
    assert extras.install_command("plot") == "pip install 'rnnbench[plot]'"
    assert extras.install_hint("dask") == "install rnnbench[dask] (pip install 'rnnbench[dask]')"


@pytest.mark.parametrize("flag, text", [("--dtype", "float32, float64, float16, bfloat16"),
                                        ("--time-budget", "(default: off)"), ("--flops-budget", "(default: off)")])
def test_run_help_lists_choices_and_says_budgets_are_off(cli, flag, text):
    proc = cli("run", "--help")
    help_text = " ".join(proc.stdout.split())
    entry = help_text[help_text.index(f"{flag} ", help_text.index("sweep axes")):]
    assert text in entry[:400]
