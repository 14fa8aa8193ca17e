"""Load a task from a directory in the original GLUE download layout.

    DIR/SST-2/train.tsv, DIR/SST-2/dev.tsv, ..., DIR/MNLI/dev_matched.tsv

The real files have quirks (see the project docs); this reader handles them:

* quoting is disabled: lines are split on tabs only (MRPC, QNLI and RTE contain unbalanced
  `"` characters that make a default CSV reader merge rows);
* a UTF-8 byte-order mark at the start of the file is dropped (MRPC);
* fields are stripped of surrounding spaces (SST-2 sentences end with a space);
* columns are found by header name, so MRPC's `Quality #1 ID #2 ID #1 String #2 String` and
  MNLI's 12-column train / 16-column dev headers (label column `gold_label`) both work;
* a row one field short whose last field ends with "<space><label>" (one such QQP train
  row) is repaired by splitting the label off.

Any other malformed row, an unknown label, a missing file or an empty split raises PfError
naming the file and the 1-based line number.
"""

from __future__ import annotations

from pathlib import Path

from pf.data.base import Example, TaskData
from pf.errors import PfError
from pf.tasks import TaskSpec


def task_files(spec: TaskSpec, data_dir: str | Path) -> dict[str, Path]:
    root = Path(data_dir) / spec.glue_dir
    return {"train": root / "train.tsv", "dev": root / spec.dev_file}


def read_tsv(path: Path, spec: TaskSpec, split: str) -> list[Example]:
    try:
        raw = path.read_bytes()
    except OSError as err:
        raise PfError(f"{path}: cannot read ({err.strerror})") from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as err:
        raise PfError(f"{path}: not UTF-8 text (byte {err.start})") from None
    if text.startswith("\ufeff"):
        text = text[1:]
    lines = text.split("\n")
    if not lines or not lines[0].strip():
        raise PfError(f"{path}: empty file (expected a header line)")
    header = [h.strip() for h in lines[0].rstrip("\r").split("\t")]
    wanted = [c for c in spec.tsv_text if c is not None] + [spec.tsv_label]
    missing = [c for c in wanted if c not in header]
    if missing:
        raise PfError(f"{path}:1: header lacks column(s) {missing} needed for {spec.display}; "
                      f"header is {header}")
    col_a = header.index(spec.tsv_text[0])
    col_b = header.index(spec.tsv_text[1]) if spec.tsv_text[1] is not None else None
    col_y = header.index(spec.tsv_label)
    width = len(header)
    labels = {name: i for i, name in enumerate(spec.labels)}
    examples: list[Example] = []
    for lineno, line in enumerate(lines[1:], start=2):
        line = line.rstrip("\r")
        if not line.strip():
            continue
        fields = line.split("\t")
        if len(fields) == width - 1 and col_y == width - 1:
            # The label glued to the last text field by a space (a real QQP train row).
            head, _, tail = fields[-1].rstrip().rpartition(" ")
            if head and tail in labels:
                fields = fields[:-1] + [head, tail]
        if len(fields) != width:
            raise PfError(f"{path}:{lineno}: expected {width} tab-separated fields as in the "
                          f"header, found {len(fields)}")
        fields = [f.strip() for f in fields]
        label = fields[col_y]
        if label not in labels:
            raise PfError(f"{path}:{lineno}: label '{label}' is not one of "
                          f"{list(spec.labels)} ({spec.display})")
        examples.append(Example(
            guid=f"{split}-{len(examples)}",
            text_a=fields[col_a],
            text_b=fields[col_b] if col_b is not None else None,
            label=labels[label],
        ))
    if not examples:
        raise PfError(f"{path}: no examples after the header ({split} split of {spec.display} is empty)")
    return examples


def load_glue_dir(spec: TaskSpec, data_dir: str | Path) -> TaskData:
    root = Path(data_dir)
    if not root.is_dir():
        where = "" if root.is_absolute() else f" (relative to {Path.cwd()}: {root.resolve()})"
        raise PfError(f"GLUE data directory '{root}' does not exist{where}")
    task_dir = root / spec.glue_dir
    if not task_dir.is_dir():
        raise PfError(f"{task_dir}: task directory not found; expected the GLUE layout "
                      f"{root}/{spec.glue_dir}/train.tsv and {root}/{spec.glue_dir}/{spec.dev_file}")
    splits = {}
    for split, path in task_files(spec, root).items():
        if not path.is_file():
            raise PfError(f"{path}: file not found ({split} split of {spec.display})")
        splits[split] = read_tsv(path, spec, split)
    return TaskData(task=spec, source="glue_dir", splits=splits)
