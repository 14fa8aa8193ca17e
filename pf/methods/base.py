"""The multi-exit model contract shared by every method, the trainer and the engine.

A `MultiExitModel` is a `LayerwiseEncoder` plus exit heads. Its one computational primitive
is `step(layer_idx, hidden, state)`: given the output of transformer layer `layer_idx`
(0-based, as `encoder.layer(i)`) and the head state carried from the previous layers, it
returns the exit's logits (or None where the layer has no exit), the new state and
training-only auxiliaries. `exit_step` (what the early-exit engine calls on a shrinking
batch) and `forward` (what training and `pf outputs` call) are both thin loops over `step`,
so the recorded per-layer logits and the real engine agree by construction.

States are `dict[str, Tensor]`, every tensor batch-first, so the engine can drop exited
rows with `{k: v[keep] for k, v in state.items()}`. A key may be absent before the first
layer has been seen (`init_state` may return `{}`). `start_state(inputs)` is the state a
batch starts from (what `forward` and the engine use): `init_state`, plus, when the method's
option `exit_pooling` is "mean", the batch's attention mask under TOKEN_MASK, which every
exit needs to average a layer's tokens (`summary`) and which leaves the batch with the
exited rows like any other state tensor (`step` results keep it without knowing of it).

Models hold parameters and configuration only; training statistics live in the trainer's
log, never as attributes.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any, ClassVar

import torch
import torch.nn.functional as F
from torch import nn

from pf.backbones import EncoderInputs, LayerwiseEncoder
from pf.errors import PfError
from pf.methods.options import MethodOptions, parse_options

ExitState = dict[str, torch.Tensor]
TOKEN_MASK = "token_mask"     # the state key of the attention mask (exit_pooling "mean")


class FromSpec:
    """A class attribute read from the method's spec (pf.methods.registry), so that the
    spec stays its one home: `Model.exit_rule`, `Model.options_class`."""

    def __init__(self, field: str):
        self.field = field

    def __get__(self, obj, cls) -> Any:
        from pf.methods.registry import method_spec

        return getattr(method_spec(cls.method), self.field)


@dataclass(frozen=True)
class FreezeDecision:
    """What is frozen for one optimizer step (sampled by `MultiExitModel.sample_freeze`).

    `detached`: one entry per forward pass (micro-batch) of the step, the 1-based layers
    whose output `forward` detaches in that pass (released-code schedule: a fresh draw per
    layer and per forward pass). `frozen_layers`: 1-based layers whose parameters receive no
    update this step (paper schedule; the trainer sets their gradients to None)."""

    detached: tuple[tuple[int, ...], ...] = ()
    frozen_layers: tuple[int, ...] = ()

    def detached_in(self, micro_batch: int) -> tuple[int, ...]:
        return self.detached[micro_batch] if micro_batch < len(self.detached) else ()


@dataclass
class TrainContext:
    """Where training stands, handed to `forward` and `loss`.

    step/total_steps count optimizer steps within the current stage (0-based step);
    forward_step counts the training forward passes of the stage made before this step's
    first micro-batch, micro_batches is how many this step makes and micro_batch is the one
    running (the released freeze schedule counts forward passes);
    `generator` is the seeded generator for stochastic training decisions (freezing);
    `targets` holds, for the running micro-batch, the rows of what the model's
    `training_targets` computed once before training (e.g. a teacher's logits)."""

    step: int = 0
    total_steps: int = 1
    stage: str = "train"
    epoch: int = 0
    generator: torch.Generator | None = None
    freeze: FreezeDecision | None = None
    forward_step: int = 0
    micro_batches: int = 1
    micro_batch: int = 0
    targets: dict[str, torch.Tensor] | None = None


@dataclass
class StepResult:
    logits: torch.Tensor | None          # [B, C] or None where the layer has no exit
    state: ExitState
    aux: dict[str, torch.Tensor] = field(default_factory=dict)


@dataclass
class ExitOutputs:
    logits: torch.Tensor                  # [B, E, C], E = len(exit_layers)
    extras: dict[str, torch.Tensor] = field(default_factory=dict)


@dataclass
class LossTerms:
    total: torch.Tensor                   # scalar to back-propagate
    parts: dict[str, torch.Tensor] = field(default_factory=dict)  # detached scalars, logged


def exit_weights(n: int, device=None) -> torch.Tensor:
    """w_i = i / sum_j j for i = 1..n (deeper exits weigh more; PABEE and Past-Future)."""
    w = torch.arange(1, n + 1, dtype=torch.float32, device=device)
    return w / w.sum()


def weighted_ce(logits: torch.Tensor, labels: torch.Tensor, weights: torch.Tensor) -> torch.Tensor:
    """sum_i w_i CE(logits[:, i], y) for logits [B, E, C]; `weights` on the logits' device
    (a host tensor would be copied to the GPU at every step, and that copy waits for the
    GPU's queue: a host synchronisation per training step)."""
    B, E, C = logits.shape
    ce = F.cross_entropy(logits.float().reshape(B * E, C), labels.repeat_interleave(E),
                         reduction="none").view(B, E).mean(0)
    return (ce * weights).sum()


class MultiExitModel(nn.Module):
    """Base class of every method (see module docstring)."""

    method: ClassVar[str]                  # its registry key (pf.methods.registry)
    options_class = FromSpec("options")    # the spec's options dataclass
    exit_rule = FromSpec("exit_rule")      # the spec's exit rule (pf.exits.registry)
    # "eager" for a method that reads attention probabilities from the attention modules
    # (only eager attention returns them): its backbone (and teacher) are switched to it.
    # None: the backbone's own, `sdpa` by default (pf.backbones.ATTN_IMPLEMENTATIONS).
    attn_implementation: ClassVar[str | None] = None

    def __init__(self, encoder: LayerwiseEncoder, num_labels: int, options: MethodOptions,
                 exit_layers: tuple[int, ...], n_layers_full: int):
        super().__init__()
        self.encoder = encoder
        self.num_labels = int(num_labels)
        self.options = options
        self.exit_layers = tuple(int(x) for x in exit_layers)
        self.n_layers_full = int(n_layers_full)
        self._exit_index = {layer - 1: e for e, layer in enumerate(self.exit_layers)}

    # --- construction -----------------------------------------------------------------
    @classmethod
    def create(cls, encoder: LayerwiseEncoder, num_labels: int, options: Any, *,
               load_teacher: bool = True) -> "MultiExitModel":
        """Build the model around `encoder` (heads initialised from the global torch RNG).
        The default suits a method whose constructor takes (encoder, num_labels, options);
        one that needs more (a teacher, a layer count) overrides it."""
        return cls(encoder, num_labels, parse_options(cls.method, cls.options_class, options))

    @property
    def hidden_size(self) -> int:
        return self.encoder.hidden_size

    @property
    def pooler(self) -> nn.Linear:
        """The backbone's pretrained pooler dense layer (a property, not a submodule, so its
        weights are stored once, under the encoder)."""
        return self.encoder.pretrained_pooler()

    @property
    def init_range(self) -> float:
        return float(getattr(self.encoder.model.config, "initializer_range", 0.02))

    @property
    def dropout_p(self) -> float:
        """Head dropout: the backbone's `hidden_dropout_prob`, on ALBERT its
        `classifier_dropout_prob` (what ALBERT's sequence-classification head, PABEE's and
        the released Past-Future code use there; ALBERT's hidden dropout is 0)."""
        config = self.encoder.model.config
        key = "classifier_dropout_prob" if self.encoder.family == "albert" else "hidden_dropout_prob"
        value = getattr(config, key, None)
        return 0.1 if value is None else float(value)

    def head_parameters(self) -> Iterator[tuple[str, nn.Parameter]]:
        """Parameters added to the backbone (everything outside `encoder`)."""
        for name, p in self.named_parameters():
            if not name.startswith("encoder."):
                yield name, p

    # --- training stages and freezing -------------------------------------------------
    def stages(self) -> tuple[str, ...]:
        """Training stages in order; the trainer runs its epoch budget once per stage."""
        return ("train",)

    def set_stage(self, stage: str) -> None:
        """Switch requires_grad for `stage` (default: everything trainable)."""
        for p in self.parameters():
            p.requires_grad_(True)

    def optimizer_parameters(self, stage: str) -> list[nn.Parameter]:
        """What the optimizer updates in `stage` (default: every parameter that requires
        grad). Gradient clipping sees every gradient, also of parameters not listed here."""
        return [p for p in self.parameters() if p.requires_grad]

    def training_targets(self, data, batch_size: int, device, autocast
                         ) -> dict[str, torch.Tensor] | None:
        """Per-example tensors [N, ...] computed once before training from the training
        examples `data` (pf.train.data.Examples), for things that do not change during
        training; the trainer hands each micro-batch its rows as `ctx.targets`. None (the
        default): nothing. `autocast()` is the trainer's precision context."""
        return None

    def sample_freeze(self, ctx: TrainContext) -> FreezeDecision | None:
        """The freeze decision for one optimizer step (none by default)."""
        return None

    def frozen_parameters(self, decision: FreezeDecision | None) -> Iterator[nn.Parameter]:
        """Parameters whose gradient the trainer drops for `decision` (paper schedule)."""
        if decision is None or not decision.frozen_layers:
            return
        shared = self.encoder.family == "albert"   # one module serves every depth
        for k in decision.frozen_layers:
            if k == 1:
                yield from self.encoder.embedding_parameters()
            if not shared:
                yield from self.encoder.layer_parameters(k - 1)

    # --- the step API -------------------------------------------------------------------
    @property
    def exit_pooling(self) -> str:
        """"cls" or "mean": what `summary` reads from a layer (pf.methods.options.EXIT_POOLINGS)."""
        return getattr(self.options, "exit_pooling", "cls")

    def init_state(self, batch_size: int, device: torch.device | str) -> ExitState:
        return {}

    def start_state(self, inputs: EncoderInputs) -> ExitState:
        """The state before the first layer of the batch `inputs` (see module docstring)."""
        state = self.init_state(len(inputs), inputs.input_ids.device)
        if self.exit_pooling == "mean":
            state = {**state, TOKEN_MASK: inputs.attention_mask}
        return state

    def summary(self, hidden: torch.Tensor, state: ExitState | None) -> torch.Tensor:
        """The vector [B, d] an exit head reads from a layer's hidden states [B, L, d]: the
        first token ([CLS], exit_pooling "cls", as every original) or the mean of the
        attended tokens ("mean"; the mask comes from `start_state`)."""
        if self.exit_pooling == "cls":
            return hidden[:, 0]
        if state is None or TOKEN_MASK not in state:
            raise PfError(f"method '{self.method}' (exit_pooling mean) needs the batch's "
                          f"attention mask: start from start_state(inputs), not init_state")
        return masked_mean(hidden, state[TOKEN_MASK])

    def step(self, layer_idx: int, hidden: torch.Tensor, state: ExitState) -> StepResult:
        raise NotImplementedError

    def run_step(self, layer_idx: int, hidden: torch.Tensor, state: ExitState) -> StepResult:
        """`step`, with the attention mask carried into the new state."""
        result = self.step(layer_idx, hidden, state)
        if TOKEN_MASK in state and TOKEN_MASK not in result.state:
            result.state = {**result.state, TOKEN_MASK: state[TOKEN_MASK]}
        return result

    def exit_step(self, layer_idx: int, hidden: torch.Tensor, state: ExitState
                  ) -> tuple[torch.Tensor | None, ExitState]:
        """Head work after layer `layer_idx` (0-based): (logits [B, C] or None, new state)."""
        result = self.run_step(layer_idx, hidden, state)
        return result.logits, result.state

    def has_exit(self, layer_idx: int) -> bool:
        return layer_idx in self._exit_index

    def forward(self, inputs: EncoderInputs, ctx: TrainContext | None = None) -> ExitOutputs:
        enc = self.encoder
        h = enc.embed(inputs)
        bias = enc.attention_bias(inputs.attention_mask, h.dtype)
        detached = (ctx.freeze.detached_in(ctx.micro_batch)
                    if ctx is not None and ctx.freeze is not None else ())
        state = self.start_state(inputs)
        logits: list[torch.Tensor] = []
        auxes: list[dict[str, torch.Tensor]] = []
        for i in range(enc.n_layers):
            h = enc.layer(i, h, bias)
            if i + 1 in detached:
                h = h.detach()
            result = self.run_step(i, h, state)
            state = result.state
            if result.logits is not None:
                logits.append(result.logits)
            auxes.append(result.aux)
        return ExitOutputs(torch.stack(logits, dim=1), self.collect_extras(auxes))

    def collect_extras(self, auxes: list[dict[str, torch.Tensor]]) -> dict[str, torch.Tensor]:
        """Turn the per-layer auxiliaries of `step` into `ExitOutputs.extras`."""
        return {}

    def loss(self, out: ExitOutputs, labels: torch.Tensor, ctx: TrainContext) -> LossTerms:
        raise NotImplementedError


def masked_mean(hidden: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
    """Mean over the attended positions: [B, L, d], mask [B, L] (1 = token) -> [B, d]."""
    mask = attention_mask[:, :hidden.shape[1]].to(hidden.dtype).unsqueeze(-1)
    return (hidden * mask).sum(dim=1) / mask.sum(dim=1).clamp_min(1.0)


class Pooler(nn.Module):
    """A layer's summary vector ([CLS], or the token mean: MultiExitModel.summary) ->
    tanh(Linear(d, d)): the paper's layer state."""

    def __init__(self, hidden: int, source: nn.Linear | None = None, init_range: float = 0.02):
        super().__init__()
        self.dense = nn.Linear(hidden, hidden)
        if source is not None:
            with torch.no_grad():
                self.dense.weight.copy_(source.weight)
                self.dense.bias.copy_(source.bias)
        else:
            init_linear(self.dense, init_range)

    def forward(self, summary: torch.Tensor) -> torch.Tensor:
        return torch.tanh(self.dense(summary))


def init_linear(layer: nn.Linear, init_range: float) -> None:
    """BERT's initialisation: N(0, initializer_range) weights, zero bias."""
    with torch.no_grad():
        layer.weight.normal_(0.0, init_range)
        if layer.bias is not None:
            layer.bias.zero_()


def pretrained_pooler_or_error(encoder: LayerwiseEncoder, method: str) -> nn.Linear:
    from pf.errors import PfError

    pooler = encoder.pretrained_pooler()
    if pooler is None:
        raise PfError(f"method '{method}' starts from the backbone's pretrained pooler, but "
                      f"this '{encoder.family}' model has none")
    return pooler
