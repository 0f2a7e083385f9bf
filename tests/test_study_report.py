"""The study report: summary table first, then per claim the quote, setup, figure, verdict, caveats."""

from __future__ import annotations

import io
import re

from rich.console import Console

from rnnbench.analysis.studies import evaluate
from rnnbench.render.study_report import print_claims_table, write_study_report
from rnnbench.study_api import Claim, ClaimOutcome, StudySpec, StudySweep, Verdict
from rnnbench.studies._support import finish, new_figure

from test_study_verdicts import case, study_data


def _figure_claim(data):
    figure, (ax,) = new_figure()
    ax.plot([1, 2, 3], [3, 2, 1], label="lstm")
    fig = finish(figure, "A figure", "What it shows and how it was measured.", data.folder / "c1.png")
    return ClaimOutcome(Verdict("supported", "rnn decay 0.3 > 2 × lstm decay 0.05 in every seed [0.1, 0.2]",
                                ("rnn: 0.3 (seed 0), 0.31 (seed 1)",)),
                        figure=fig, setup=["task copy; width 64; seeds 0, 1"],
                        table=(["model", "value"], [["rnn", "0.3"], ["lstm", "0.05"]]),
                        caveats=["small models"])


def test_report_reads_top_down_and_the_html_stands_alone(tmp_path):
    claims = (
        Claim(key="one", number="1", title="Vanishing gradients", quote="“Vanishing gradients” (Limitations)",
              criterion="Supported when the decay is 2x steeper.", sweeps=("s",), analyze=_figure_claim,
              experiment="A probe."),
        Claim(key="two", number="6a", title="Decode | state", quote="“a hidden state”", criterion="Supported when...",
              sweeps=("s",), analyze=lambda d: ClaimOutcome(Verdict("not supported", "it grows"), notes=["none"])),
    )
    spec = StudySpec(name="demo", description="a demo study", claims=claims,
                     profiles={"quick": (StudySweep("s", {"models": "lstm"}),)}, caveats=("CPU is not GPU",))
    data = study_data(tmp_path, {"s": [case("lstm", 0, {}), case("lstm", 1, {})]})
    results = evaluate(spec, data)
    paths = write_study_report(spec, "quick", results, ["s: run r1"], tmp_path)

    md = paths.markdown.read_text()
    # the summary table comes before the first claim's section
    assert md.index("| 1 | Vanishing gradients | supported |") < md.index("## 1. Vanishing gradients")
    assert "| 6a | Decode \\| state | not supported |" in md
    section = md[md.index("## 1."):md.index("## 6a.")]
    order = ["> “Vanishing gradients”", "**Experiment.**", "**Criterion (stated before the run).**",
             "sweep s: run r1", "![A figure](c1.png)", "**Verdict: supported.**", "| rnn | 0.3 |", "- small models",
             "- CPU is not GPU"]
    positions = [section.index(item) for item in order]
    assert positions == sorted(positions)
    assert "no figure: none" in md

    page = paths.html.read_text()
    assert page.count('src="data:image/png;base64,') == 1
    assert not re.search(r'(src|href)="(http|file|/)', page)
    assert '<span class="supported">Verdict: supported.</span>' in page

    out = io.StringIO()
    print_claims_table(results, Console(file=out, width=200))
    text = out.getvalue()
    assert "Vanishing gradients" in text and "[0.1, 0.2]" in text  # not eaten as rich markup


def _versioned_spec(criterion: str) -> StudySpec:
    claim = Claim(key="one", title="t", quote="“q”", criterion=criterion, sweeps=("s",),
                  analyze=lambda d: ClaimOutcome(Verdict("supported", "fine")))
    return StudySpec(name="demo", description="d", claims=(claim,), profiles={"quick": (StudySweep("s", {}),)})


def test_the_study_version_changes_with_a_criterion_and_a_report_of_other_runs_says_so(tmp_path):
    old, new = _versioned_spec("Supported when x > 2."), _versioned_spec("Supported when x > 3.")
    assert old.version("quick") != new.version("quick")
    assert old.version("quick") == _versioned_spec("Supported when x > 2.").version("quick")

    data = study_data(tmp_path, {"s": [case("lstm", 0, {})]})
    data.sweeps["s"].run.settings["study"] = {"name": "demo", "version": old.version("quick")}
    same = write_study_report(old, "quick", evaluate(old, data), [], tmp_path).markdown.read_text()
    assert f"**Study version.** {old.version('quick')}" in same and "**Warning.**" not in same
    other = write_study_report(new, "quick", evaluate(new, data), [], tmp_path).markdown.read_text()
    assert f"**Warning.** this report is built from runs of another study version (s: {old.version('quick')})" \
        in other
