"""report.html: the report content (rnnbench.render.content) as one self-contained file, readable on a phone.

Images are inlined as base64 data URIs and the style sheet is inline, so the
file opens anywhere without network access. The layout is a single column with
a viewport meta tag, up to 84rem wide so that a desktop window (1400 px) shows the
summary table whole; on narrower screens wide tables scroll sideways inside their own
box instead of widening the page.
"""

from __future__ import annotations

import base64
import html
from pathlib import Path

from rnnbench.render.content import ReportContent, Section

STYLE = """
:root { color-scheme: light dark; }
body { font-family: system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; line-height: 1.45;
       margin: 0 auto; padding: 0.75rem; max-width: 84rem; }
h1 { font-size: 1.4rem; } h2 { font-size: 1.2rem; margin-top: 2rem; } h3 { font-size: 1rem; }
code, pre { font-family: ui-monospace, SFMono-Regular, Menlo, monospace; font-size: 0.85em; }
pre { overflow-x: auto; padding: 0.5rem; border: 1px solid #8884; }
.table-wrap { overflow-x: auto; -webkit-overflow-scrolling: touch; border: 1px solid #8884;
              width: fit-content; max-width: 100%; }  /* the box ends where its table ends */
table { border-collapse: collapse; font-size: 0.85rem; }
th, td { padding: 0.3rem 0.5rem; text-align: left; border-bottom: 1px solid #8883; }
td { white-space: nowrap; }  /* a number keeps its unit and spread; headers wrap between words */
td:last-child { white-space: normal; min-width: 10rem; }  /* a failed row's reason wraps between words */
th { position: sticky; top: 0; background: Canvas; }
figure { margin: 1rem 0; }
figure img { max-width: 100%; height: auto; background: white; }
figcaption { font-size: 0.85rem; opacity: 0.85; }
li { margin: 0.2rem 0; }
""".strip()


def render_html(content: ReportContent) -> str:
    esc = html.escape
    body = [f"<h1>{esc(content.title)}</h1>"]
    if content.command:
        body.append(f"<p>Command: <code>{esc(content.command)}</code></p>")
    for section in content.sections:
        body.append(_section(section))
    return "\n".join([
        "<!DOCTYPE html>",
        '<html lang="en">',
        "<head>",
        '<meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{esc(content.title)}</title>",
        f"<style>\n{STYLE}\n</style>",
        "</head>",
        "<body>",
        *body,
        "</body>",
        "</html>",
        "",
    ])


def _section(section: Section) -> str:
    esc = html.escape
    parts = [f"<h2>{esc(section.heading)}</h2>"]
    parts += [f"<p>{esc(p)}</p>" for p in section.paragraphs]
    if section.table is not None:
        parts.append(_table(*section.table))
    if section.bullets:
        parts.append("<ul>" + "".join(f"<li>{esc(line)}</li>" for line in section.bullets) + "</ul>")
    for figure in section.figures:
        parts.append(
            f"<figure><h3>{esc(figure.title)}</h3>"
            f'<img src="{data_uri(figure.path)}" alt="{esc(figure.title, quote=True)}">'
            f"<figcaption>{esc(figure.caption)}</figcaption></figure>"
        )
    if section.code is not None:
        parts.append(f"<details><summary>show</summary><pre>{esc(section.code)}</pre></details>")
    return "\n".join(parts)


def _table(header: list[str], rows: list[list[str]]) -> str:
    esc = html.escape
    head = "".join(f"<th>{esc(cell)}</th>" for cell in header)
    body = "".join("<tr>" + "".join(f"<td>{esc(cell)}</td>" for cell in row) + "</tr>" for row in rows)
    return f'<div class="table-wrap"><table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table></div>'


def data_uri(path: Path) -> str:
    return "data:image/png;base64," + base64.b64encode(Path(path).read_bytes()).decode("ascii")
