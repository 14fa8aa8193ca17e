"""Training hyper-parameters (`pf train --training JSON`), typed and validated."""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from typing import Any

from pf.errors import PfError, did_you_mean

PRECISIONS = ("fp32", "bf16", "fp16")


@dataclass(frozen=True)
class TrainingArgs:
    """lr, batch_size, grad_accum, epochs (per stage), max_steps (optional cap on optimizer
    steps per stage), warmup_ratio, weight_decay, max_grad_norm (<= 0: no clipping),
    select_on_dev (keep the epoch-end checkpoint with the best accuracy averaged over exits
    on a development split that is not scored, the prepared `heldout` slice of train,
    instead of the last one; refused when the prepared data has no heldout split),
    precision (fp32 | bf16 | fp16: autocast on CUDA; CPU always runs fp32),
    group_by_length (draw training batches from random pools sorted by length, to save
    padding; off, as every original, by default),
    eval_batch_size (checkpoint-selection evaluation).

    These field defaults are the only training defaults: `pf train` by hand uses them and
    the workflow's pf.config.TRAINING_DEFAULTS is built from them. The optimizer settings
    follow the run_glue.py of the released Past-Future code and of the DeeBERT and PABEE
    originals (weight decay 0.0, max_grad_norm 1.0, no warmup)."""

    lr: float = 2e-5
    batch_size: int = 16
    grad_accum: int = 1
    epochs: int = 3
    max_steps: int | None = None
    warmup_ratio: float = 0.0
    weight_decay: float = 0.0
    max_grad_norm: float = 1.0
    select_on_dev: bool = False
    precision: str = "fp32"
    group_by_length: bool = False
    eval_batch_size: int = 64

    @classmethod
    def from_dict(cls, raw: dict[str, Any] | None) -> "TrainingArgs":
        raw = {} if raw is None else raw
        if not isinstance(raw, dict):
            raise PfError(f"training: expected a JSON object, got {type(raw).__name__}")
        names = [f.name for f in fields(cls)]
        for key in raw:
            if key not in names:
                raise PfError(f"training: unknown key '{key}'{did_you_mean(key, names)}; "
                              f"allowed: {', '.join(names)}")
        values = dict(raw)
        for key in ("batch_size", "grad_accum", "epochs", "eval_batch_size", "max_steps"):
            v = values.get(key, 1)
            if key == "max_steps" and v is None:
                continue
            if isinstance(v, bool) or not isinstance(v, int) or v < 1:
                raise PfError(f"training: '{key}' must be a positive integer, got {v!r}")
        for key in ("lr", "warmup_ratio", "weight_decay", "max_grad_norm"):
            v = values.get(key, 0.0)
            if isinstance(v, bool) or not isinstance(v, (int, float)):
                raise PfError(f"training: '{key}' must be a number, got {v!r}")
            if key in values:
                values[key] = float(v)
        if not values.get("lr", 1.0) > 0:
            raise PfError(f"training: 'lr' must be positive, got {values['lr']!r}")
        if not 0.0 <= values.get("warmup_ratio", 0.0) < 1.0:
            raise PfError(f"training: 'warmup_ratio' must be in [0, 1), got {values['warmup_ratio']!r}")
        if values.get("weight_decay", 0.0) < 0:
            raise PfError(f"training: 'weight_decay' must be >= 0, got {values['weight_decay']!r}")
        for key in ("select_on_dev", "group_by_length"):
            if not isinstance(values.get(key, False), bool):
                raise PfError(f"training: '{key}' must be true or false, got {values[key]!r}")
        p = values.get("precision", "fp32")
        if p not in PRECISIONS:
            raise PfError(f"training: 'precision' = {p!r} is not one of {', '.join(PRECISIONS)}"
                          f"{did_you_mean(str(p), PRECISIONS)}")
        return cls(**values)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def add_device_options(parser, precision: bool = True) -> None:
    """--device, --threads and (for the commands that run a trained model) --precision."""
    parser.add_argument("--device", default="auto",
                        help="auto (CUDA when available, default) | cpu | cuda")
    if precision:
        parser.add_argument("--precision", default=None, choices=PRECISIONS,
                            help="autocast on CUDA (default: what the model was trained with); "
                                 "the CPU runs fp32")
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads")


def add_checkpoint_options(parser, split_help: str) -> None:
    """--model, --prepared and --split of the commands that run a trained model on data."""
    parser.add_argument("--model", required=True, help="checkpoint directory (pf train --out)")
    parser.add_argument("--prepared", required=True,
                        help="prepared data directory (pf prepare)")
    parser.add_argument("--split", default="dev", help=split_help)
