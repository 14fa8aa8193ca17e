"""Reports: metrics JSON -> tidy frame -> the paper's tables (LaTeX/CSV/Markdown) and figures.

- `pf.reports.collect`  the given metrics (and latency) JSON files -> one tidy CSV (`pf collect`)
- `pf.reports.spec`     `ReportSpec`: which results make which table and figure, labels, captions
- `pf.reports.from_config`  the ReportSpec of a workflow config (what the Snakefile writes)
- `pf.reports.results`  exact look-up of results by (backbone, task, variant, seed, target)
- `pf.reports.tables`   `score_table`, any table of the spec: tidy frame + spec -> `Table`
- `pf.reports.figures`  Figures 3-6 as PNG
- `pf.reports.diff`     numeric diff of two report directories / table CSVs (`pf diff`)
- `pf.reports.cli`      `pf report`

Nothing here imports torch or transformers; matplotlib and seaborn are imported only when a
figure is drawn.
"""
