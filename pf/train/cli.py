"""`pf train`: prepared data + method + options -> checkpoint directory.

pf train --prepared DIR --method NAME --options JSON --training JSON --seed S --out DIR
         [--teacher DIR] [--device auto|cpu|cuda] [--threads N] [--record SPLIT=FILE ...]
         [--checkpoint-every 10m|STEPS|0 (default $PF_CHECKPOINT_EVERY or 10m)]
         [--resume-dir DIR]
         [--progress-every STEPS] [--progress-seconds S]

`--record` writes the per-layer outputs of a split (exactly what `pf outputs` writes, from
the checkpoint just saved) in the same process: importing torch and transformers costs
several seconds per process, which dominates the small jobs of the default configuration.

JSON arguments are JSON text or a path to a JSON file. Options and training arguments are
validated before any data is read. The model (model.safetensors and, last, model.json) is
written only once training has succeeded; OUT/train_log.jsonl grows while it runs (one
record per step, per dev evaluation and per progress line). Every `--checkpoint-every` the
training state goes to the resume directory (default OUT.resume, beside OUT); running the
same command again after a kill resumes from there, and a finished run removes it.
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

from pf.errors import PfError
from pf.jsonargs import json_arg
from pf.train.args import add_device_options
from pf.train.record import record_outputs

DEFAULT_CHECKPOINT_EVERY = "10m"    # at paper scale a few checkpoints per hour; tiny jobs: none


def num_labels_of(meta: dict[str, Any]) -> int:
    from pf.tasks import TASKS

    if "num_labels" in meta:
        return int(meta["num_labels"])
    if meta.get("task") not in TASKS:
        raise PfError(f"prepared data: unknown task {meta.get('task')!r}")
    return TASKS[meta["task"]].num_labels


def backbone_spec_of(meta: dict[str, Any]):
    from pf.backbones import BackboneSpec

    d = dict(meta["backbone"])
    return BackboneSpec.from_dict(str(d.pop("name", d.get("family"))), d)


SELECTION_SPLIT = "heldout"


def selection_split(prepared: str, meta: dict[str, Any]) -> str:
    """The split `select_on_dev` selects on: the held-out slice of train, never dev (the
    split every table scores, so choosing the checkpoint there would flatter it)."""
    if SELECTION_SPLIT not in (meta.get("splits") or {}):
        raise PfError(f"{prepared}: training option 'select_on_dev' picks the checkpoint on "
                      f"the held-out slice of train, never on dev (the split that is scored), "
                      f"and this prepared data has no '{SELECTION_SPLIT}' split; prepare it "
                      f"with --heldout-fraction > 0 (config: data.heldout_fraction) or set "
                      f"select_on_dev to false")
    return SELECTION_SPLIT


def resume_dir_for(out: str | Path) -> Path:
    """The default resume directory: OUT.resume, beside the checkpoint directory."""
    out = Path(out)
    return out.parent / f"{out.name}.resume"


def run_train(prepared: str, method: str, options: dict | None, training: dict | None,
              seed: int, out: str, teacher: str | None = None, device=None,
              progress: bool | None = None, *, checkpoint_every: str | None = None,
              resume_dir: str | Path | None = None, progress_every: int | None = None,
              progress_seconds: float | None = None, padded: bool = False,
              remove_resume: bool = True):
    """The whole of `pf train` as a function (used by the CLI, tests and benchmarks).

    Checkpoints go to `resume_dir` (default OUT.resume) every `checkpoint_every` (None:
    never); a rerun resumes from there, and the directory is removed once the model is
    saved (`remove_resume`; the CLI removes it after recording outputs).
    `padded` pads every batch to the prepared length (the benchmarks' baseline)."""
    import dataclasses

    import torch

    from pf.backbones import load_encoder
    from pf.methods.checkpoint import save_checkpoint
    from pf.methods.registry import build_model, get_method, parse_method_options
    from pf.prepare import load_split, read_meta
    from pf.progress import EVERY_SECONDS, EVERY_STEPS
    from pf.train.args import TrainingArgs
    from pf.train.data import Examples
    from pf.train.resume import Every, ResumeStore
    from pf.train.trainer import Monitor, resolve_device, set_seed, train

    options = dict(options or {})
    if teacher is not None:
        options["teacher"] = teacher
    parse_method_options(method, options)            # fail fast on bad options
    args = TrainingArgs.from_dict(training)
    every = Every.parse(checkpoint_every)
    device = resolve_device(device)
    meta = read_meta(prepared)
    spec = backbone_spec_of(meta)
    attn = get_method(method).attn_implementation       # a method that needs `eager`
    if attn is not None:
        spec = dataclasses.replace(spec, attn_implementation=attn)
    train_data = Examples.from_split(load_split(prepared, "train"), pad_to_max=padded)
    select_data = (Examples.from_split(load_split(prepared, selection_split(prepared, meta)),
                                       pad_to_max=padded)
                   if args.select_on_dev else None)
    fingerprint = {"method": method, "options": options, "training": args.to_dict(),
                   "seed": seed, "prepared": meta, "padded": padded}
    store = ResumeStore(resume_dir if resume_dir is not None else resume_dir_for(out), fingerprint)
    monitor = Monitor(log_path=Path(out) / "train_log.jsonl", display=progress,
                      every_steps=progress_every or EVERY_STEPS,
                      every_seconds=progress_seconds or EVERY_SECONDS,
                      resume=store, checkpoint_every=every)
    set_seed(seed)
    encoder = load_encoder(spec, int(meta["vocab_size"]), int(meta["pad_token_id"]), seed)
    torch.manual_seed(seed)
    model = build_model(method, options, encoder, num_labels_of(meta))
    started = time.perf_counter()
    result = train(model, train_data, args, seed, dev=select_data, device=device,
                   monitor=monitor)
    info = {
        "task": meta["task"],
        "backbone": {"name": spec.name, **spec.to_dict()},
        "prepared": meta,
        "prepared_dir": str(prepared),
        "training": args.to_dict(),
        "seed": seed,
        "selected": ({**result.selected, "split": SELECTION_SPLIT} if args.select_on_dev
                     else result.selected),
        "device": result.device,
        "precision": result.precision,
    }
    if result.resumed is not None:
        info["resumed"] = result.resumed
    model.to("cpu")
    save_checkpoint(model, out, info, result.log)
    if remove_resume:
        store.remove()
    return model, result, time.perf_counter() - started


def finish_resume(out: str | Path, resume_dir: str | Path | None = None) -> None:
    """Remove the resume directory of a finished run."""
    import shutil

    shutil.rmtree(resume_dir if resume_dir is not None else resume_dir_for(out),
                  ignore_errors=True)


def check_run_options(args) -> None:
    """Apply --threads and check the flags of add_run_options (`pf train`, `pf train-many`)."""
    import torch

    if args.threads is not None:
        if args.threads < 1:
            raise PfError(f"--threads must be positive, got {args.threads}")
        torch.set_num_threads(args.threads)
    if args.record_batch_size < 1:
        raise PfError(f"--record-batch-size must be positive, got {args.record_batch_size}")
    for flag in ("progress_every", "progress_seconds"):
        value = getattr(args, flag)
        if value is not None and value <= 0:
            raise PfError(f"--{flag.replace('_', '-')} must be positive, got {value}")


def train_and_record(args, method: str, options: dict | None, training: dict | None, out: str,
                     teacher: str | None, records: list[tuple[str, str]],
                     resume_dir: str | None = None) -> None:
    """One model: train it, save it, record the per-layer outputs of `records`, then drop
    its resume directory. `args` carries the shared flags (prepared, seed, device, progress,
    checkpointing, record batch size) of `pf train` and `pf train-many`."""
    _, result, seconds = run_train(args.prepared, method, options, training, args.seed,
                                   out, teacher=teacher, device=args.device,
                                   checkpoint_every=args.checkpoint_every,
                                   resume_dir=resume_dir,
                                   progress_every=args.progress_every,
                                   progress_seconds=args.progress_seconds,
                                   remove_resume=False)
    resumed = (f" (resumed at step {result.resumed['step']} of stage '{result.resumed['stage']}')"
               if result.resumed else "")
    print(f"trained {method} in {seconds:.1f}s on {result.device}{resumed} -> "
          f"{Path(out) / 'model.json'}", flush=True)
    for split, path in records:
        rec = record_outputs(out, args.prepared, split, path, batch_size=args.record_batch_size,
                             device=args.device, progress=None)
        n, e, c = rec.logits.shape
        print(f"recorded {split}: {n} examples x {e} exits x {c} labels -> {path}", flush=True)
    # only now: a kill while recording reruns from the last checkpoint, not from scratch
    finish_resume(out, resume_dir)


def _run(args) -> int:
    from pf.methods.registry import get_method

    check_run_options(args)
    get_method(args.method)
    records = _records(args.record)
    options = json_arg("--options", args.options)
    training = json_arg("--training", args.training)
    train_and_record(args, args.method, options, training, args.out, args.teacher, records,
                     resume_dir=args.resume_dir)
    return 0


def _records(specs: list[str]) -> list[tuple[str, str]]:
    records = []
    for spec in specs:
        split, sep, path = spec.partition("=")
        if not sep or not split or not path:
            raise PfError(f"--record expects SPLIT=FILE, got '{spec}'")
        records.append((split, path))
    return records


def add_run_options(p) -> None:
    """Recording, checkpointing and progress flags, shared with `pf train-many` (checked
    by check_run_options)."""
    p.add_argument("--record-batch-size", type=int, default=64,
                   help="batch size of the passes that record per-layer outputs")
    p.add_argument("--checkpoint-every",
                   default=os.environ.get("PF_CHECKPOINT_EVERY", DEFAULT_CHECKPOINT_EVERY),
                   metavar="WHEN",
                   help="save the training state every N optimizer steps (500) or every "
                        "duration (10m, 90s, 1h); 0 disables (default: $PF_CHECKPOINT_EVERY, "
                        f"else {DEFAULT_CHECKPOINT_EVERY}; the workflow's jobs inherit the "
                        "variable)")
    p.add_argument("--progress-every", type=int, default=None, metavar="STEPS",
                   help="a progress record every STEPS optimizer steps (default 50)")
    p.add_argument("--progress-seconds", type=float, default=None, metavar="S",
                   help="... and at least every S seconds (default 30)")


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "train", help="fine-tune one method on prepared data", description=__doc__,
        epilog="example:\n  pf train --prepared results/prepared/bert/rte --method pf "
               "--options '{\"strategy\": \"concat\"}' \\\n      --training '{\"epochs\": 1}' "
               "--seed 42 --out results/models/bert/rte/pf/seed42\n")
    p.add_argument("--prepared", required=True, help="directory written by `pf prepare`")
    from pf.methods.registry import METHODS

    p.add_argument("--method", required=True,
                   help=f"a registered method: {', '.join(METHODS)} (plug-ins: pf --plugin)")
    p.add_argument("--options", default=None, help="method options: JSON text or file")
    p.add_argument("--training", default=None,
                   help="training arguments: JSON text or file (lr, batch_size, grad_accum, "
                        "epochs, max_steps, warmup_ratio, weight_decay, max_grad_norm, "
                        "select_on_dev, precision, group_by_length, eval_batch_size)")
    p.add_argument("--seed", type=int, required=True,
                   help="seed of everything random: initialisation, data order, dropout")
    p.add_argument("--out", required=True, help="checkpoint directory")
    p.add_argument("--teacher", default=None,
                   help="teacher checkpoint of a distillation student ("
                        f"{', '.join(m for m, spec in METHODS.items() if spec.teacher)})")
    add_device_options(p, precision=False)
    p.add_argument("--record", action="append", default=[], metavar="SPLIT=FILE",
                   help="also write the per-layer outputs of SPLIT to FILE (repeatable)")
    add_run_options(p)
    p.add_argument("--resume-dir", default=None,
                   help="where checkpoints go and a rerun resumes from (default: OUT.resume)")
    p.set_defaults(func=_run)
