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
- Batches are cut to their longest row (pf.train.data); on CUDA, `precision` bf16 or fp16
  runs the forward pass under autocast (fp16 with loss scaling); CPU always runs fp32.
- No host synchronisation per step: the loss, its parts and the gradient norm stay on the
  device until a progress record is due (every `Monitor.every_steps` steps or
  `every_seconds`), when they are fetched at once. A non-finite loss is found then and
  stops training with a PfError naming its step; no checkpoint is written after it.
- Progress streams (pf.progress): a line per record when stdout is not a terminal, and every
  record (per step, per dev evaluation, progress) is appended to `Monitor.log_path` as it
  comes, so `tail -f` shows a job alive; the returned log holds the same records.
- Mid-training checkpoints (pf.train.resume): every `checkpoint_every`, at an optimizer-step
  boundary, the whole training state is saved; a rerun with the same arguments resumes from
  it and, on CPU, ends bit for bit where an uninterrupted run ends.
"""

from __future__ import annotations

import contextlib
import math
import random
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from pf.backbones import to_device
from pf.errors import PfError
from pf.methods.base import MultiExitModel, TrainContext
from pf.progress import EVERY_SECONDS, EVERY_STEPS, JsonLines, Progress
from pf.train.args import TrainingArgs
from pf.train.data import Examples, eval_batches, restore_order, training_batches
from pf.train.resume import Every, ResumePoint, ResumeStore, RngState

DEVICES = ("auto", "cpu", "cuda")


@dataclass
class TrainResult:
    log: list[dict[str, Any]] = field(default_factory=list)
    selected: dict[str, Any] = field(default_factory=dict)   # which checkpoint was kept
    seconds_per_epoch: dict[str, float] = field(default_factory=dict)   # mean, per stage
    epoch_seconds: dict[str, list[float]] = field(default_factory=dict)  # every epoch, per stage
    epoch_cpu_seconds: dict[str, list[float]] = field(default_factory=dict)  # process CPU time
    device: str = "cpu"
    precision: str = "fp32"
    resumed: dict[str, Any] | None = None      # where a resumed run took over


@dataclass(frozen=True)
class Monitor:
    """How a training run reports and protects itself (none of it changes the result)."""

    log_path: Path | None = None        # train_log.jsonl, appended as training goes
    display: bool | None = None         # pf.progress.Progress: None = bar or lines, False = quiet
    every_steps: int = EVERY_STEPS
    every_seconds: float = EVERY_SECONDS
    resume: ResumeStore | None = None   # mid-training checkpoints (None: none)
    checkpoint_every: Every = Every()


def set_seed(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def pick_device() -> torch.device:
    return torch.device("cuda") if torch.cuda.is_available() else torch.device("cpu")


def resolve_device(device: torch.device | str | None) -> torch.device:
    """None or 'auto': CUDA when available, else the CPU; 'cuda' without CUDA is an error."""
    if device is None or str(device) == "auto":
        return pick_device()
    try:
        dev = torch.device(device)
    except (RuntimeError, TypeError):
        raise PfError(f"--device: {device!r} is not one of {', '.join(DEVICES)}") from None
    if dev.type not in ("cpu", "cuda"):
        raise PfError(f"--device: {device!r} is not one of {', '.join(DEVICES)}")
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise PfError("--device cuda: no CUDA device is available here (torch "
                      f"{torch.__version__}, CUDA build: {torch.version.cuda or 'no'}); use "
                      "--device cpu or auto, or run on a GPU node")
    return dev


def effective_precision(device: torch.device, precision: str) -> str:
    """bf16/fp16 autocast runs on CUDA only; elsewhere fp32 (bit-reproducible)."""
    return precision if device.type == "cuda" else "fp32"


def model_precision(info: dict[str, Any]) -> str:
    """The precision a checkpoint was trained with (its model.json), fp32 if unknown:
    what `pf outputs` and `pf latency` run it in on CUDA by default."""
    from pf.train.args import PRECISIONS

    value = (info.get("training") or {}).get("precision", "fp32")
    return value if value in PRECISIONS else "fp32"


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
                   device: torch.device | str = "cpu", precision: str = "fp32",
                   progress: Progress | None = None) -> torch.Tensor:
    """Per-exit logits [N, E, C] (float32, CPU) of the model in eval mode, in row order.
    Rows are batched by similar length (dynamic padding); logits stay on the device until
    the end (one copy)."""
    was_training = model.training
    model.eval()
    device = torch.device(device)
    batches = eval_batches(data, batch_size)
    chunks = []
    try:
        for rows in batches:
            inputs, _ = data.batch(rows, device)
            with autocast_for(device, precision):
                chunks.append(model(inputs).logits.float())
            if progress is not None:
                progress.advance(1, len(rows))
                if progress.due():
                    progress.record()
    finally:
        model.train(was_training)
    return restore_order(chunks, batches).cpu()


def exit_accuracies(model, data: Examples, batch_size: int, device, precision) -> list[float]:
    logits = predict_logits(model, data, batch_size, device, precision)
    return (logits.argmax(-1) == data.labels[:, None]).float().mean(0).tolist()


class _StepLog:
    """Step records whose numbers are still on the device, fetched all at once."""

    def __init__(self):
        self.records: list[dict[str, Any]] = []
        self.values: list[torch.Tensor] = []
        self.keys: list[list[str]] = []

    def add(self, record: dict[str, Any], values: dict[str, torch.Tensor]) -> None:
        self.records.append(record)
        self.keys.append(list(values))
        self.values.append(torch.stack([v.detach().float().reshape(()) for v in values.values()]))

    def fetch(self, model: MultiExitModel, stage: str) -> list[dict[str, Any]]:
        """The complete records (one host sync); PfError at the first non-finite loss."""
        if not self.records:
            return []
        numbers = torch.stack(self.values).cpu().tolist()
        out = []
        for record, keys, row in zip(self.records, self.keys, numbers):
            record = {**record, **dict(zip(keys, row))}
            if not math.isfinite(record["loss"]):
                raise PfError(
                    f"training diverged: the {model.method} loss is {record['loss']} at stage "
                    f"'{stage}', epoch {record['epoch']}, step {record['step']}; no model was "
                    f"written. Lower the learning rate or use precision fp32.")
            out.append(record)
        self.__init__()
        return out


def train(model: MultiExitModel, data: Examples, args: TrainingArgs, seed: int, *,
          dev: Examples | None = None, device: torch.device | str | None = None,
          progress: bool | None = None, only_stages: tuple[str, ...] | None = None,
          monitor: Monitor | None = None) -> TrainResult:
    """Train `model` in place through all its stages (or `only_stages`, in the model's
    order: used to resume a later stage); returns the log (see module doc). `progress`
    is a shortcut for `Monitor(display=progress)`."""
    monitor = monitor or Monitor(display=progress)
    device = resolve_device(device)
    precision = effective_precision(device, args.precision)
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
    # e.g. a distillation teacher's logits: computed once per example, not once per step
    targets = model.training_targets(data, args.eval_batch_size, device,
                                     lambda: autocast_for(device, precision))

    point = monitor.resume.load() if monitor.resume is not None else None
    if point is not None and (point.stage_index >= len(stages) or stages[point.stage_index] != point.stage):
        point = None
    if point is not None:
        model.load_state_dict(point.model)
        if point.best is not None:
            best = (float(point.best_score), point.best)
        restored = point.result
        result.log = list(restored.get("log", []))
        result.selected = dict(restored.get("selected", {}))
        for key in ("seconds_per_epoch", "epoch_seconds", "epoch_cpu_seconds"):
            getattr(result, key).update(restored.get(key, {}))
        result.resumed = {"stage": point.stage, "epoch": point.epoch + 1, "step": point.step}
        print(f"pf train: resuming from {monitor.resume.dir} at stage '{point.stage}', "
              f"epoch {point.epoch + 1}, step {point.step}", flush=True)
    log_file = JsonLines(monitor.log_path) if monitor.log_path is not None else None
    if log_file is not None:
        log_file.write(result.log)
    pending = _StepLog()
    last_checkpoint = time.monotonic()

    def emit(records: list[dict[str, Any]]) -> None:
        result.log.extend(records)
        if log_file is not None:
            log_file.write(records)

    try:
        for stage_no, stage in enumerate(stages):
            if point is not None and stage_no < point.stage_index:
                continue
            model.set_stage(stage)
            model.train()
            # the optimizer may update fewer parameters than receive gradients (DeeBERT stage 2
            # as originally written); clipping and zeroing cover every gradient
            optimizer = torch.optim.AdamW(
                param_groups(model, args.weight_decay, model.optimizer_parameters(stage)),
                lr=args.lr)
            total = args.epochs * steps_per_epoch
            if args.max_steps is not None:
                total = min(total, args.max_steps)
            scheduler = linear_schedule(optimizer, round(args.warmup_ratio * total), total)
            # walked every step (zeroing, clipping); model.parameters() re-walks the module
            # tree each time, about 5% of a tiny model's step
            params = list(model.parameters())
            step = first_epoch = first_batch = forwards = 0
            if point is not None:
                optimizer.load_state_dict(point.optimizer)
                scheduler.load_state_dict(point.scheduler)
                if scaler is not None and point.scaler:
                    scaler.load_state_dict(point.scaler)
                point.rng.restore(data_gen, freeze_gen)
                step, first_epoch, first_batch = point.step, point.epoch, point.next_batch
                forwards = point.forwards
                point = None
            bar = Progress(f"pf train {model.method}:{stage}", total, done=step,
                           display=monitor.display, every_steps=monitor.every_steps,
                           every_seconds=monitor.every_seconds)
            epoch_times = result.epoch_seconds.setdefault(stage, [])
            epoch_cpu = result.epoch_cpu_seconds.setdefault(stage, [])
            running: list[float] = []
            for epoch in range(first_epoch, args.epochs):
                if step >= total:
                    break
                started, started_cpu = time.perf_counter(), time.process_time()
                epoch_start_state = data_gen.get_state()
                batches = training_batches(data, args.batch_size, data_gen, args.group_by_length)
                start_at = first_batch if epoch == first_epoch else 0
                for start in range(start_at, len(batches), args.grad_accum):
                    if step >= total:
                        break
                    group = batches[start:start + args.grad_accum]
                    ctx = TrainContext(step=step, total_steps=total, stage=stage, epoch=epoch,
                                       generator=freeze_gen, forward_step=forwards,
                                       micro_batches=len(group))
                    ctx.freeze = model.sample_freeze(ctx)
                    forwards += len(group)
                    for p in params:
                        p.grad = None
                    n_group = sum(len(r) for r in group)
                    loss_sum = torch.zeros((), device=device)
                    parts_sum: dict[str, torch.Tensor] = {}
                    for micro_batch, rows in enumerate(group):
                        ctx.micro_batch = micro_batch
                        if targets is not None:
                            ctx.targets = {k: to_device(v[rows], device) for k, v in targets.items()}
                        inputs, labels = data.batch(rows, device)
                        with autocast_for(device, precision):
                            out = model(inputs, ctx)
                            terms = model.loss(out, labels, ctx)
                        share = len(rows) / n_group
                        scaled = terms.total * share
                        (scaler.scale(scaled) if scaler else scaled).backward()
                        loss_sum = loss_sum + terms.total.detach().float() * share
                        for k, v in terms.parts.items():
                            parts_sum[k] = parts_sum.get(k, 0.0) + v.detach().float() * share
                    for p in model.frozen_parameters(ctx.freeze):
                        p.grad = None
                    if scaler:
                        scaler.unscale_(optimizer)
                        in_optimizer = {id(p) for g in optimizer.param_groups for p in g["params"]}
                        for p in params:
                            if p.grad is not None and id(p) not in in_optimizer:
                                p.grad.div_(scaler.get_scale())
                    grad_norm = None
                    if args.max_grad_norm > 0:
                        grad_norm = torch.nn.utils.clip_grad_norm_(
                            [p for p in params if p.grad is not None],
                            args.max_grad_norm)
                    lr = optimizer.param_groups[0]["lr"]
                    if scaler:
                        scaler.step(optimizer)
                        scaler.update()
                    else:
                        optimizer.step()
                    scheduler.step()
                    step += 1
                    bar.advance(1, n_group)
                    record = {"kind": "step", "stage": stage, "epoch": epoch + 1, "step": step,
                              "lr": lr}
                    if ctx.freeze is not None:
                        record["freeze"] = {"detached": [list(d) for d in ctx.freeze.detached],
                                            "frozen_layers": list(ctx.freeze.frozen_layers)}
                    values = {"loss": loss_sum, **parts_sum}
                    if grad_norm is not None:
                        values["grad_norm"] = grad_norm
                    pending.add(record, values)
                    checkpoint = (monitor.resume is not None and step < total
                                  and _checkpoint_due(monitor.checkpoint_every, step,
                                                      last_checkpoint))
                    if bar.due() or checkpoint:
                        steps = pending.fetch(model, stage)
                        running.extend(r["loss"] for r in steps)
                        emit(steps)
                        if bar.due():
                            emit([bar.record(stage=stage, epoch=epoch + 1, epochs=args.epochs,
                                             loss=float(np.mean(running)) if running else None)])
                            running = []
                    if checkpoint:
                        monitor.resume.save(ResumePoint(
                            stage_index=stage_no, stage=stage, epoch=epoch,
                            next_batch=start + args.grad_accum, step=step, forwards=forwards,
                            model=model.state_dict(), optimizer=optimizer.state_dict(),
                            scheduler=scheduler.state_dict(),
                            scaler=scaler.state_dict() if scaler else None,
                            rng=RngState.capture(epoch_start_state, freeze_gen),
                            best_score=None if best is None else best[0],
                            best=None if best is None else best[1],
                            result=_result_fields(result)))
                        last_checkpoint = time.monotonic()
                emit(pending.fetch(model, stage))
                epoch_times.append(time.perf_counter() - started)
                epoch_cpu.append(time.process_time() - started_cpu)
                if args.select_on_dev and stage_no == len(stages) - 1:
                    accs = exit_accuracies(model, dev, args.eval_batch_size, device, precision)
                    score = float(np.mean(accs))
                    emit([{"kind": "dev", "stage": stage, "epoch": epoch + 1, "step": step,
                           "exit_accuracy": accs, "mean_accuracy": score}])
                    if best is None or score > best[0]:
                        best = (score, {k: v.detach().clone() for k, v in model.state_dict().items()})
                        result.selected = {"policy": "best_dev", "stage": stage,
                                           "epoch": epoch + 1, "step": step,
                                           "dev_mean_accuracy": score}
            emit(pending.fetch(model, stage))
            bar.close()
            result.seconds_per_epoch[stage] = float(np.mean(epoch_times)) if epoch_times else 0.0
    finally:
        if log_file is not None:
            log_file.close()
    if best is not None:
        model.load_state_dict(best[1])
    else:
        result.selected = {"policy": "last"}
    model.eval()
    return result


def _checkpoint_due(every: Every, step: int, last: float) -> bool:
    if every.steps is not None and step % every.steps == 0:
        return True
    return every.seconds is not None and time.monotonic() - last >= every.seconds


def _result_fields(result: TrainResult) -> dict[str, Any]:
    d = asdict(result)
    return {k: d[k] for k in ("log", "selected", "seconds_per_epoch", "epoch_seconds",
                              "epoch_cpu_seconds")}
