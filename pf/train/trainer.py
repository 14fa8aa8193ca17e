"""The one trainer: every method, every stage, CPU or CUDA.

Why it is shaped this way:
- Methods define their stages (`model.stages()`, e.g. DeeBERT's two); each stage gets a fresh
  AdamW (weight decay on everything but biases and LayerNorm weights) over the parameters
  that still require grad, a linear warmup/decay schedule, and the epoch budget.
- Determinism: torch, numpy and python `random` are seeded from the job seed; the data order
  comes from its own seeded generator and freezing decisions from another, so a CPU run
  repeats bit for bit, and switching freezing on does not change the data order.
- Gradient accumulation weights each micro-batch by its number of examples, so an
  accumulated step equals one large batch.
- A non-finite loss stops training with a PfError; nothing has been written at that point
  (the checkpoint and log are written only after training succeeds).
- The log is returned as records (one per optimizer step plus dev evaluations), to be written
  as JSON lines next to the checkpoint.
"""

from __future__ import annotations

import contextlib
import math
import random
import sys
import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from torch import nn

from pf.errors import PfError
from pf.methods.base import MultiExitModel, TrainContext
from pf.train.args import TrainingArgs
from pf.train.data import Examples, batch_rows


@dataclass
class TrainResult:
    log: list[dict[str, Any]] = field(default_factory=list)
    selected: dict[str, Any] = field(default_factory=dict)   # which checkpoint was kept
    seconds_per_epoch: dict[str, float] = field(default_factory=dict)   # mean, per stage
    epoch_seconds: dict[str, list[float]] = field(default_factory=dict)  # every epoch, per stage
    epoch_cpu_seconds: dict[str, list[float]] = field(default_factory=dict)  # process CPU time
    device: str = "cpu"
    precision: str = "fp32"


def set_seed(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def pick_device() -> torch.device:
    return torch.device("cuda") if torch.cuda.is_available() else torch.device("cpu")


def param_groups(model: nn.Module, weight_decay: float,
                 only: list[nn.Parameter] | None = None) -> list[dict[str, Any]]:
    """AdamW groups: no decay for biases and LayerNorm weights; only trainable parameters
    (and, given `only`, only those)."""
    chosen = None if only is None else {id(p) for p in only}
    no_decay: set[int] = set()
    for module in model.modules():
        if isinstance(module, nn.LayerNorm):
            no_decay.update(id(p) for p in module.parameters(recurse=False))
    decay, plain = [], []
    seen: set[int] = set()
    for name, p in model.named_parameters():
        if not p.requires_grad or id(p) in seen or (chosen is not None and id(p) not in chosen):
            continue
        seen.add(id(p))
        if id(p) in no_decay or name.endswith("bias"):
            plain.append(p)
        else:
            decay.append(p)
    return [{"params": decay, "weight_decay": weight_decay},
            {"params": plain, "weight_decay": 0.0}]


def linear_schedule(optimizer, warmup: int, total: int):
    def factor(step: int) -> float:
        if step < warmup:
            return (step + 1) / (warmup + 1)
        return max(0.0, (total - step) / max(1, total - warmup))
    return torch.optim.lr_scheduler.LambdaLR(optimizer, factor)


def autocast_for(device: torch.device, precision: str):
    if device.type == "cuda" and precision in ("bf16", "fp16"):
        dtype = torch.bfloat16 if precision == "bf16" else torch.float16
        return torch.autocast(device_type="cuda", dtype=dtype)
    return contextlib.nullcontext()


@torch.no_grad()
def predict_logits(model: MultiExitModel, data: Examples, batch_size: int,
                   device: torch.device | str = "cpu", precision: str = "fp32") -> torch.Tensor:
    """Per-exit logits [N, E, C] (float32, CPU) of the model in eval mode."""
    was_training = model.training
    model.eval()
    device = torch.device(device)
    chunks = []
    try:
        for rows in batch_rows(len(data), batch_size):
            inputs, _ = data.batch(rows, device)
            with autocast_for(device, precision):
                chunks.append(model(inputs).logits.float().cpu())
    finally:
        model.train(was_training)
    return torch.cat(chunks, 0)


def exit_accuracies(model, data: Examples, batch_size: int, device, precision) -> list[float]:
    logits = predict_logits(model, data, batch_size, device, precision)
    return (logits.argmax(-1) == data.labels[:, None]).float().mean(0).tolist()


def _progress(total: int, desc: str, enabled: bool | None):
    from tqdm.auto import tqdm

    disable = not sys.stderr.isatty() if enabled is None else not enabled
    return tqdm(total=total, desc=desc, disable=disable, leave=False, dynamic_ncols=True)


def train(model: MultiExitModel, data: Examples, args: TrainingArgs, seed: int, *,
          dev: Examples | None = None, device: torch.device | str | None = None,
          progress: bool | None = None, only_stages: tuple[str, ...] | None = None
          ) -> TrainResult:
    """Train `model` in place through all its stages (or `only_stages`, in the model's
    order: used to resume a later stage); returns the log (see module doc)."""
    device = torch.device(device) if device is not None else pick_device()
    precision = args.precision if device.type == "cuda" else "fp32"
    if precision != args.precision:
        print(f"pf train: note: precision '{args.precision}' needs CUDA; running fp32 on "
              f"{device.type}", file=sys.stderr)
    if args.select_on_dev and dev is None:
        raise PfError("training: 'select_on_dev' needs a dev split")
    model.to(device)
    result = TrainResult(device=str(device), precision=precision)
    data_gen = torch.Generator().manual_seed(seed)
    freeze_gen = torch.Generator().manual_seed(seed + 1)
    scaler = torch.amp.GradScaler("cuda") if precision == "fp16" else None
    best: tuple[float, dict[str, torch.Tensor]] | None = None
    stages = model.stages()
    if only_stages is not None:
        bad = [s for s in only_stages if s not in stages]
        if bad:
            raise PfError(f"method '{model.method}' has no stage(s) {bad}; stages: {list(stages)}")
        stages = tuple(s for s in stages if s in only_stages)
    n_batches = math.ceil(len(data) / args.batch_size)
    steps_per_epoch = math.ceil(n_batches / args.grad_accum)

    for stage_no, stage in enumerate(stages):
        model.set_stage(stage)
        model.train()
        # the optimizer may update fewer parameters than receive gradients (DeeBERT stage 2
        # as originally written); clipping and zeroing cover every gradient
        optimizer = torch.optim.AdamW(
            param_groups(model, args.weight_decay, model.optimizer_parameters(stage)), lr=args.lr)
        total = args.epochs * steps_per_epoch
        if args.max_steps is not None:
            total = min(total, args.max_steps)
        scheduler = linear_schedule(optimizer, round(args.warmup_ratio * total), total)
        step = 0
        forwards = 0
        bar = _progress(total, f"{model.method}:{stage}", progress)
        epoch_times: list[float] = []
        epoch_cpu: list[float] = []
        for epoch in range(args.epochs):
            if step >= total:
                break
            started, started_cpu = time.perf_counter(), time.process_time()
            batches = batch_rows(len(data), args.batch_size, data_gen)
            for start in range(0, len(batches), args.grad_accum):
                if step >= total:
                    break
                group = batches[start:start + args.grad_accum]
                ctx = TrainContext(step=step, total_steps=total, stage=stage, epoch=epoch,
                                   generator=freeze_gen, forward_step=forwards,
                                   micro_batches=len(group))
                ctx.freeze = model.sample_freeze(ctx)
                forwards += len(group)
                model.zero_grad(set_to_none=True)
                n_group = sum(len(r) for r in group)
                loss_sum, parts_sum = 0.0, {}
                for micro_batch, rows in enumerate(group):
                    ctx.micro_batch = micro_batch
                    inputs, labels = data.batch(rows, device)
                    with autocast_for(device, precision):
                        out = model(inputs, ctx)
                        terms = model.loss(out, labels, ctx)
                    value = float(terms.total.detach())
                    if not math.isfinite(value):
                        bar.close()
                        raise PfError(
                            f"training diverged: the {model.method} loss is {value} at stage "
                            f"'{stage}', epoch {epoch + 1}, step {step + 1}; nothing was "
                            f"written. Lower the learning rate or use precision fp32.")
                    share = len(rows) / n_group
                    scaled = terms.total * share
                    (scaler.scale(scaled) if scaler else scaled).backward()
                    loss_sum += value * share
                    for k, v in terms.parts.items():
                        parts_sum[k] = parts_sum.get(k, 0.0) + float(v) * share
                for p in model.frozen_parameters(ctx.freeze):
                    p.grad = None
                if scaler:
                    scaler.unscale_(optimizer)
                    in_optimizer = {id(p) for g in optimizer.param_groups for p in g["params"]}
                    for p in model.parameters():
                        if p.grad is not None and id(p) not in in_optimizer:
                            p.grad.div_(scaler.get_scale())
                grad_norm = None
                if args.max_grad_norm > 0:
                    grad_norm = float(torch.nn.utils.clip_grad_norm_(
                        [p for p in model.parameters() if p.grad is not None],
                        args.max_grad_norm))
                lr = optimizer.param_groups[0]["lr"]
                if scaler:
                    scaler.step(optimizer)
                    scaler.update()
                else:
                    optimizer.step()
                scheduler.step()
                step += 1
                bar.update(1)
                record = {"kind": "step", "stage": stage, "epoch": epoch + 1, "step": step,
                          "lr": lr, "loss": loss_sum, **parts_sum}
                if grad_norm is not None:
                    record["grad_norm"] = grad_norm
                if ctx.freeze is not None:
                    record["freeze"] = {"detached": [list(d) for d in ctx.freeze.detached],
                                        "frozen_layers": list(ctx.freeze.frozen_layers)}
                result.log.append(record)
            epoch_times.append(time.perf_counter() - started)
            epoch_cpu.append(time.process_time() - started_cpu)
            if args.select_on_dev and stage_no == len(stages) - 1:
                accs = exit_accuracies(model, dev, args.eval_batch_size, device, precision)
                score = float(np.mean(accs))
                result.log.append({"kind": "dev", "stage": stage, "epoch": epoch + 1,
                                   "step": step, "exit_accuracy": accs, "mean_accuracy": score})
                if best is None or score > best[0]:
                    best = (score, {k: v.detach().clone() for k, v in model.state_dict().items()})
                    result.selected = {"policy": "best_dev", "stage": stage,
                                       "epoch": epoch + 1, "step": step, "dev_mean_accuracy": score}
        bar.close()
        result.seconds_per_epoch[stage] = float(np.mean(epoch_times)) if epoch_times else 0.0
        result.epoch_seconds[stage] = epoch_times
        result.epoch_cpu_seconds[stage] = epoch_cpu
    if best is not None:
        model.load_state_dict(best[1])
    else:
        result.selected = {"policy": "last"}
    model.eval()
    return result
