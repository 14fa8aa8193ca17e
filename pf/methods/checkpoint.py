"""Checkpoint directories: model.safetensors + model.json (+ train_log.jsonl).

Writing: every file atomically, model.json last, so its presence means the directory is
complete. Reading: safetensors only, never torch.load (a checkpoint is data, not code); a
pickle-based, truncated or corrupted file is refused with a PfError naming it. The backbone is
rebuilt from the Hugging Face config stored in model.json, so restoring a model never needs
the hub, and a distillation student is rebuilt without its teacher.
"""

from __future__ import annotations

import json
import os
import struct
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from pf.errors import PfError
from pf.io import atomic_write_json, atomic_write_text, read_json, write_safetensors
from pf.versions import package_versions

FORMAT = "pf-model/1"
WEIGHTS = "model.safetensors"
INFO = "model.json"
LOG = "train_log.jsonl"


@dataclass
class LoadedModel:
    model: Any                 # MultiExitModel
    info: dict[str, Any]       # the parsed model.json


VERSION_PACKAGES = ("pf-early-exit", "torch", "transformers", "safetensors", "numpy")


def model_description(model) -> dict[str, Any]:
    """The fields of model.json that describe the model itself."""
    from pf.methods.options import options_to_dict

    config = model.encoder.model.config
    return {
        "format": FORMAT,
        "method": model.method,
        "options": options_to_dict(model.options),
        "num_labels": model.num_labels,
        "n_layers_full": model.n_layers_full,
        "exit_layers": list(model.exit_layers),
        "exit_rule": model.exit_rule,
        "family": model.encoder.family,
        "attn_implementation": getattr(config, "_attn_implementation", None) or "eager",
        "backbone_config": config.to_dict(),
    }


def save_checkpoint(model, out_dir: str | os.PathLike, info: dict[str, Any],
                    log_records: list[dict[str, Any]] | None = None) -> Path:
    """Write model.safetensors, train_log.jsonl and (last) model.json into `out_dir`."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    tensors = {k: v.detach().to("cpu").contiguous() for k, v in model.state_dict().items()}
    write_safetensors(out / WEIGHTS, tensors, {"format": FORMAT})
    if log_records is not None:
        atomic_write_text(out / LOG, "".join(json.dumps(r, sort_keys=True) + "\n"
                                             for r in log_records))
    atomic_write_json(out / INFO, {**info, **model_description(model), "versions": package_versions(VERSION_PACKAGES)})
    return out


def _check_weights_file(path: Path) -> None:
    if not path.is_file():
        raise PfError(f"{path}: checkpoint weights not found")
    with path.open("rb") as f:
        head = f.read(16)
    size = path.stat().st_size
    # A safetensors file is an 8-byte little-endian header length, then a JSON header. Test
    # that first: the length's low byte may well be 0x80, the first byte of a pickle.
    if len(head) >= 9 and head[8:9] == b"{":
        (header_len,) = struct.unpack("<Q", head[:8])
        if header_len + 8 > size:
            raise PfError(f"{path}: truncated or corrupted checkpoint (bad safetensors header)")
        return
    pickle_protocol = head[:1] == b"\x80" and head[1:2] in (b"\x02", b"\x03", b"\x04", b"\x05")
    if pickle_protocol or head[:4] == b"PK\x03\x04":
        raise PfError(f"{path}: this is a pickle-based file (torch.save); pf only loads "
                      f"safetensors and will not unpickle it")
    raise PfError(f"{path}: truncated or corrupted checkpoint (not a safetensors file)")


def read_weights(path: str | os.PathLike) -> dict[str, torch.Tensor]:
    """Tensors of a safetensors file; PfError for pickle, truncated or corrupted files."""
    from safetensors.torch import load_file

    path = Path(path)
    _check_weights_file(path)
    try:
        return load_file(str(path))
    except Exception as err:  # safetensors raises its own error types
        raise PfError(f"{path}: truncated or corrupted checkpoint ({type(err).__name__}: "
                      f"{str(err)[:200]})") from None


def encoder_from_info(info: dict[str, Any]):
    """A LayerwiseEncoder with the architecture stored in model.json: randomly initialised,
    or, built under `torch.device("meta")`, without any storage (see `load_checkpoint`)."""
    from transformers import AutoConfig, AutoModel

    from pf.backbones import LayerwiseEncoder

    cfg = dict(info["backbone_config"])
    model_type = cfg.pop("model_type")
    attn = info.get("attn_implementation") or "eager"
    for key in ("_attn_implementation", "_attn_implementation_internal", "transformers_version"):
        cfg.pop(key, None)
    config = AutoConfig.for_model(model_type, **cfg)
    with torch.random.fork_rng(devices=[]):
        model = AutoModel.from_config(config, attn_implementation=attn)
    return LayerwiseEncoder(model, info["family"])


def read_info(model_dir: str | os.PathLike) -> dict[str, Any]:
    path = Path(model_dir) / INFO
    if not path.is_file():
        raise PfError(f"{model_dir}: not a trained model directory ({INFO} is missing; "
                      f"an interrupted `pf train` leaves none)")
    info = read_json(path)
    if not isinstance(info, dict) or info.get("format") != FORMAT:
        raise PfError(f"{path}: not a pf model description (format {FORMAT!r} expected)")
    for key in ("method", "options", "num_labels", "backbone_config", "family"):
        if key not in info:
            raise PfError(f"{path}: field '{key}' is missing")
    return info


def _build(info: dict[str, Any]):
    from pf.methods.registry import build_model

    encoder = encoder_from_info(info)
    with torch.random.fork_rng(devices=[]):
        return build_model(info["method"], info["options"], encoder, int(info["num_labels"]),
                           load_teacher=False)


# Buffers that are not saved (persistent=False) and what Hugging Face fills them with.
_BUFFER_VALUES = {
    "position_ids": lambda b: torch.arange(b.shape[-1], dtype=b.dtype).expand(b.shape),
    "token_type_ids": lambda b: torch.zeros(b.shape, dtype=b.dtype),
}


def _storage_free(info: dict[str, Any]):
    """The model built on the meta device, then given uninitialised storage, and the names of
    its unsaved buffers; None if one of those is unknown (then it is built the slow way).
    Random initialisation of a BERT-base backbone costs seconds that every loading job
    would pay only to overwrite the result."""
    with torch.device("meta"):
        model = _build(info)
    saved = set(model.state_dict())
    unsaved = [name for name, _ in model.named_buffers() if name not in saved]
    if any(name.rpartition(".")[2] not in _BUFFER_VALUES for name in unsaved):
        return None
    return model.to_empty(device="cpu"), unsaved


def load_checkpoint(model_dir: str | os.PathLike, device: str | torch.device = "cpu"
                    ) -> LoadedModel:
    """Rebuild the model of a checkpoint directory and load its weights (safetensors only),
    without initialising it randomly first."""
    info = read_info(model_dir)
    tensors = read_weights(Path(model_dir) / WEIGHTS)
    built = _storage_free(info)
    if built is None:
        model, unsaved = _build(info), []
    else:
        model, unsaved = built
    missing, unexpected = [], []
    own = model.state_dict()
    missing = sorted(set(own) - set(tensors))
    unexpected = sorted(set(tensors) - set(own))
    if missing or unexpected:
        raise PfError(f"{Path(model_dir) / WEIGHTS}: does not match method '{info['method']}' "
                      f"(missing {missing[:5]}, unexpected {unexpected[:5]})")
    for k, v in tensors.items():
        if own[k].shape != v.shape:
            raise PfError(f"{Path(model_dir) / WEIGHTS}: tensor '{k}' has shape {list(v.shape)}, "
                          f"expected {list(own[k].shape)}")
    model.load_state_dict(tensors, strict=True)
    for name in unsaved:
        parent, _, attr = name.rpartition(".")
        module = model.get_submodule(parent)
        setattr(module, attr, _BUFFER_VALUES[attr](getattr(module, attr)))
    model.to(device)
    model.eval()
    return LoadedModel(model, info)
