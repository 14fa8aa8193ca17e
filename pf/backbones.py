"""Backbones behind one per-layer step API.

`LayerwiseEncoder` wraps a Hugging Face BERT, RoBERTa or ALBERT base model and exposes
exactly what an exit method needs: `embed` (token ids to the input of layer 0),
`attention_bias` (the additive mask every layer takes) and `layer(i, ...)` (transformer
layer i, 0-based; ALBERT's shared layer groups are mapped as transformers does). Exit
methods and the early-exit engine are written against this API only, so none of them holds
backbone-specific code.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn

from pf.errors import PfError, unknown
from pf.hf_hub import fetch_hint, hub_switched_off, local_model_dir, missing_safetensors

FAMILIES = ("bert", "roberta", "albert")
# `sdpa` (PyTorch's fused scaled-dot-product attention) is the default: on CUDA it is much
# faster, on CPU it is as fast as `eager` and agrees with it to ~1e-6. `eager` is needed only
# where a method reads attention probabilities or scores (TinyBERT: `needs_attention`).
ATTN_IMPLEMENTATIONS = ("sdpa", "eager")
DEFAULT_ATTN = "sdpa"


@dataclass(frozen=True)
class TinyConfig:
    """A randomly initialised backbone small enough for a laptop CPU."""

    n_layers: int = 6
    hidden_size: int = 64
    n_heads: int = 2
    intermediate_size: int = 128
    embedding_size: int = 32          # ALBERT's factorised embedding width
    max_position_embeddings: int = 130


@dataclass(frozen=True)
class BackboneSpec:
    """Where a backbone comes from: a hub name or local directory, or a tiny config."""

    name: str                          # key in configs and result paths, e.g. "bert"
    family: str                        # bert | roberta | albert
    pretrained: str | None = None      # hub id ("bert-base-uncased") or a local directory
    tiny: TinyConfig | None = None
    attn_implementation: str = DEFAULT_ATTN

    def __post_init__(self) -> None:
        if self.family not in FAMILIES:
            raise unknown(f"backbone family of '{self.name}'", self.family, FAMILIES)
        if self.attn_implementation not in ATTN_IMPLEMENTATIONS:
            raise unknown(f"attn_implementation of backbone '{self.name}'",
                          self.attn_implementation, ATTN_IMPLEMENTATIONS)
        if (self.pretrained is None) == (self.tiny is None):
            raise PfError(
                f"backbone '{self.name}': give exactly one of 'pretrained' (hub name or "
                f"directory) and 'tiny' (a random-init configuration)"
            )

    @classmethod
    def from_dict(cls, name: str, d: dict[str, Any]) -> "BackboneSpec":
        d = dict(d)
        tiny = d.pop("tiny", None)
        allowed = {"family", "pretrained", "attn_implementation"}
        extra = set(d) - allowed
        if extra:
            raise PfError(f"backbone '{name}': unknown key(s) {sorted(extra)}; allowed: "
                          f"{sorted(allowed | {'tiny'})}")
        if tiny is not None:
            tiny_fields = set(TinyConfig.__dataclass_fields__)
            bad = set(tiny) - tiny_fields
            if bad:
                raise PfError(f"backbone '{name}': unknown tiny key(s) {sorted(bad)}; "
                              f"allowed: {sorted(tiny_fields)}")
            tiny = TinyConfig(**tiny)
        return cls(name=name, tiny=tiny, **d)

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out.pop("name")
        return out

    @property
    def is_pretrained(self) -> bool:
        return self.pretrained is not None


def _hf_config(spec: BackboneSpec, vocab_size: int, pad_token_id: int):
    from transformers import AlbertConfig, BertConfig, RobertaConfig

    t = spec.tiny
    assert t is not None
    common = dict(
        vocab_size=vocab_size,
        hidden_size=t.hidden_size,
        num_hidden_layers=t.n_layers,
        num_attention_heads=t.n_heads,
        intermediate_size=t.intermediate_size,
        pad_token_id=pad_token_id,
        attn_implementation=spec.attn_implementation,
    )
    if t.hidden_size % t.n_heads:
        raise PfError(f"backbone '{spec.name}': hidden_size {t.hidden_size} is not a "
                      f"multiple of n_heads {t.n_heads}")
    if spec.family == "bert":
        return BertConfig(max_position_embeddings=t.max_position_embeddings, **common)
    if spec.family == "roberta":
        # RoBERTa numbers positions from pad_token_id + 1.
        return RobertaConfig(max_position_embeddings=t.max_position_embeddings + pad_token_id + 2,
                             type_vocab_size=1, bos_token_id=None, eos_token_id=None, **common)
    return AlbertConfig(max_position_embeddings=t.max_position_embeddings,
                        embedding_size=t.embedding_size, num_hidden_groups=1,
                        inner_group_num=1, bos_token_id=None, eos_token_id=None, **common)


def model_source(spec: BackboneSpec) -> str:
    """What `from_pretrained` is given for a pretrained backbone: the local directory its
    `pretrained` names (a path, or `package:NAME/SUBDIR` resolved to the folder inside the
    installed package: pf.hf_hub.package_model_dir), else the hub id itself. A path that
    does not exist, or a package that is not installed, is a PfError rather than a question
    to the hub. The spec (and so every checkpoint) keeps the spelling of the config, so a
    checkpoint made with `package:` loads wherever that package is installed."""
    local = local_model_dir(spec.name, spec.pretrained or "")
    return str(local) if local is not None else str(spec.pretrained)


def pretrained_load_error(spec: BackboneSpec, what: str, err: Exception) -> PfError:
    """The one-paragraph error for a pretrained model or tokenizer that could not be loaded."""
    source = spec.pretrained
    switch = hub_switched_off()
    why = (f"{switch} is set, so the Hugging Face hub is not asked and the cache has no copy"
           if switch else "the Hugging Face hub is unreachable from here or has no such model")
    first_line = (str(err).splitlines() or [""])[0][:200]
    return PfError(
        f"backbone '{spec.name}': cannot load the {what} of '{source}': it is not a local "
        f"directory and {why}. To run offline, {fetch_hint(str(source))}. "
        f"({type(err).__name__}: {first_line})"
    )


def load_pretrained_model(spec: BackboneSpec):
    """The base model (no task head) of a pretrained backbone, from the hub or a directory."""
    from transformers import AutoModel

    source = model_source(spec)
    local = Path(source)
    problem = missing_safetensors(local) if local.is_dir() else None
    if problem:
        raise PfError(f"backbone '{spec.name}': the model directory {local} has {problem}")
    try:
        # add_pooling_layer stays on: DeeBERT and PABEE start from the pretrained pooler.
        # use_safetensors: a hub repository with only pickled weights is refused, not unpickled
        return AutoModel.from_pretrained(source,
                                         attn_implementation=spec.attn_implementation,
                                         trust_remote_code=False, use_safetensors=True)
    except (OSError, ValueError) as err:
        raise pretrained_load_error(spec, "weights", err) from None


def build_model(spec: BackboneSpec, vocab_size: int, pad_token_id: int, seed: int):
    """A Hugging Face base model: pretrained weights, or a tiny one initialised from `seed`."""
    if spec.is_pretrained:
        return load_pretrained_model(spec)
    from transformers import AutoModel

    config = _hf_config(spec, vocab_size, pad_token_id)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return AutoModel.from_config(config)


@dataclass
class EncoderInputs:
    input_ids: torch.Tensor           # [B, L] int64
    attention_mask: torch.Tensor      # [B, L] int64, 1 = token
    token_type_ids: torch.Tensor      # [B, L] int64

    def select(self, keep: torch.Tensor) -> "EncoderInputs":
        return EncoderInputs(self.input_ids[keep], self.attention_mask[keep], self.token_type_ids[keep])

    def __len__(self) -> int:
        return int(self.input_ids.shape[0])

    def lengths(self) -> torch.Tensor:
        """Per row, one past the last attended column (>= 1): trimming a batch to its
        longest row drops only columns that are padding in every row."""
        return sequence_lengths(self.attention_mask)

    def trim(self, length: int) -> "EncoderInputs":
        """The first `length` columns (dynamic padding; see `lengths`)."""
        if length >= self.input_ids.shape[1]:
            return self
        return EncoderInputs(self.input_ids[:, :length], self.attention_mask[:, :length],
                             self.token_type_ids[:, :length])

    def to(self, device: torch.device | str) -> "EncoderInputs":
        return EncoderInputs(to_device(self.input_ids, device), to_device(self.attention_mask, device),
                             to_device(self.token_type_ids, device))


def sequence_lengths(attention_mask: torch.Tensor) -> torch.Tensor:
    """int64 [N]: one past the last non-zero column of each row of the mask (at least 1)."""
    n, length = attention_mask.shape
    if length == 0:
        return torch.ones(n, dtype=torch.int64)
    cols = torch.arange(1, length + 1, device=attention_mask.device)
    return ((attention_mask != 0) * cols).amax(dim=1).clamp_min(1)


def to_device(t: torch.Tensor, device: torch.device | str) -> torch.Tensor:
    """A host tensor on `device`; to CUDA through pinned memory without blocking the host
    (a pageable copy would wait for the GPU to finish its queue: a sync per batch)."""
    device = torch.device(device)
    if device.type == "cuda" and t.device.type == "cpu":
        return t.pin_memory().to(device, non_blocking=True)
    return t.to(device)


class LayerwiseEncoder(nn.Module):
    """Per-layer step API over a Hugging Face encoder (see module docstring)."""

    def __init__(self, model: nn.Module, family: str):
        super().__init__()
        self.model = model
        self.family = family
        self.n_layers: int = int(model.config.num_hidden_layers)
        self.hidden_size: int = int(model.config.hidden_size)

    # --- the step API -------------------------------------------------------------------
    def embed(self, inputs: EncoderInputs) -> torch.Tensor:
        """Hidden states entering layer 0, [B, L, d]."""
        token_type_ids = inputs.token_type_ids
        if self.family == "roberta":
            token_type_ids = torch.zeros_like(token_type_ids)
        h = self.model.embeddings(input_ids=inputs.input_ids, token_type_ids=token_type_ids)
        if self.family == "albert":
            h = self.model.encoder.embedding_hidden_mapping_in(h)
        return h

    def attention_bias(self, attention_mask: torch.Tensor, dtype: torch.dtype) -> torch.Tensor:
        """Additive mask [B, 1, 1, L]: 0 on tokens, the dtype's minimum on padding."""
        bias = (1.0 - attention_mask[:, None, None, :].to(dtype)) * torch.finfo(dtype).min
        return bias

    def layer(self, i: int, hidden: torch.Tensor, bias: torch.Tensor) -> torch.Tensor:
        """Transformer layer i (0-based) applied to `hidden` [B, L, d]."""
        if self.family == "albert":
            groups = self.model.config.num_hidden_groups
            full = self.model.config.num_hidden_layers
            module = self.model.encoder.albert_layer_groups[int(i / (full / groups))]
        else:
            module = self.model.encoder.layer[i]
        out = module(hidden, bias)
        return out[0] if isinstance(out, tuple) else out

    def layer_module(self, i: int) -> nn.Module:
        """The module run at layer i (shared between layers for ALBERT)."""
        if self.family == "albert":
            groups = self.model.config.num_hidden_groups
            full = self.model.config.num_hidden_layers
            return self.model.encoder.albert_layer_groups[int(i / (full / groups))]
        return self.model.encoder.layer[i]

    @property
    def attn_implementation(self) -> str:
        return getattr(self.model.config, "_attn_implementation", None) or "eager"

    def set_attn_implementation(self, name: str) -> None:
        """Switch the attention kernel in place (the weights are the same for both)."""
        if name not in ATTN_IMPLEMENTATIONS:
            raise unknown("attn_implementation", name, ATTN_IMPLEMENTATIONS)
        if name != self.attn_implementation:
            self.model.set_attn_implementation(name)

    def forward_layers(self, inputs: EncoderInputs, n: int | None = None) -> list[torch.Tensor]:
        """Hidden states after each of the first n layers (all by default)."""
        h = self.embed(inputs)
        bias = self.attention_bias(inputs.attention_mask, h.dtype)
        states = []
        for i in range(self.n_layers if n is None else n):
            h = self.layer(i, h, bias)
            states.append(h)
        return states

    # --- helpers for heads --------------------------------------------------------------
    def pretrained_pooler(self) -> nn.Linear | None:
        """The backbone's own pooler dense layer (random for tiny backbones), if it has one."""
        pooler = getattr(self.model, "pooler", None)
        if pooler is None:
            return None
        return pooler.dense if hasattr(pooler, "dense") else pooler

    def truncate(self, m: int) -> None:
        """Keep only the first m layers (BERT-mL): later layers are dropped, not skipped."""
        if not 1 <= m <= self.n_layers:
            raise PfError(f"cannot keep {m} layers of a {self.n_layers}-layer backbone")
        if self.family != "albert":
            self.model.encoder.layer = self.model.encoder.layer[:m]
        self.n_layers = m

    def embedding_parameters(self):
        yield from self.model.embeddings.parameters()
        if self.family == "albert":
            yield from self.model.encoder.embedding_hidden_mapping_in.parameters()

    def layer_parameters(self, i: int):
        return self.layer_module(i).parameters()


def load_encoder(spec: BackboneSpec, vocab_size: int, pad_token_id: int, seed: int) -> LayerwiseEncoder:
    return LayerwiseEncoder(build_model(spec, vocab_size, pad_token_id, seed), spec.family)
