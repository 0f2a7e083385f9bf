"""Meaning, without presentation: what stored results say (layer 7; imports store, stats,
records, the plugin contracts and, for --match-params, execution).

frame.py       the tidy results DataFrame (results.csv)
axes.py        the swept axis, the series axes, per-token costs of a frame
crossover.py   where attention overtakes recurrence along the swept axis
compare/       compare's verdict rules, the pooling of repeated runs, the Comparison data
history.py     one metric of chosen cases over the stored runs
match_params.py  the widths of --match-params
sources.py     a run's name (id, folder, export, latest, latest~N, commit:SHA) -> LoadedRun
"""
