"""A study's report: report.md and a self-contained report.html, and the terminal's claims table.

The report reads top-down in five minutes: a table of claims and verdicts, then per
claim the sentence it checks, the experiment, the criterion (stated before the run),
the setup (sizes, seeds, machine, threads, load), one figure, the verdict with the
numbers behind it, and caveats. Both files are rendered from one list of blocks so
that they say the same thing.
"""

from __future__ import annotations

import base64
import html
from dataclasses import dataclass, field
from pathlib import Path
from typing import Union

from rnnbench.analysis.studies import ClaimResult
from rnnbench.analysis.verdicts import ALPHA, MIN_SEEDS
from rnnbench.study_api import VERDICTS, StudyFigure, StudySpec

VERDICTS_TEXT = (
    f"each comparison rests on a {100 * (1 - ALPHA):g}% Student t interval across seeds (at least {MIN_SEEDS}) of a"
    " difference. supported: every part of the criterion holds (its interval on the claimed side); not supported:"
    " after Holm's correction across the claim's parts, some part's interval lies on the other side and none on"
    " the claimed side; mixed: parts went both ways (each named); inconclusive: an interval straddles its bound,"
    " too few seeds, or a case failed. Either wrong answer comes out at most 5% of the time under no effect"
    " (docs/studies.md)."
)

STYLE = """
:root { color-scheme: light dark; }
body { font-family: system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; line-height: 1.45;
       margin: 0 auto; padding: 0.75rem; max-width: 72rem; }
h1 { font-size: 1.4rem; } h2 { font-size: 1.2rem; margin-top: 2rem; }
blockquote { margin: 0.5rem 0; padding-left: 0.8rem; border-left: 3px solid #8888; font-style: italic; }
.table-wrap { overflow-x: auto; border: 1px solid #8884; }
table { border-collapse: collapse; font-size: 0.85rem; }
th, td { padding: 0.3rem 0.5rem; text-align: left; border-bottom: 1px solid #8883; vertical-align: top; }
figure { margin: 1rem 0; } figure img { max-width: 100%; height: auto; background: white; }
figcaption { font-size: 0.85rem; opacity: 0.85; }
.supported { color: #1a7f37; font-weight: bold; } .not-supported { color: #cf222e; font-weight: bold; }
.inconclusive { color: #9a6700; font-weight: bold; } .mixed { color: #8250df; font-weight: bold; }
""".strip()


@dataclass
class Heading:
    level: int
    text: str


@dataclass
class Para:
    text: str
    label: str = ""  # a bold lead-in ("Criterion")


@dataclass
class Quote:
    text: str


@dataclass
class Bullets:
    items: list[str]


@dataclass
class Table:
    header: list[str]
    rows: list[list[str]]


@dataclass
class Image:
    figure: StudyFigure


@dataclass
class VerdictLine:
    status: str
    reason: str
    evidence: list[str] = field(default_factory=list)


Block = Union[Heading, Para, Quote, Bullets, Table, Image, VerdictLine]


@dataclass
class StudyReportPaths:
    markdown: Path
    html: Path


def summary_rows(claims: list[ClaimResult]) -> list[list[str]]:
    return [[c.number, c.claim.title, c.verdict.label] for c in claims]


def stale_sweeps(version: str, claims: list[ClaimResult]) -> dict[str, str | None]:
    """The sweeps whose runs were made under another study version (or before versions were recorded)."""
    return {name: v for c in claims for name, v in c.versions.items() if v != version}


def version_warnings(version: str, claims: list[ClaimResult]) -> list[Block]:
    stale = stale_sweeps(version, claims)
    if not stale:
        return []
    said = "; ".join(f"{name}: {v or 'no version recorded'}" for name, v in sorted(stale.items()))
    return [Para(f"this report is built from runs of another study version ({said}), not {version}: the"
                 " criteria, thresholds or sweeps changed after those runs, so their verdicts were not fixed before"
                 " the data. Run the study again with --fresh for verdicts of this version.", label="Warning")]


def blocks(spec: StudySpec, profile: str, claims: list[ClaimResult], sweeps: list[str]) -> list[Block]:
    """The report, as blocks, in reading order."""
    out: list[Block] = [
        Heading(1, f"Study {spec.name} ({profile} profile)"),
        Para(spec.description),
        Para(f"Sentences quoted from {spec.source}." if spec.source else ""),
        Para(f"{spec.version(profile)}: a hash of every claim's quote, criterion (thresholds included) and"
             f" sweeps, and of the {profile} profile's sweeps and flags, fixed before any run; changing any of them"
             " changes it.", label="Study version"),
        *version_warnings(spec.version(profile), claims),
        Table(["#", "claim", "verdict"], summary_rows(claims)),
        Para(VERDICTS_TEXT, label="Verdicts"),
    ]
    for c in claims:
        o = c.outcome
        out += [Heading(2, f"{c.number}. {c.claim.title}"), Quote(c.claim.quote)]
        if c.claim.experiment:
            out.append(Para(c.claim.experiment, label="Experiment"))
        out.append(Para(c.claim.criterion, label="Criterion (stated before the run)"))
        out.append(Bullets([line for line in [*o.setup, *c.runs] if line]))
        if o.figure is not None:
            out.append(Image(o.figure))
        else:
            out.append(Para("no figure: " + ("; ".join(o.notes) or "nothing to draw (see the verdict)")))
        out.append(VerdictLine(o.verdict.status, o.verdict.reason, list(o.verdict.evidence)))
        if o.table is not None:
            out.append(Table(*o.table))
        caveats = [*o.caveats, *spec.caveats]
        if caveats:
            out += [Para("", label="Caveats"), Bullets(caveats)]
    out += [Heading(2, "Runs"), Para("Every sweep is an ordinary run in the results database: 'rnnbench report"
                                     " RUN_ID', 'rnnbench compare' and 'rnnbench run --resume RUN_ID' work on it."),
            Bullets(sweeps)]
    return out


# -- markdown -------------------------------------------------------------------------------

def _md_cell(text: str) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def to_markdown(report: list[Block], folder: Path) -> str:
    lines: list[str] = []
    for b in report:
        if isinstance(b, Heading):
            lines += ["#" * b.level + " " + b.text, ""]
        elif isinstance(b, Para):
            if b.text or b.label:
                lead = f"**{b.label}.** " if b.label else ""
                lines += [lead + b.text, ""]
        elif isinstance(b, Quote):
            lines += ["> " + b.text, ""]
        elif isinstance(b, Bullets):
            lines += [f"- {item}" for item in b.items] + [""]
        elif isinstance(b, Table):
            lines.append("| " + " | ".join(_md_cell(h) for h in b.header) + " |")
            lines.append("|" + "---|" * len(b.header))
            lines += ["| " + " | ".join(_md_cell(c) for c in row) + " |" for row in b.rows]
            lines.append("")
        elif isinstance(b, Image):
            rel = b.figure.path.relative_to(folder) if b.figure.path.is_relative_to(folder) else b.figure.path
            lines += [f"![{b.figure.title}]({rel.as_posix()})", "", f"*{b.figure.caption}*", ""]
        elif isinstance(b, VerdictLine):
            lines += [f"**Verdict: {b.status}.** {b.reason}", ""]
            lines += [f"- {e}" for e in b.evidence] + ([""] if b.evidence else [])
    return "\n".join(lines).rstrip() + "\n"


# -- html -----------------------------------------------------------------------------------

def _data_uri(path: Path) -> str:
    return "data:image/png;base64," + base64.b64encode(Path(path).read_bytes()).decode("ascii")


def to_html(report: list[Block], title: str) -> str:
    esc = html.escape
    body: list[str] = []
    for b in report:
        if isinstance(b, Heading):
            body.append(f"<h{b.level}>{esc(b.text)}</h{b.level}>")
        elif isinstance(b, Para):
            if b.text or b.label:
                lead = f"<strong>{esc(b.label)}.</strong> " if b.label else ""
                body.append(f"<p>{lead}{esc(b.text)}</p>")
        elif isinstance(b, Quote):
            body.append(f"<blockquote>{esc(b.text)}</blockquote>")
        elif isinstance(b, Bullets):
            body.append("<ul>" + "".join(f"<li>{esc(i)}</li>" for i in b.items) + "</ul>")
        elif isinstance(b, Table):
            head = "".join(f"<th>{esc(h)}</th>" for h in b.header)
            rows = "".join("<tr>" + "".join(f"<td>{_verdict_cell(c)}</td>" for c in row) + "</tr>" for row in b.rows)
            body.append(f'<div class="table-wrap"><table><thead><tr>{head}</tr></thead><tbody>{rows}</tbody>'
                        "</table></div>")
        elif isinstance(b, Image):
            body.append(f'<figure><img src="{_data_uri(b.figure.path)}" alt="{esc(b.figure.title, quote=True)}">'
                        f"<figcaption>{esc(b.figure.caption)}</figcaption></figure>")
        elif isinstance(b, VerdictLine):
            css = b.status.replace(" ", "-")
            body.append(f'<p><span class="{css}">Verdict: {esc(b.status)}.</span> {esc(b.reason)}</p>')
            if b.evidence:
                body.append("<ul>" + "".join(f"<li>{esc(e)}</li>" for e in b.evidence) + "</ul>")
    return "\n".join(["<!DOCTYPE html>", '<html lang="en">', "<head>", '<meta charset="utf-8">',
                      '<meta name="viewport" content="width=device-width, initial-scale=1">',
                      f"<title>{esc(title)}</title>", f"<style>\n{STYLE}\n</style>", "</head>", "<body>", *body,
                      "</body>", "</html>", ""])


def _verdict_cell(text: str) -> str:
    esc = html.escape(str(text))
    status = next((v for v in sorted(VERDICTS, key=len, reverse=True) if str(text).startswith(v)), None)
    if status is not None and (str(text) == status or str(text).startswith(status + " on ")):
        return f'<span class="{status.replace(" ", "-")}">{esc}</span>'
    return esc


def write_study_report(spec: StudySpec, profile: str, claims: list[ClaimResult], sweeps: list[str],
                       folder: Path) -> StudyReportPaths:
    """report.md and report.html in ``folder`` (figures are already there)."""
    folder.mkdir(parents=True, exist_ok=True)
    report = blocks(spec, profile, claims, sweeps)
    md, page = folder / "report.md", folder / "report.html"
    md.write_text(to_markdown(report, folder), encoding="utf-8")
    page.write_text(to_html(report, f"rnnbench study {spec.name} ({profile})"), encoding="utf-8")
    return StudyReportPaths(md, page)


#: the terminal shows the start of each reason; the report has all of it
REASON_CHARS = 220


def _short(reason: str) -> str:
    return reason if len(reason) <= REASON_CHARS else reason[:REASON_CHARS].rsplit(" ", 1)[0] + " … (report.md)"


def print_claims_table(claims: list[ClaimResult], console) -> None:
    """The claims and verdicts, with each verdict's deciding reason, as a rich table."""
    from rich.table import Table as RichTable
    from rich.text import Text

    colours = {"supported": "green", "not supported": "red", "mixed": "magenta", "inconclusive": "yellow"}
    table = RichTable(title="claims and verdicts")
    for col in ("#", "claim", "verdict", "because"):
        table.add_column(col, overflow="fold")
    for c in claims:
        status = c.verdict.status
        # Text, not markup: reasons hold intervals like "[0.1, 0.2]" that rich would read as tags
        table.add_row(c.number, Text(c.claim.title), Text(c.verdict.label, style=colours.get(status, "")),
                      Text(_short(c.verdict.reason)))
    console.print(table)
