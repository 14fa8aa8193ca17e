"""`pf outputs`: run a trained model once over a split and record every exit's logits.

pf outputs --model DIR --prepared DIR --split dev --out FILE.safetensors [--batch-size B]
           [--device auto|cpu|cuda] [--precision fp32|bf16|fp16] [--threads N]

Eval mode, no gradients; rows are batched by similar length and each batch is cut to its
longest row (pf.train.data), and the file lists the rows in the split's order. On CUDA the
model runs under autocast in `--precision` (default: what it was trained with); the CPU
runs fp32. Progress: a plain line every 50 batches or 30 s when stdout is not a terminal.
The file format lives in `pf.layer_outputs` (numpy only), re-exported here. torch is
imported only inside the functions that run the model, so `from pf.outputs import
load_outputs` stays light.
"""

from __future__ import annotations

from pf.errors import PfError
from pf.layer_outputs import FORMAT, LayerOutputs, load_outputs, save_outputs

__all__ = ["FORMAT", "LayerOutputs", "load_outputs", "save_outputs", "record_outputs", "register"]


def record_outputs(model_dir, prepared, split: str, out_path, *, batch_size: int = 64,
                   device=None, precision: str | None = None, progress: bool | None = False
                   ) -> LayerOutputs:
    """Load the checkpoint, run it over the split, write `out_path` atomically.
    `progress`: see pf.progress.Progress (False: quiet; None: bar or lines)."""
    import math

    import numpy as np

    from pf.methods.checkpoint import load_checkpoint
    from pf.prepare import load_split, read_meta
    from pf.progress import Progress
    from pf.train.data import Examples
    from pf.train.trainer import (effective_precision, model_precision, predict_logits,
                                  resolve_device)

    device = resolve_device(device)
    loaded = load_checkpoint(model_dir, device)
    precision = effective_precision(device, precision or model_precision(loaded.info))
    meta = read_meta(prepared)
    if meta.get("task") != loaded.info.get("task"):
        raise PfError(f"{prepared}: task '{meta.get('task')}' differs from the model's "
                      f"'{loaded.info.get('task')}' ({model_dir})")
    data_split = load_split(prepared, split)
    data = Examples.from_split(data_split)
    bar = Progress(f"pf outputs {split}", math.ceil(len(data) / batch_size), unit="batch",
                   display=progress)
    logits = predict_logits(loaded.model, data, batch_size, device, precision, progress=bar)
    bar.close()
    info = loaded.info
    out = LayerOutputs(
        logits=logits.numpy().astype(np.float32),
        labels=data.labels.numpy().astype(np.int64),
        exit_layers=np.asarray(info["exit_layers"], dtype=np.int64),
        ids=[str(i) for i in data_split.ids],
        n_layers=int(info["n_layers_full"]),
        task=str(info["task"]),
        backbone=str(info["backbone"]["name"]),
        method=str(info["method"]),
        split=split,
    )
    save_outputs(out_path, out)
    return out


def _run(args) -> int:
    if args.threads is not None:
        import torch

        torch.set_num_threads(args.threads)
    if args.batch_size < 1:
        raise PfError(f"--batch-size must be positive, got {args.batch_size}")
    out = record_outputs(args.model, args.prepared, args.split, args.out,
                         batch_size=args.batch_size, device=args.device,
                         precision=args.precision, progress=None)
    n, e, c = out.logits.shape
    print(f"wrote {args.out}: {n} examples x {e} exits x {c} labels")
    return 0


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "outputs", help="record every exit's logits of a trained model", description=__doc__,
        epilog="example:\n  pf outputs --model results/models/bert/rte/pf/seed42 "
               "--prepared results/prepared/bert/rte \\\n      --split heldout "
               "--out results/outputs/bert/rte/pf/seed42/heldout.safetensors\n")
    p.add_argument("--model", required=True, help="checkpoint directory (pf train --out)")
    p.add_argument("--prepared", required=True, help="prepared data directory")
    p.add_argument("--split", default="dev", help="split of the prepared data: train, dev or heldout")
    p.add_argument("--out", required=True, help="output .safetensors file")
    p.add_argument("--batch-size", type=int, default=64, help="examples per forward pass")
    p.add_argument("--device", default="auto",
                   help="auto (CUDA when available, default) | cpu | cuda")
    p.add_argument("--precision", default=None, choices=("fp32", "bf16", "fp16"),
                   help="autocast on CUDA (default: what the model was trained with); "
                        "the CPU runs fp32")
    p.add_argument("--threads", type=int, default=None, help="torch CPU threads")
    p.set_defaults(func=_run)
