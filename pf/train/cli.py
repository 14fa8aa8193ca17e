"""`pf train`: prepared data + method + options -> checkpoint directory.

pf train --prepared DIR --method NAME --options JSON --training JSON --seed S --out DIR
         [--teacher DIR] [--threads N] [--record SPLIT=FILE ...]

`--record` writes the per-layer outputs of a split (exactly what `pf outputs` writes, from
the checkpoint just saved) in the same process: importing torch and transformers costs
several seconds per process, which dominates the small jobs of the default configuration.

JSON arguments are JSON text or a path to a JSON file. Options and training arguments are
validated before any data is read. The checkpoint (model.safetensors, train_log.jsonl and,
last, model.json) is written only once training has succeeded.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

from pf.errors import PfError


def _json_arg(flag: str, text: str | None) -> Any:
    from pf.io import read_json

    if text is None:
        return None
    if text.lstrip().startswith(("{", "[")):
        try:
            return json.loads(text)
        except json.JSONDecodeError as err:
            raise PfError(f"{flag}: not valid JSON ({err})") from None
    return read_json(text)


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


def run_train(prepared: str, method: str, options: dict | None, training: dict | None,
              seed: int, out: str, teacher: str | None = None, device=None,
              progress: bool | None = None):
    """The whole of `pf train` as a function (used by the CLI, tests and benchmarks)."""
    import torch

    from pf.backbones import load_encoder
    from pf.methods.checkpoint import save_checkpoint
    from pf.methods.registry import build_model, parse_method_options
    from pf.prepare import load_split, read_meta
    from pf.train.args import TrainingArgs
    from pf.train.data import Examples
    from pf.train.trainer import set_seed, train

    options = dict(options or {})
    if teacher is not None:
        options["teacher"] = teacher
    parse_method_options(method, options)            # fail fast on bad options
    args = TrainingArgs.from_dict(training)
    meta = read_meta(prepared)
    spec = backbone_spec_of(meta)
    train_data = Examples.from_split(load_split(prepared, "train"))
    select_data = (Examples.from_split(load_split(prepared, selection_split(prepared, meta)))
                   if args.select_on_dev else None)
    set_seed(seed)
    encoder = load_encoder(spec, int(meta["vocab_size"]), int(meta["pad_token_id"]), seed)
    torch.manual_seed(seed)
    model = build_model(method, options, encoder, num_labels_of(meta))
    started = time.perf_counter()
    result = train(model, train_data, args, seed, dev=select_data, device=device,
                   progress=progress)
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
    model.to("cpu")
    save_checkpoint(model, out, info, result.log)
    return model, result, time.perf_counter() - started


def _run(args) -> int:
    import torch

    from pf.methods.registry import get_method

    if args.threads is not None:
        if args.threads < 1:
            raise PfError(f"--threads must be positive, got {args.threads}")
        torch.set_num_threads(args.threads)
    get_method(args.method)
    records = _records(args.record)
    if args.record_batch_size < 1:
        raise PfError(f"--record-batch-size must be positive, got {args.record_batch_size}")
    options = _json_arg("--options", args.options)
    if options is not None and not isinstance(options, dict):
        raise PfError("--options: expected a JSON object")
    training = _json_arg("--training", args.training)
    if training is not None and not isinstance(training, dict):
        raise PfError("--training: expected a JSON object")
    _, result, seconds = run_train(args.prepared, args.method, options, training, args.seed,
                                   args.out, teacher=args.teacher)
    print(f"trained {args.method} in {seconds:.1f}s on {result.device} -> "
          f"{Path(args.out) / 'model.json'}")
    for split, path in records:
        from pf.outputs import record_outputs

        out = record_outputs(args.out, args.prepared, split, path, batch_size=args.record_batch_size)
        n, e, c = out.logits.shape
        print(f"recorded {split}: {n} examples x {e} exits x {c} labels -> {path}")
    return 0


def _records(specs: list[str]) -> list[tuple[str, str]]:
    records = []
    for spec in specs:
        split, sep, path = spec.partition("=")
        if not sep or not split or not path:
            raise PfError(f"--record expects SPLIT=FILE, got '{spec}'")
        records.append((split, path))
    return records


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "train", help="fine-tune one method on prepared data", description=__doc__,
        epilog="example:\n  pf train --prepared results/prepared/bert/rte --method pf "
               "--options '{\"strategy\": \"concat\"}' \\\n      --training '{\"epochs\": 1}' "
               "--seed 42 --out results/models/bert/rte/pf/seed42\n")
    p.add_argument("--prepared", required=True, help="directory written by `pf prepare`")
    p.add_argument("--method", required=True, help="pf, deebert, pabee, full, truncated, kd, pkd, tinybert")
    p.add_argument("--options", default=None, help="method options: JSON text or file")
    p.add_argument("--training", default=None,
                   help="training arguments: JSON text or file (lr, batch_size, grad_accum, "
                        "epochs, max_steps, warmup_ratio, weight_decay, max_grad_norm, "
                        "select_on_dev, precision)")
    p.add_argument("--seed", type=int, required=True,
                   help="seed of everything random: initialisation, data order, dropout")
    p.add_argument("--out", required=True, help="checkpoint directory")
    p.add_argument("--teacher", default=None, help="teacher `full` checkpoint (kd, pkd, tinybert)")
    p.add_argument("--threads", type=int, default=None, help="torch CPU threads")
    p.add_argument("--record", action="append", default=[], metavar="SPLIT=FILE",
                   help="also write the per-layer outputs of SPLIT to FILE (repeatable)")
    p.add_argument("--record-batch-size", type=int, default=64,
                   help="batch size of the --record passes")
    p.set_defaults(func=_run)
