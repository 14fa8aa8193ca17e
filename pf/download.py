"""`pf download`: fetch what a config needs from the Hugging Face hub before the jobs run.

The compute nodes of many clusters cannot reach the internet. Run this where the hub is
reachable (the login or submit host), with HF_HOME on a file system the compute nodes see;
the jobs then run with HF_HUB_OFFLINE=1 HF_DATASETS_OFFLINE=1 and read everything from that
cache (docs/SLURM.md). The workflow's `download` rule runs it on the submitting host before
any `prepare` job whenever the config names something on the hub.

What a config needs (`plan_downloads`: offline, torch-free):
- every backbone whose `pretrained` is a hub id: its configuration, tokenizer files and
  safetensors weights (`huggingface_hub.snapshot_download`; pickled *.bin and TF, Flax or
  ONNX weights are left out: pf never unpickles a checkpoint). A local directory is skipped;
- with `data.source: hub`, every task of `tasks:` from nyu-mll/glue, through
  `datasets.load_dataset` exactly as the jobs call it, which fills the datasets cache they
  read offline. Sources `glue_dir` and `synthetic` need nothing.

With the hub switched off (HF_HUB_OFFLINE=1, HF_DATASETS_OFFLINE=1) the same command checks
the cache instead: what is there is reported, anything missing is an error naming the
variable. Nothing is written unless everything was fetched (`--record`, atomically).
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from pf.errors import PfError
from pf.hf_hub import hub_switched_off, local_model_dir, missing_safetensors

# Files of a model repository the jobs read: configuration, tokenizer, safetensors weights.
MODEL_FILES = ("*.json", "*.txt", "*.model", "*.safetensors", "*.jinja")
OFFLINE_ENV = "HF_HUB_OFFLINE=1 HF_DATASETS_OFFLINE=1"
OFFLINE_VARS = "HF_HUB_OFFLINE, HF_DATASETS_OFFLINE (and TRANSFORMERS_OFFLINE)"


@dataclass(frozen=True)
class HubModel:
    repo_id: str
    backbones: tuple[str, ...] = ()     # the config's backbones that use it

    @property
    def label(self) -> str:
        used = ", ".join(repr(b) for b in self.backbones)
        return f"model {self.repo_id}" + (f" (backbone {used})" if used else "")


@dataclass(frozen=True)
class HubDataset:
    repo_id: str                        # nyu-mll/glue
    config: str                         # the dataset configuration, e.g. "sst2"
    task: str

    @property
    def label(self) -> str:
        return f"dataset {self.repo_id} {self.config}"


@dataclass(frozen=True)
class DownloadPlan:
    """What a config needs from the hub, and what it names that needs nothing."""

    models: tuple[HubModel, ...] = ()
    datasets: tuple[HubDataset, ...] = ()
    skipped: tuple[str, ...] = ()       # one line each: what needs no download, and why

    @property
    def empty(self) -> bool:
        return not (self.models or self.datasets)

    def needed_by(self, backbone: str) -> bool:
        """Whether the prepared data of `backbone` needs something of the plan."""
        return bool(self.datasets) or any(backbone in m.backbones for m in self.models)

    def args(self) -> list[str]:
        """The `pf download` arguments that fetch exactly this plan."""
        return ([a for m in self.models for a in ("--model", m.repo_id)]
                + [a for d in self.datasets for a in ("--task", d.task)])


@dataclass
class FetchedModel:
    repo_id: str
    backbones: list[str]
    commit: str
    path: str
    files: list[str]


@dataclass
class FetchedDataset:
    repo_id: str
    config: str
    task: str
    rows: dict[str, int]


@dataclass
class DownloadRecord:
    """What `--record` writes: where everything is, for the log and as the rule's output."""

    offline: str | None                 # the variable that switched the hub off, if any
    hub_cache: str
    datasets_cache: str | None
    models: list[FetchedModel] = field(default_factory=list)
    datasets: list[FetchedDataset] = field(default_factory=list)


# --------------------------------------------------------------------------- planning

def hub_dataset(task: str) -> HubDataset:
    from pf.data.hub import HUB_DATASET
    from pf.tasks import get_task

    return HubDataset(HUB_DATASET, get_task(task).hub_config, get_task(task).name)


def plan_downloads(config: Mapping[str, Any]) -> DownloadPlan:
    """What a validated config (pf.config.load_config) needs from the hub. No network."""
    users: dict[str, list[str]] = {}
    skipped = []
    for name, bb in config["backbones"].items():
        source = bb.get("pretrained")
        if source is None:
            skipped.append(f"backbone '{name}': tiny random-init model, built locally")
        elif (path := local_model_dir(name, str(source))) is not None:
            skipped.append(f"backbone '{name}': local directory {path}")
        else:
            users.setdefault(str(source), []).append(name)
    models = tuple(HubModel(repo, tuple(names)) for repo, names in users.items())
    source = config["data"]["source"]
    if source == "hub":
        datasets = tuple(hub_dataset(t) for t in config["tasks"])
    else:
        datasets = ()
        where = f" ({config['data']['glue_dir']})" if source == "glue_dir" else ""
        skipped.append(f"data: source '{source}'{where}, read locally")
    return DownloadPlan(models, datasets, tuple(skipped))


# --------------------------------------------------------------------------- fetching

def _first_line(err: BaseException) -> str:
    return f"{type(err).__name__}: {(str(err).splitlines() or [''])[0][:200]}"


def _hub_cache() -> str:
    from huggingface_hub import constants

    return str(constants.HF_HUB_CACHE)


def _datasets_cache() -> str | None:
    try:
        from datasets import config as datasets_config
    except ImportError:  # pragma: no cover - a pinned dependency
        return None
    return str(datasets_config.HF_DATASETS_CACHE)


def _model_error(model: HubModel, err: BaseException) -> PfError:
    switch = hub_switched_off()
    why = (f"{switch} is set and the cache has no complete copy" if switch else
           "the hub is unreachable from here, has no such model, or it is gated "
           "(`hf auth login` first)")
    return PfError(f"model '{model.repo_id}': {why}. ({_first_line(err)})")


def _check_snapshot(model: HubModel, folder: Path) -> list[str]:
    """The files of a fetched snapshot; PfError unless the jobs can load the model from it."""
    files = sorted(str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file())
    top = {f for f in files if "/" not in f}
    problems = []
    if "config.json" not in top:
        problems.append("no config.json")
    weights = missing_safetensors(folder)
    if weights:
        problems.append(weights)
    if not problems:
        from transformers import AutoTokenizer

        try:
            AutoTokenizer.from_pretrained(str(folder), trust_remote_code=False)
        except (OSError, ValueError) as err:
            problems.append(f"its tokenizer does not load ({_first_line(err)})")
    if problems:
        raise PfError(f"model '{model.repo_id}': {'; '.join(problems)} in {folder}")
    return files


def fetch_model(model: HubModel) -> FetchedModel:
    from huggingface_hub import snapshot_download

    try:
        folder = Path(snapshot_download(model.repo_id, allow_patterns=list(MODEL_FILES)))
    except Exception as err:  # noqa: BLE001 - any failure to reach the hub or read the cache
        raise _model_error(model, err) from None
    files = _check_snapshot(model, folder)
    return FetchedModel(model.repo_id, list(model.backbones), folder.name, str(folder), files)


def fetch_dataset(dataset: HubDataset) -> FetchedDataset:
    from pf.data.hub import fetch_hub
    from pf.tasks import get_task

    ds = fetch_hub(get_task(dataset.task), advice=False)
    rows = {split: int(n) for split, n in ds.num_rows.items()}
    return FetchedDataset(dataset.repo_id, dataset.config, dataset.task, rows)


def _offline_switches(plan: DownloadPlan) -> str | None:
    """'HF_HUB_OFFLINE=1 is set', '... and HF_DATASETS_OFFLINE=1 are set', or None: the
    settings that keep the plan's downloads from the hub."""
    found = [hub_switched_off() if plan.models else None,
             hub_switched_off(datasets=True) if plan.datasets else None]
    switches = list(dict.fromkeys(s for s in found if s))
    if not switches:
        return None
    return f"{' and '.join(switches)} {'is' if len(switches) == 1 else 'are'} set"


def _fetch_each(items, fetch, failed: list[tuple[str, str]]):
    """fetch(item) of each item that succeeds; (item label, error) of the others go to
    `failed`, so that one failure does not hide the next."""
    for item in items:
        try:
            yield fetch(item)
        except PfError as err:
            failed.append((item.label, str(err)))


def download(plan: DownloadPlan, say: Callable[[str], None] = print) -> DownloadRecord:
    """Fetch (or, offline, find in the cache) everything in `plan`; after trying them all,
    PfError naming every item that failed."""
    record = DownloadRecord(offline=hub_switched_off(), hub_cache=_hub_cache(),
                            datasets_cache=_datasets_cache() if plan.datasets else None)
    failed: list[tuple[str, str]] = []           # (item, error)
    for got in _fetch_each(plan.models, fetch_model, failed):
        record.models.append(got)
        say(f"  model {got.repo_id}: {len(got.files)} files, commit {got.commit[:12]}, {got.path}")
    for got_ds in _fetch_each(plan.datasets, fetch_dataset, failed):
        record.datasets.append(got_ds)
        rows = ", ".join(f"{split} {n:,}" for split, n in got_ds.rows.items())
        say(f"  dataset {got_ds.repo_id} {got_ds.config}: {rows}")
    if not failed:
        return record
    total = len(plan.models) + len(plan.datasets)
    switches = _offline_switches(plan)
    if switches:
        raise PfError(
            f"{switches}, so the hub is not asked, and the Hugging Face cache (hub cache "
            f"{record.hub_cache}) has no complete copy of {len(failed)} of {total}:\n"
            + "".join(f"  - {item}\n" for item, _ in failed)
            + f"Run `pf download` where the hub is reachable (e.g. the login host), with "
              f"{OFFLINE_VARS} unset or 0 and the same HF_HOME. (first error: {failed[0][1]})")
    raise PfError(f"{len(failed)} of {total} downloads failed:\n"
                  + "\n".join(f"  - {err}" for _, err in failed))


# --------------------------------------------------------------------------- CLI

EXAMPLES = """\
examples:
  pf download --config config/paper.yaml --dry-run   what the paper config needs, no network
  HF_HOME=/shared/hf pf download --config config/paper.yaml
  pf download --model bert-base-uncased --task rte   one model and one GLUE task

Then, on the compute nodes: export HF_HOME=/shared/hf HF_HUB_OFFLINE=1 HF_DATASETS_OFFLINE=1
"""


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "download", help="fetch a config's hub models and datasets into the Hugging Face cache",
        description=__doc__, epilog=EXAMPLES)
    p.add_argument("--config", default=None, metavar="CONFIG",
                   help="workflow config (e.g. config/paper.yaml): fetch every hub model and "
                        "dataset it needs")
    p.add_argument("--model", action="append", default=[], metavar="REPO_ID",
                   help="a model on the hub, e.g. bert-base-uncased (repeatable)")
    p.add_argument("--task", action="append", default=[], metavar="TASK",
                   help="a GLUE task to fetch from nyu-mll/glue, e.g. sst2 (repeatable)")
    p.add_argument("--dry-run", action="store_true",
                   help="print what would be fetched and stop (no network)")
    p.add_argument("--record", default=None, metavar="FILE",
                   help="write what was fetched, and where, to this JSON file")
    p.set_defaults(func=_run)


def _plan_of(args: argparse.Namespace) -> tuple[str, DownloadPlan]:
    if args.config and (args.model or args.task):
        raise PfError("give either --config or --model/--task, not both")
    if args.config:
        from pf.config import load_config

        return args.config, plan_downloads(load_config(args.config))
    if not (args.model or args.task):
        raise PfError("nothing to download: give --config CONFIG, or --model/--task")
    models = tuple(HubModel(m) for m in dict.fromkeys(args.model))
    datasets = tuple(hub_dataset(t) for t in dict.fromkeys(args.task))
    return "the command line", DownloadPlan(models, datasets)


def _run(args: argparse.Namespace) -> int:
    from pf.io import atomic_write_json

    what, plan = _plan_of(args)
    for line in plan.skipped:
        print(f"  skipped: {line}")
    if plan.empty:
        print(f"pf download: {what} needs nothing from the Hugging Face hub; nothing to download")
    else:
        names = [m.repo_id for m in plan.models]
        names += [f"{d.repo_id} {d.config}" for d in plan.datasets]
        print(f"pf download: {what} needs {len(plan.models)} model(s) and "
              f"{len(plan.datasets)} dataset(s) from the Hugging Face hub: {', '.join(names)}")
    if args.dry_run:
        return 0
    switches = _offline_switches(plan)
    if switches:
        print(f"pf download: {switches}: checking the cache only")
    record = download(plan)
    if args.record:
        atomic_write_json(args.record, asdict(record))
    if not plan.empty:
        home = os.environ.get("HF_HOME", "~/.cache/huggingface (HF_HOME unset)")
        print(f"pf download: done; cache {record.hub_cache}. Jobs on hosts without the hub: "
              f"HF_HOME={home} {OFFLINE_ENV}")
    return 0
