"""`pf latency`: wall-clock time of the full model versus the early-exit engine -> JSON.

    pf latency --model DIR --prepared DIR [--split dev]
               (--tau X | --patience P | --<param> X | --target R --outputs FILE
                [--calibration-outputs FILE]) [--rule R]
               [--batch-sizes 1 32] [--repeats 5] [--warmup 2] [--max-examples N]
               [--device auto|cpu|cuda] [--precision fp32|bf16|fp16] [--threads T]
               --out FILE.json

Both sides run the same first N examples of the split, in the same batches (rows grouped
by length, each batch cut to its longest row, formed and moved to the device once, outside
the timings), under `torch.inference_mode`; in its timed region each side turns every batch
into predictions and copies them to the host once per batch (the same copies on both
sides). Each measurement is preceded by `--warmup` untimed passes and repeated `--repeats`
times, and the median is reported (with `torch.cuda.synchronize` around every timing on a
GPU). The repeats are interleaved (full, engine, all exits, full, engine, ...) so that a
change in machine load affects every side alike. On CUDA `--precision bf16|fp16` runs both
sides under autocast (default: the precision the model was trained with); the CPU runs fp32.
Progress: a line per timed round when stdout is not a terminal (pf.progress).

* **full model** (the 1.00x reference of the paper's tables): the backbone through all n
  layers followed by one standard classification head on the last layer's [CLS] vector
  (pooler Linear d->d + tanh, then Linear d->C; the backbone's own pooler where it has
  one). No intermediate exit is computed, so this is what a fine-tuned vanilla model costs,
  independently of the method being measured.
* **engine**: `pf.engine.run_engine` with the rule's parameter: every exit head the method
  needs, and exited rows leave the batch.
* **all exits** (extra, for context): the engine with rule `last`, i.e. every layer and
  every exit head for every example. full / all_exits shows the heads' own overhead.

The parameter is given (`--tau`, `--patience`: one option per parameter of a registered
rule, plug-ins' included) or calibrated to `--target`
(`pf.exits.calibrate`) on the recorded logits of `--calibration-outputs` when given (the
held-out split `pf evaluate` calibrates on, so both apply the same parameter), otherwise on
those of the timed split (`--outputs`). With `--outputs` the engine's exits
are also compared with the simulation over the recorded logits of the same examples
(matched by example id), and the counts are written (`agreement`). The JSON (separate from
the metrics JSON) holds, per batch size, the median times, the measured speed-up
t_full / t_engine (wall clock; the process-CPU-time ratio is recorded too) and, beside it, the layer-count speed-up (equation 15) of the engine's
exits on the timed examples.
"""

from __future__ import annotations

import argparse
import statistics
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any, Callable

import numpy as np
import torch
from torch import nn

from pf import exits
from pf.engine import compare_to_simulation, run_batch, run_engine
from pf.errors import PfError
from pf.exits.last import LAST
from pf.exits.registry import RULES, get_rule, rule_names
from pf.io import atomic_write_json
from pf.layer_outputs import read_outputs
from pf.progress import Progress
from pf.train.args import add_checkpoint_options, add_device_options
from pf.train.data import encoder_batches, plan_batches
from pf.versions import package_versions

SCHEMA = "pf-latency/1"
VERSION_PACKAGES = ("pf-early-exit", "torch", "transformers", "numpy")
FULL_MODEL_DEFINITION = ("backbone through all n layers + one classification head on the last "
                         "layer's [CLS] (pooler Linear d->d + tanh, Linear d->C); no "
                         "intermediate exits")


class FullModel(nn.Module):
    """The timing reference: the backbone plus one vanilla classification head."""

    def __init__(self, encoder, num_labels: int):
        super().__init__()
        self.encoder = encoder
        d = encoder.hidden_size
        pooler = encoder.pretrained_pooler()
        self.pooler = pooler if isinstance(pooler, nn.Linear) else nn.Linear(d, d)
        self.classifier = nn.Linear(d, num_labels)

    @torch.inference_mode()
    def forward(self, inputs) -> torch.Tensor:
        enc = self.encoder
        h = enc.embed(inputs)
        bias = enc.attention_bias(inputs.attention_mask, h.dtype)
        for i in range(enc.n_layers):
            h = enc.layer(i, h, bias)
        return self.classifier(torch.tanh(self.pooler(h[:, 0])))


def load_model(model_dir: str | Path, device: str | torch.device = "cpu"):
    """A trained MultiExitModel from a checkpoint directory (pf.methods.checkpoint)."""
    return load_checkpoint_info(model_dir, device)[0]


def load_checkpoint_info(model_dir: str | Path, device: str | torch.device = "cpu"):
    """(model, info) of a checkpoint directory: info is its model.json."""
    from pf.methods.checkpoint import load_checkpoint

    loaded = load_checkpoint(model_dir, device)
    return loaded.model, loaded.info


def load_inputs(prepared: str | Path, split: str, max_examples: int | None):
    """(EncoderInputs, ids) of the first `max_examples` rows of a prepared split."""
    from pf.prepare import load_split

    data = load_split(prepared, split)
    n = len(data) if max_examples is None else min(len(data), int(max_examples))
    if n < 1:
        raise PfError(f"{prepared}: split '{split}' has no examples to time")
    return data.inputs(slice(0, n)), list(data.ids[:n])


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def time_interleaved(fns: dict[str, Callable[[], Any]], device: torch.device, repeats: int,
                     warmup: int, after_round: Callable[[], Any] | None = None
                     ) -> dict[str, tuple[list[float], list[float]]]:
    """{name: (wall seconds, process CPU seconds)} of `repeats` rounds after `warmup` untimed
    ones. Each round runs every function once, back to back, so a change of machine load
    hits all of them alike (the CPU seconds sum over torch's threads; they are less noisy
    on a shared machine)."""
    for _ in range(warmup):
        for fn in fns.values():
            fn()
    _sync(device)
    out: dict[str, tuple[list[float], list[float]]] = {k: ([], []) for k in fns}
    for _ in range(repeats):
        for name, fn in fns.items():
            _sync(device)
            c0 = time.process_time()
            t0 = time.perf_counter()
            fn()
            _sync(device)
            out[name][0].append(time.perf_counter() - t0)
            out[name][1].append(time.process_time() - c0)
        if after_round is not None:
            after_round()
    return out


def measure(model, inputs, rule: str, param, batch_sizes=(1, 32), repeats: int = 5,
            warmup: int = 2, full: FullModel | None = None, all_exits: bool = True,
            precision: str = "fp32", progress: bool | None = False) -> dict[str, Any]:
    """Median wall-clock of the full model and the engine at each batch size (`inputs` on
    the host; see the module docstring for what each timed region does)."""
    from pf.train.trainer import autocast_for

    device = next(model.parameters()).device
    model.eval()
    if full is None:
        torch.manual_seed(0)
        full = FullModel(model.encoder, model.num_labels).to(device)
    full.eval()
    n_layers = int(model.n_layers_full)
    rows = []
    result = None
    rounds = Progress("pf latency", len(batch_sizes) * repeats, unit="round", display=progress,
                      every_steps=1)

    def timed(fn):
        def run():
            with autocast_for(device, precision):
                fn()
        return run

    for bs in batch_sizes:
        # formed and moved to the device once, outside every timing
        batches = encoder_batches(inputs, plan_batches(inputs, bs), device)

        def run_full():
            for b in batches:
                full(b).argmax(-1).cpu()

        def run_eng(rule=rule, param=param):
            for b in batches:
                exit_index, prediction, _, _ = run_batch(model, b, rule, param, track_near=False)
                torch.stack([exit_index, prediction]).cpu()

        fns = {"full": timed(run_full), "engine": timed(run_eng)}
        if all_exits:
            fns["all_exits"] = timed(lambda: run_eng(LAST.name, None))
        times = time_interleaved(fns, device, repeats, warmup,
                                 lambda: _round_done(rounds, bs))
        with autocast_for(device, precision):   # exits and agreement, untimed
            result = run_engine(model, inputs, rule, param, batch_size=bs, device=device)
        row: dict[str, Any] = {"batch_size": int(bs)}
        for name, (wall, cpu) in times.items():
            row[f"{name}_s"] = statistics.median(wall)
            row[f"{name}_times_s"] = wall
            row[f"{name}_cpu_s"] = statistics.median(cpu)
        layer_speedup = exits.speedup(result.exit_layer, n_layers)
        row["measured_speedup"] = row["full_s"] / row["engine_s"]
        # median over rounds of the per-round ratio (full and engine ran back to back)
        row["paired_speedup"] = statistics.median(
            f / e for f, e in zip(row["full_times_s"], row["engine_times_s"]))
        row["cpu_time_speedup"] = row["full_cpu_s"] / max(row["engine_cpu_s"], 1e-12)
        row["layer_speedup"] = layer_speedup
        row["measured_over_layer"] = row["measured_speedup"] / layer_speedup
        rows.append(row)
    rounds.close()
    return {"batches": rows, "engine_result": result}


def _read_matching(path: str, model):
    """The recorded logits at `path`, which must come from a model with the same exits."""
    rec = read_outputs(path)
    if list(np.asarray(rec.exit_layers)) != list(model.exit_layers):
        raise PfError(f"{path}: exit layers {list(np.asarray(rec.exit_layers))} differ "
                      f"from the model's {list(model.exit_layers)}")
    return rec


def _round_done(rounds: Progress, batch_size: int) -> None:
    rounds.advance(1)
    if rounds.due():
        rounds.record(batch_size=batch_size)


def latency(model_dir, prepared, split: str = "dev", rule: str | None = None,
            param: float | int | None = None, target: float | None = None,
            outputs: str | None = None, batch_sizes=(1, 32), repeats: int = 5, warmup: int = 2,
            max_examples: int | None = None, device: str | None = None,
            threads: int | None = None, variant: str | None = None,
            calibration_outputs: str | None = None, precision: str | None = None,
            progress: bool | None = False, param_name: str | None = None) -> dict[str, Any]:
    """The latency JSON of a checkpoint. `param` is the rule's parameter (given as
    `--{param_name}` on the command line, checked against the rule); or `target` calibrates
    it on recorded logits."""
    if threads is not None:
        torch.set_num_threads(int(threads))
    if repeats < 1 or warmup < 0 or any(b < 1 for b in batch_sizes):
        raise PfError("--repeats must be >= 1, --warmup >= 0 and batch sizes >= 1")
    from pf.train.trainer import effective_precision, model_precision, resolve_device

    dev = resolve_device(device)
    model, info = load_checkpoint_info(model_dir, dev)
    precision = effective_precision(dev, precision or model_precision(info))
    exit_rule = get_rule(rule or model.exit_rule)
    rule = exit_rule.name
    n_layers = int(model.n_layers_full)
    rec = None
    if outputs is not None:
        rec = _read_matching(outputs, model)
    if param is not None and target is not None:
        raise PfError(f"give only one of --{param_name or exit_rule.param_name or 'param'} "
                      f"and --target")
    if param is not None and (param_name or exit_rule.param_name) != exit_rule.param_name:
        owners = [r.name for r in RULES.values() if r.param_name == param_name]
        raise PfError(f"--{param_name} belongs to the {' / '.join(owners) or 'no'} rule; this "
                      f"model uses '{rule}'"
                      + (f" (--{exit_rule.param_name})" if exit_rule.has_param else ""))
    calibration = None
    if target is not None:
        if not exit_rule.has_param:
            raise PfError(f"rule '{rule}' has no parameter to calibrate to --target")
        if rec is None:
            raise PfError("--target needs --outputs (the recorded logits to calibrate on)")
        cal = rec if calibration_outputs is None else _read_matching(calibration_outputs, model)
        calibration = exits.calibrate(np.asarray(cal.logits), np.asarray(cal.labels), rule,
                                      target, np.asarray(cal.exit_layers), n_layers)
        param = calibration.param
    elif calibration_outputs is not None:
        raise PfError("--calibration-outputs is used with --target only")
    if exit_rule.has_param and param is None:
        raise PfError(f"rule '{rule}' needs --{exit_rule.param_name} or --target with "
                      f"--outputs")
    param = exit_rule.check_param(param)

    inputs, ids = load_inputs(prepared, split, max_examples)
    res = measure(model, inputs, rule, param, tuple(batch_sizes), repeats, warmup,
                  precision=precision, progress=progress)
    eng = res["engine_result"]
    agreement = None
    if rec is not None:
        rec_ids = [str(i) for i in rec.ids]
        pos = {k: i for i, k in enumerate(rec_ids)}
        missing = [k for k in ids if k not in pos]
        if missing:
            raise PfError(f"{outputs}: {len(missing)} timed example(s) are not in the outputs "
                          f"file (e.g. {missing[0]!r}); record outputs of the same split")
        sel = np.asarray([pos[k] for k in ids])
        agreement = asdict(compare_to_simulation(eng, np.asarray(rec.logits)[sel], rule, param))
    return {
        "schema": SCHEMA,
        "backbone": (info.get("backbone") or {}).get("name"),
        "task": info.get("task"),
        "variant": variant if variant is not None else info.get("method"),
        "seed": info.get("seed"),
        "model": str(model_dir),
        "method": getattr(model, "method", None),
        "prepared": str(prepared),
        "split": split,
        "rule": rule,
        "rule_param_name": exit_rule.param_name,
        "rule_param": param,
        "target": target,
        "calibration_speedup": None if calibration is None else calibration.speedup,
        "calibration_outputs": calibration_outputs if calibration is not None else None,
        "outputs": outputs,
        "n_examples": int(inputs.input_ids.shape[0]),
        "sequence_length": int(inputs.input_ids.shape[1]),
        "n_layers": n_layers,
        "device": str(dev),
        "precision": precision,
        "threads": torch.get_num_threads(),
        "repeats": repeats,
        "warmup": warmup,
        "full_model_definition": FULL_MODEL_DEFINITION,
        "layer_speedup": exits.speedup(eng.exit_layer, n_layers),
        "agreement": agreement,
        "batches": res["batches"],
        "versions": package_versions(VERSION_PACKAGES),
    }


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "latency", help="wall-clock: full model vs early-exit engine -> JSON",
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="example:\n  pf latency --model results/models/bert/rte/pf/seed42 "
               "--prepared results/prepared/bert/rte \\\n      --target 2 --outputs "
               "results/outputs/bert/rte/pf/seed42/dev.safetensors --out latency.json\n")
    add_checkpoint_options(p, "split of the prepared data to time")
    p.add_argument("--rule", choices=rule_names(), default=None,
                   help="exit rule (default: the method's own)")
    g = p.add_mutually_exclusive_group()
    for name, param_rules in _param_options().items():
        first = RULES[param_rules[0]]
        g.add_argument(f"--{name}", type=first.param_type, default=None,
                       dest=f"param_{name}",
                       help=f"{first.param_help or name} (rule {', '.join(param_rules)})")
    g.add_argument("--target", type=float, default=None,
                   help="calibrate the parameter to this speed-up on --outputs")
    p.add_argument("--outputs", default=None, help="recorded per-layer logits of the split")
    p.add_argument("--calibration-outputs", default=None,
                   help="calibrate --target on these recorded logits (the split pf evaluate "
                        "calibrates on) instead of --outputs")
    p.add_argument("--batch-sizes", type=int, nargs="+", default=[1, 32],
                   help="batch sizes to time, each separately")
    p.add_argument("--repeats", type=int, default=5, help="timed repeats (the median is kept)")
    p.add_argument("--warmup", type=int, default=2, help="untimed passes before each measurement")
    p.add_argument("--max-examples", type=int, default=None,
                   help="time the first N examples of the split (default: all)")
    add_device_options(p)
    p.add_argument("--variant", default=None,
                   help="the config's variant name, recorded for the reports (default: the method)")
    p.add_argument("--out", required=True, help="latency JSON to write (atomically)")
    p.set_defaults(func=_main)


def _param_options() -> dict[str, list[str]]:
    """Parameter name -> the registered rules that take it (one option each)."""
    out: dict[str, list[str]] = {}
    for r in RULES.values():
        if r.has_param:
            out.setdefault(r.param_name, []).append(r.name)
    return out


def _main(args: argparse.Namespace) -> int:
    given = [(name, getattr(args, f"param_{name}")) for name in _param_options()
             if getattr(args, f"param_{name}") is not None]
    param_name, param = given[0] if given else (None, None)
    obj = latency(args.model, args.prepared, args.split, args.rule, param, args.target,
                  args.outputs, args.batch_sizes, args.repeats, args.warmup,
                  args.max_examples, args.device, args.threads, args.variant,
                  args.calibration_outputs, precision=args.precision, progress=None,
                  param_name=param_name)
    atomic_write_json(args.out, obj)
    return 0
