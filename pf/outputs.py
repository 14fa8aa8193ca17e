"""`pf outputs`: run a trained model once over a split and record every exit's logits.

pf outputs --model DIR --prepared DIR --split dev --out FILE.safetensors [--batch-size B]
           [--device auto|cpu|cuda] [--precision fp32|bf16|fp16] [--threads N]

Eval mode, no gradients; rows are batched by similar length and each batch is cut to its
longest row (pf.train.data), and the file lists the rows in the split's order. On CUDA the
model runs under autocast in `--precision` (default: what it was trained with); the CPU
runs fp32. Progress: a plain line every 50 batches or 30 s when stdout is not a terminal.
The file format lives in `pf.layer_outputs` (numpy only) and the recording in
`pf.train.record` (which `pf train --record` shares), both re-exported here. torch is imported
only inside the functions that run the model, so `from pf.outputs import load_outputs` stays
light.
"""

from __future__ import annotations

from pf.errors import PfError
from pf.layer_outputs import FORMAT, LayerOutputs, load_outputs, save_outputs
from pf.train.args import add_checkpoint_options, add_device_options
from pf.train.record import record_outputs

__all__ = ["FORMAT", "LayerOutputs", "load_outputs", "save_outputs", "record_outputs", "register"]


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
    add_checkpoint_options(p, "split of the prepared data: train, dev or heldout")
    p.add_argument("--out", required=True, help="output .safetensors file")
    p.add_argument("--batch-size", type=int, default=64, help="examples per forward pass")
    add_device_options(p)
    p.set_defaults(func=_run)
