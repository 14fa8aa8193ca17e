"""Where the workflow writes each result of a config (pf.layout under `results_dir`), and
the report files of `rule all` (under `reports_dir`)."""

from __future__ import annotations

from dataclasses import dataclass

from pf import layout


@dataclass(frozen=True, order=True)
class Job:
    """One metrics file: (backbone, task, concrete variant, seed, target)."""

    backbone: str
    task: str
    variant: str
    seed: int
    target: str          # fmt_target spelling


class ResultPaths:
    """The paths of a config's results (a part of pf.config.Plan)."""

    results: str

    def prepared(self, backbone: str, task: str) -> str:
        return f"{self.results}/{layout.prepared_path(backbone, task)}"

    def model(self, backbone: str, task: str, variant: str, seed: int) -> str:
        return f"{self.results}/{layout.model_path(backbone, task, variant, seed)}"

    def outputs(self, backbone: str, task: str, variant: str, seed: int, split: str) -> str:
        return f"{self.results}/{layout.outputs_path(backbone, task, variant, seed, split)}"

    def metrics(self, job: Job) -> str:
        return (f"{self.results}/"
                f"{layout.metrics_path(job.backbone, job.task, job.variant, job.seed, job.target)}")

    def curve(self, backbone: str, task: str, variant: str, seed: int) -> str:
        return f"{self.results}/{layout.curve_path(backbone, task, variant, seed)}"

    def latency(self, backbone: str, task: str, variant: str, seed: int) -> str:
        return f"{self.results}/{layout.latency_path(backbone, task, variant, seed)}"
