"""Mid-training checkpoints: saved every `checkpoint_every`, resumed after a kill.

A job killed at hour 11 of a 12-hour allocation (SIGKILL, a SLURM time limit, a node crash)
restarts from its last checkpoint when it is run again with the same arguments; on CPU the
resumed run ends with the same weights and metrics as an uninterrupted one, bit for bit.

The resume directory (by default `<out>.resume`, beside the checkpoint directory: Snakemake
deletes a failed job's declared outputs, never this) holds
  state-NNNNNN.safetensors  every tensor: model.* (weights), optim.<i>.<name> (AdamW
                            moments and step), best.* (best-on-dev weights so far), rng.*
                            (torch CPU/CUDA generator states, the data-order generator at
                            the start of the epoch, the freezing generator)
  state.json                the rest, as JSON: the run's fingerprint (method, options,
                            training arguments, seed, prepared data, teacher), where training
                            stands (stage, epoch, next batch, step, forward passes), optimizer hyper-parameters,
                            scheduler and loss-scaler state, python and numpy RNG states, the
                            log so far, and the name and size of the tensors file.
state.json is written last, by an atomic rename: it is the commit point, so a kill while
saving leaves the previous checkpoint intact. Nothing is unpickled when loading: tensors come
from safetensors, everything else from JSON. A finished `pf train` removes the directory.
"""

from __future__ import annotations

import json
import random
import re
import shutil
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from pf.errors import PfError
from pf.io import atomic_write_json, read_json, write_safetensors

FORMAT = "pf-resume/1"
STATE = "state.json"


@dataclass(frozen=True)
class Every:
    """Checkpoint cadence: every `steps` optimizer steps or every `seconds` of training."""

    steps: int | None = None
    seconds: float | None = None

    @property
    def enabled(self) -> bool:
        return self.steps is not None or self.seconds is not None

    @classmethod
    def parse(cls, text: str | int | None) -> "Every":
        """'500' (steps), '10m' / '10min' (minutes), '90s', '1h'; '0' or 'off' disables."""
        if text is None:
            return cls()
        s = str(text).strip().lower()
        if s in ("0", "off", "none", "never"):
            return cls()
        m = re.fullmatch(r"(\d+)", s)
        if m:
            return cls(steps=int(m.group(1)))
        m = re.fullmatch(r"(\d+(?:\.\d+)?)\s*(s|sec|m|min|h|hour)", s)
        if m and float(m.group(1)) > 0:
            unit = {"s": 1, "sec": 1, "m": 60, "min": 60, "h": 3600, "hour": 3600}[m.group(2)]
            return cls(seconds=float(m.group(1)) * unit)
        raise PfError(f"--checkpoint-every: expected a number of steps (500), a duration "
                      f"(10m, 90s, 1h) or 0 to disable; got {text!r}")


@dataclass
class RngState:
    torch_cpu: torch.Tensor
    cuda: list[torch.Tensor]
    data_epoch_start: torch.Tensor       # the data-order generator before this epoch's draw
    freeze: torch.Tensor
    python: Any
    numpy: dict[str, Any]

    @classmethod
    def capture(cls, data_epoch_start: torch.Tensor, freeze_gen: torch.Generator) -> "RngState":
        keys, pos, has_gauss, cached = np.random.get_state()[1:]
        return cls(torch_cpu=torch.get_rng_state(),
                   cuda=list(torch.cuda.get_rng_state_all()) if torch.cuda.is_available() else [],
                   data_epoch_start=data_epoch_start.clone(), freeze=freeze_gen.get_state(),
                   python=random.getstate(),
                   numpy={"keys": [int(k) for k in keys], "pos": int(pos),
                          "has_gauss": int(has_gauss), "cached_gaussian": float(cached)})

    def restore(self, data_gen: torch.Generator, freeze_gen: torch.Generator) -> None:
        torch.set_rng_state(self.torch_cpu)
        if self.cuda and torch.cuda.is_available() and len(self.cuda) == torch.cuda.device_count():
            torch.cuda.set_rng_state_all(self.cuda)
        data_gen.set_state(self.data_epoch_start)
        freeze_gen.set_state(self.freeze)
        version, internal, gauss = self.python
        random.setstate((version, tuple(internal), gauss))
        n = self.numpy
        np.random.set_state(("MT19937", np.asarray(n["keys"], dtype=np.uint32), n["pos"],
                             n["has_gauss"], n["cached_gaussian"]))


@dataclass
class ResumePoint:
    """Everything a resumed `train` needs to continue exactly where the saved one stood:
    at an optimizer-step boundary of stage `stage_index`, `step` steps into it, epoch
    `epoch` (0-based), the next micro-batch being `next_batch` of that epoch's order."""

    stage_index: int
    stage: str
    epoch: int
    next_batch: int
    step: int
    model: dict[str, torch.Tensor]
    optimizer: dict[str, Any]            # torch optimizer state_dict
    scheduler: dict[str, Any]
    scaler: dict[str, Any] | None
    rng: RngState
    forwards: int = 0                    # training forward passes of the stage so far
    best_score: float | None = None
    best: dict[str, torch.Tensor] | None = None
    result: dict[str, Any] = field(default_factory=dict)   # TrainResult fields so far


def _cpu(t: torch.Tensor) -> torch.Tensor:
    return t.detach().to("cpu").contiguous()


def _json_safe(value: Any, where: str) -> Any:
    """JSON round trip (tuples become lists); PfError if something is not JSON data."""
    try:
        return json.loads(json.dumps(value, allow_nan=True))
    except (TypeError, ValueError) as err:
        raise PfError(f"checkpoint: {where} is not JSON data ({err})") from None


def _split_optimizer(sd: dict[str, Any]) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    tensors: dict[str, torch.Tensor] = {}
    scalars: dict[str, dict[str, Any]] = {}
    for pid, st in sd["state"].items():
        for key, value in st.items():
            if torch.is_tensor(value):
                tensors[f"optim.{pid}.{key}"] = _cpu(value)
            else:
                scalars.setdefault(str(pid), {})[key] = value
    return tensors, {"param_groups": _json_safe(sd["param_groups"], "optimizer param_groups"),
                     "scalars": _json_safe(scalars, "optimizer state")}


def _join_optimizer(tensors: dict[str, torch.Tensor], meta: dict[str, Any]) -> dict[str, Any]:
    state: dict[int, dict[str, Any]] = {}
    for name, value in tensors.items():
        _, pid, key = name.split(".", 2)
        state.setdefault(int(pid), {})[key] = value
    for pid, st in meta["scalars"].items():
        state.setdefault(int(pid), {}).update(st)
    groups = []
    for g in meta["param_groups"]:
        g = dict(g)
        if isinstance(g.get("betas"), list):
            g["betas"] = tuple(g["betas"])
        groups.append(g)
    return {"state": state, "param_groups": groups}


class ResumeStore:
    """The resume directory of one `pf train` run (see the module docstring)."""

    def __init__(self, directory: str | Path, fingerprint: dict[str, Any]):
        self.dir = Path(directory)
        self.fingerprint = _json_safe(fingerprint, "run fingerprint")

    # ----------------------------------------------------------------------------- save
    def save(self, point: ResumePoint) -> Path:
        self.dir.mkdir(parents=True, exist_ok=True)
        tensors = {f"model.{k}": _cpu(v) for k, v in point.model.items()}
        opt_tensors, opt_meta = _split_optimizer(point.optimizer)
        tensors.update(opt_tensors)
        if point.best is not None:
            tensors.update({f"best.{k}": _cpu(v) for k, v in point.best.items()})
        rng = point.rng
        tensors["rng.torch_cpu"] = _cpu(rng.torch_cpu)
        tensors["rng.data_epoch_start"] = _cpu(rng.data_epoch_start)
        tensors["rng.freeze"] = _cpu(rng.freeze)
        for i, s in enumerate(rng.cuda):
            tensors[f"rng.cuda.{i}"] = _cpu(s)
        previous = self._read_state()
        serial = int(previous.get("serial", 0)) + 1 if previous else 1
        name = f"state-{serial:06d}.safetensors"
        write_safetensors(self.dir / name, tensors, {"format": FORMAT})
        state = {
            "format": FORMAT,
            "serial": serial,
            "tensors": name,
            "tensors_bytes": (self.dir / name).stat().st_size,
            "fingerprint": self.fingerprint,
            "position": {"stage_index": point.stage_index, "stage": point.stage,
                         "epoch": point.epoch, "next_batch": point.next_batch,
                         "step": point.step, "forwards": point.forwards},
            "optimizer": opt_meta,
            "scheduler": _json_safe(point.scheduler, "scheduler state"),
            "scaler": _json_safe(point.scaler, "loss scaler state"),
            "rng": {"python": _json_safe(rng.python, "python RNG state"), "numpy": rng.numpy,
                    "cuda_devices": len(rng.cuda)},
            "best_score": point.best_score,
            "result": _json_safe(point.result, "training log"),
        }
        atomic_write_json(self.dir / STATE, state)
        for old in self.dir.glob("state-*.safetensors"):
            if old.name != name:
                old.unlink(missing_ok=True)
        return self.dir / name

    # ----------------------------------------------------------------------------- load
    def _read_state(self) -> dict[str, Any] | None:
        path = self.dir / STATE
        if not path.is_file():
            return None
        try:
            state = read_json(path)
        except PfError:
            return None
        return state if isinstance(state, dict) and state.get("format") == FORMAT else None

    def load(self) -> ResumePoint | None:
        """The saved point, or None (nothing saved, or saved by a run with other arguments,
        or damaged: a note on stderr says which, and training starts from the beginning)."""
        if not (self.dir / STATE).is_file():
            return None
        state = self._read_state()
        if state is None:
            return self._ignore("its state.json is unreadable")
        if state.get("fingerprint") != self.fingerprint:
            changed = sorted(k for k in set(self.fingerprint) | set(state.get("fingerprint") or {})
                             if (state.get("fingerprint") or {}).get(k) != self.fingerprint.get(k))
            return self._ignore(f"it was written by a run with other arguments ({', '.join(changed)})")
        path = self.dir / str(state.get("tensors"))
        if not path.is_file() or path.stat().st_size != state.get("tensors_bytes"):
            return self._ignore(f"its tensors file {path.name} is missing or incomplete")
        from pf.methods.checkpoint import read_weights

        try:
            tensors = read_weights(path)
        except PfError as err:
            return self._ignore(str(err))
        groups: dict[str, dict[str, torch.Tensor]] = {"model": {}, "optim": {}, "best": {}, "rng": {}}
        for name, value in tensors.items():
            head, _, rest = name.partition(".")
            groups.setdefault(head, {})[rest if head != "optim" else name] = value
        rng = groups["rng"]
        n_cuda = int(state["rng"].get("cuda_devices", 0))
        pos = state["position"]
        return ResumePoint(
            stage_index=int(pos["stage_index"]), stage=str(pos["stage"]), epoch=int(pos["epoch"]),
            next_batch=int(pos["next_batch"]), step=int(pos["step"]),
            forwards=int(pos.get("forwards", 0)),
            model=groups["model"],
            optimizer=_join_optimizer(groups["optim"], state["optimizer"]),
            scheduler=state["scheduler"], scaler=state["scaler"],
            rng=RngState(torch_cpu=rng["torch_cpu"], cuda=[rng[f"cuda.{i}"] for i in range(n_cuda)],
                         data_epoch_start=rng["data_epoch_start"], freeze=rng["freeze"],
                         python=state["rng"]["python"], numpy=state["rng"]["numpy"]),
            best_score=state.get("best_score"),
            best=groups["best"] or None,
            result=state.get("result") or {},
        )

    def _ignore(self, why: str) -> None:
        print(f"pf train: note: not resuming from {self.dir}: {why}; training from the start",
              file=sys.stderr, flush=True)
        return None

    def remove(self) -> None:
        shutil.rmtree(self.dir, ignore_errors=True)
