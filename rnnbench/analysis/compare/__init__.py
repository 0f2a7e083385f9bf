"""The rules of ``rnnbench compare``: per case and metric, NEW/BASE and a verdict.

Cases are matched by id (the hash of what defines the work, never the
environment), metrics by (scenario, name). Three kinds of metric, three rules
(docs/ci.md):

* timings (raw samples), judged on the run level: with several runs a side, the
  ratio of medians beyond the threshold AND a two-level bootstrap interval (runs, then
  samples) that excludes no change; with one run a side (or fewer than three on a
  side), beyond the threshold, the Mann–Whitney U test significant AND the change
  beyond the runs' own drift AND beyond the band of A/A history stored for the case on
  this machine (rnnbench.analysis.aa_history; none: "noisy"); a case
  flagged busy on either side is "noisy"; ``--strict`` is the rule of before;
* memory and parameter counts (deterministic): beyond the threshold;
* quality (the task's primary metric), in its direction: worse than BASE by more than
  the spread over seeds (cases that differ only in seed form a group), or with one seed
  by more than ``--acc-tolerance`` (bounded metrics) or ``--metric-tolerance`` of BASE
  (unbounded ones).

Here live the rules, the pooling of repeated runs into one side, and the
:class:`~rnnbench.analysis.compare.comparison.Comparison` they produce: numbers, not text.
rnnbench.render.compare writes it as a table, Markdown or JSON; rnnbench.commands.compare
is the subcommand. One job a module, each importing only those below it:

match.py          the two runs' cases matched by id, each metric sent to its kind's rule (compare_runs)
timing.py         the timing rules (judge_timing), the busy flags and A/A keys they read
deterministic.py  memory and parameter counts
quality.py        the primary metric per seed group
measurements.py   training dynamics, shown but never a regression
status_rows.py    a case failed on a side, values one side lacks
environment.py    what differs between the two sides' machines and software
pooling.py        several runs of one side pooled into one (pool_runs)
comparison.py     CompareSettings, Row, Side, Comparison, case_label
"""
