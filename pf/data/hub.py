"""Load a task from the Hugging Face hub: `datasets.load_dataset("nyu-mll/glue", config)`.

The hub's integer labels are mapped through their ClassLabel names (`TaskSpec.hub_labels`)
to our label ids (`TaskSpec.labels`, the GLUE TSV strings): the orders differ for MNLI, and
SST-2, MRPC and QQP name their classes (negative / not_equivalent / not_duplicate = "0").
"""

from __future__ import annotations

from pf.data.base import Example, TaskData
from pf.errors import PfError
from pf.hf_hub import hub_switched_off
from pf.tasks import TaskSpec

HUB_DATASET = "nyu-mll/glue"

# Hub class names whose TSV label is "0" / "1".
_BINARY_NAMES = {
    "negative": "0", "not_equivalent": "0", "not_duplicate": "0",
    "positive": "1", "equivalent": "1", "duplicate": "1",
}


def hub_label_map(spec: TaskSpec) -> dict[int, int]:
    """Hub integer label -> our label id."""
    out = {}
    for hub_id, name in enumerate(spec.hub_labels):
        tsv = _BINARY_NAMES.get(name, name) if name not in spec.labels else name
        if tsv not in spec.labels:
            raise PfError(f"{spec.display}: hub label '{name}' has no counterpart in {list(spec.labels)}")
        out[hub_id] = spec.labels.index(tsv)
    return out


def _unreachable(spec: TaskSpec, err: BaseException, advice: bool) -> PfError:
    switch = hub_switched_off(datasets=True)
    why = (f"{switch} is set and the Hugging Face cache has no copy" if switch
           else "the Hugging Face hub is unreachable or has no cached copy")
    first = (str(err).splitlines() or [""])[0][:200]
    hint = (" To run offline, fetch it first where the hub is reachable (`pf download --config "
            "CONFIG`, into the Hugging Face cache the jobs read: HF_HOME); or use source "
            "'glue_dir' with a directory in the GLUE download layout, or source 'synthetic' "
            "for the offline stand-in." if advice else "")
    return PfError(f"cannot load {HUB_DATASET} '{spec.hub_config}' from the hub: {why}.{hint} "
                   f"({type(err).__name__}: {first})")


def fetch_hub(spec: TaskSpec, advice: bool = True):
    """`datasets.load_dataset` of the task: from the hub, or from the cache when offline.
    `advice`: whether an error says how to run offline (not when `pf download` is asking)."""
    try:
        import datasets
    except ImportError as err:  # pragma: no cover - a pinned dependency
        raise PfError(f"the 'datasets' package is needed for source 'hub' ({err})") from None
    try:
        return datasets.load_dataset(HUB_DATASET, spec.hub_config)
    except Exception as err:  # noqa: BLE001 - any failure to reach or read the hub
        raise _unreachable(spec, err, advice) from None


def load_hub(spec: TaskSpec) -> TaskData:
    ds = fetch_hub(spec)
    mapping = hub_label_map(spec)
    col_a, col_b = spec.hub_text
    splits = {}
    for split, hub_split in (("train", "train"), ("dev", spec.hub_dev_split)):
        if hub_split not in ds:
            raise PfError(f"{HUB_DATASET} '{spec.hub_config}' has no split '{hub_split}'")
        rows = ds[hub_split]
        examples = []
        for n, row in enumerate(rows):
            y = int(row["label"])
            if y not in mapping:
                raise PfError(f"{HUB_DATASET} '{spec.hub_config}' {hub_split} row {n}: "
                              f"label {y} outside {list(spec.hub_labels)}")
            examples.append(Example(guid=f"{split}-{n}", text_a=str(row[col_a]).strip(),
                                    text_b=str(row[col_b]).strip() if col_b else None,
                                    label=mapping[y]))
        if not examples:
            raise PfError(f"{HUB_DATASET} '{spec.hub_config}' split '{hub_split}' is empty")
        splits[split] = examples
    return TaskData(task=spec, source="hub", splits=splits)
