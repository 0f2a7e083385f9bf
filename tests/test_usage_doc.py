"""docs/usage.md's option reference is generated from ``rnnbench run``'s options, and the defaults the
README and docs/ state are the ones ``--help`` prints."""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path

import pytest

from rnnbench.request.options import OPTIONS, default_text

ROOT = Path(__file__).parents[1]
GENERATOR = ROOT / "docs" / "gen_usage.py"
#: "`--threads N` (default: ...": a run flag, then the default the text states for it
STATED_DEFAULT = re.compile(r"`(--[a-z][-a-z]*)[^`]*`\s*\(default:\s*([^;)]*)")
BY_FLAG = {option.cli_flag: option for option in OPTIONS}


@pytest.fixture(scope="module")
def gen():
    spec = importlib.util.spec_from_file_location("gen_usage", GENERATOR)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_usage_md_reference_matches_the_options(gen):
    assert gen.render() == gen.TARGET.read_text(encoding="utf-8"), \
        "docs/usage.md's option reference is stale: run python docs/gen_usage.py"


def test_every_run_option_is_in_the_reference(gen):
    reference = gen.render_reference()
    missing = [o.cli_flag for o in OPTIONS if f"| `{o.cli_flag}" not in reference]
    assert not missing


def test_the_reference_states_the_defaults_help_prints(gen):
    help_text = " ".join(gen.run_parser().format_help().split())
    for option in OPTIONS:
        if not option.accumulates and option.key != "match_params":
            assert f"(default: {default_text(option.key)})" in help_text, option.key


def _stated_defaults() -> list[tuple[str, str, str]]:
    found = []
    for path in [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]:
        text = " ".join(path.read_text(encoding="utf-8").split())  # a default may be wrapped over lines
        found += [(path.name, flag, stated.strip()) for flag, stated in STATED_DEFAULT.findall(text)
                  if flag in BY_FLAG]
    return found


def test_the_defaults_stated_in_the_readme_and_docs_match_help():
    stated = _stated_defaults()
    assert any(name == "README.md" and flag == "--threads" for name, flag, _ in stated)
    wrong = [(name, flag, text) for name, flag, text in stated
             if not text.startswith(default_text(BY_FLAG[flag].key))]
    assert not wrong, f"(file, flag, stated default) that differ from --help's: {wrong}"


def test_no_doc_says_threads_default_to_all_cores():
    """Without --threads each case takes one thread per CPU other processes leave free (issue 40)."""
    for path in [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]:
        text = " ".join(path.read_text(encoding="utf-8").split())
        assert "default: all cores" not in text and "the default is all cores" not in text, path.name
