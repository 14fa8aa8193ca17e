"""The six GLUE tasks of the paper: columns, labels and metrics."""

from __future__ import annotations

from dataclasses import dataclass

from pf.errors import unknown


@dataclass(frozen=True)
class TaskSpec:
    name: str                      # key used in configs and paths: "sst2"
    display: str                   # name in tables: "SST-2"
    glue_dir: str                  # folder in the GLUE download layout
    hub_config: str                # `datasets.load_dataset("nyu-mll/glue", hub_config)`
    hub_text: tuple[str, str | None]  # text columns on the hub
    tsv_text: tuple[str, str | None]  # text columns in the GLUE TSV header
    tsv_label: str                 # label column in the GLUE TSV header
    labels: tuple[str, ...]        # label strings as they appear in the TSV files; index = class id
    hub_labels: tuple[str, ...]    # the hub's ClassLabel names in its integer order
    metrics: tuple[str, ...]       # first = default table metric
    dev_file: str = "dev.tsv"
    hub_dev_split: str = "validation"

    @property
    def num_labels(self) -> int:
        return len(self.labels)

    @property
    def is_pair(self) -> bool:
        return self.tsv_text[1] is not None


TASKS: dict[str, TaskSpec] = {
    t.name: t
    for t in [
        TaskSpec("sst2", "SST-2", "SST-2", "sst2", ("sentence", None), ("sentence", None),
                 "label", ("0", "1"), ("negative", "positive"), ("accuracy",)),
        TaskSpec("mrpc", "MRPC", "MRPC", "mrpc", ("sentence1", "sentence2"),
                 ("#1 String", "#2 String"), "Quality", ("0", "1"),
                 ("not_equivalent", "equivalent"), ("accuracy", "f1")),
        TaskSpec("qnli", "QNLI", "QNLI", "qnli", ("question", "sentence"),
                 ("question", "sentence"), "label", ("entailment", "not_entailment"),
                 ("entailment", "not_entailment"), ("accuracy",)),
        TaskSpec("rte", "RTE", "RTE", "rte", ("sentence1", "sentence2"),
                 ("sentence1", "sentence2"), "label", ("entailment", "not_entailment"),
                 ("entailment", "not_entailment"), ("accuracy",)),
        TaskSpec("qqp", "QQP", "QQP", "qqp", ("question1", "question2"),
                 ("question1", "question2"), "is_duplicate", ("0", "1"),
                 ("not_duplicate", "duplicate"), ("accuracy", "f1")),
        TaskSpec("mnli", "MNLI", "MNLI", "mnli", ("premise", "hypothesis"),
                 ("sentence1", "sentence2"), "gold_label",
                 ("contradiction", "entailment", "neutral"),
                 ("entailment", "neutral", "contradiction"), ("accuracy",),
                 dev_file="dev_matched.tsv", hub_dev_split="validation_matched"),
    ]
}

# Paper order of the table columns.
TASK_ORDER: tuple[str, ...] = ("mnli", "mrpc", "qnli", "qqp", "rte", "sst2")


def get_task(name: str) -> TaskSpec:
    key = name.lower().replace("-", "")
    if key not in TASKS:
        raise unknown("task", name, TASKS)
    return TASKS[key]
