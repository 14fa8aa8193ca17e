"""Task data behind one interface: `load_task(task, source, ...) -> TaskData`.

Sources: `hub` (datasets.load_dataset("nyu-mll/glue", ...)), `glue_dir` (a directory in the
original GLUE download layout) and `synthetic` (built-in offline stand-ins). Every source
returns the splits "train" and "dev" (dev = matched for MNLI) as lists of `Example` with
label ids in the order of `TaskSpec.labels`.
"""

from __future__ import annotations

from pf.data.base import SPLITS, Example, SyntheticSizes, TaskData, stratified_subsample
from pf.errors import PfError, unknown
from pf.tasks import get_task

SOURCES: tuple[str, ...] = ("hub", "glue_dir", "synthetic")

__all__ = ["SOURCES", "SPLITS", "Example", "SyntheticSizes", "TaskData", "load_task",
           "stratified_subsample"]


def load_task(task: str, source: str, data_dir: str | None = None,
              synthetic: SyntheticSizes | dict | None = None, seed: int = 0) -> TaskData:
    spec = get_task(task)
    if source not in SOURCES:
        raise unknown("data source", source, SOURCES)
    if source == "synthetic":
        from pf.data.synthetic import load_synthetic
        return load_synthetic(spec, synthetic, seed=seed)
    if source == "glue_dir":
        if not data_dir:
            raise PfError("source 'glue_dir' needs a data directory (--data-dir / data_dir)")
        from pf.data.glue_dir import load_glue_dir
        return load_glue_dir(spec, data_dir)
    from pf.data.hub import load_hub
    return load_hub(spec)
