"""Markdown: report.md from a :class:`~rnnbench.render.content.ReportContent`, and the
table syntax every Markdown output (report, compare, history) shares."""

from __future__ import annotations

from pathlib import Path

from rnnbench.render.content import ReportContent


def markdown_table(header: list[str], rows: list[list[str]]) -> str:
    def esc(cell: str) -> str:
        return cell.replace("|", "\\|")

    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(esc(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def render_markdown(content: ReportContent, folder: Path, extra_sections: list[str] = ()) -> str:
    """report.md's text; figures are linked relative to ``folder``, the run folder it is written to."""
    parts = [f"# {content.title}", ""]
    if content.command:
        parts += [f"Command: `{content.command}`", ""]
    for section in content.sections:
        if section.heading == "Environment":
            parts += list(extra_sections)
        parts += [f"## {section.heading}", ""]
        for paragraph in section.paragraphs:
            parts += [paragraph, ""]
        if section.table is not None:
            parts += [markdown_table(*section.table), ""]
        if section.bullets:
            parts += [f"- {line}" for line in section.bullets] + [""]
        for figure in section.figures:
            relative = figure.path.relative_to(folder) if figure.path.is_relative_to(folder) else figure.path
            parts += [f"### {figure.title}", "", f"![{figure.title}]({relative.as_posix()})", "",
                      f"*{figure.caption}*", ""]
        if section.code is not None:
            parts += ["```json", section.code, "```", ""]
    return "\n".join(parts)
