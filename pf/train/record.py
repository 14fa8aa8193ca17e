"""Recording a checkpoint's per-layer logits over a split (what `pf outputs` and
`pf train --record` write): eval mode, no gradients, rows batched by similar length and each
batch cut to its longest row (pf.train.data); the file (pf.layer_outputs) lists the rows in
the split's order. On CUDA the model runs under autocast in `precision` (default: what it was
trained with); the CPU runs fp32.
"""

from __future__ import annotations

from pf.errors import PfError
from pf.layer_outputs import LayerOutputs, save_outputs


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
