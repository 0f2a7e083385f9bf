"""Presentation: text, tables, plots and files from analysed results (layer 8).

content.py     a run's report content, built once (summary table, legend, crossovers, plots)
terminal.py    rich tables: print_summary, and the console every read command prints through
markdown.py    report.md and the Markdown table syntax compare and history share
html.py        report.html, self-contained
plots.py       the report's PNG plots (matplotlib Agg)
run_folder.py  writes a run's folder: results.csv, env.json, plots, report.md, report.html
compare.py     a Comparison as a table, Markdown or JSON
history.py     a History as a table, Markdown or a plot
export.py      a run as rnnbench JSON or pytest-benchmark JSON

Every "±" is stats.Summary's median ±IQR/2.
"""
