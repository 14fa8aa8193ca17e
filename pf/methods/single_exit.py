"""`full` and `truncated` (BERT-mL): one classifier after the last (kept) layer.

Both use the backbone's pretrained pooler (part of the encoder) followed by dropout and a
new linear classifier, exactly like a standard sequence-classification fine-tuning.
`truncated` keeps the first m pretrained layers (option `layers`) and drops the rest;
`n_layers_full` stays the original depth so its speed-up is n/m.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from pf.backbones import LayerwiseEncoder
from pf.errors import PfError
from pf.methods.base import (ExitOutputs, ExitState, LossTerms, MultiExitModel, StepResult,
                             TrainContext, init_linear, pretrained_pooler_or_error)
from pf.methods.options import MethodOptions, check_range, parse_options


@dataclass(frozen=True)
class FullOptions(MethodOptions):
    dropout: float | None = None      # classifier dropout; None = the backbone's (dropout_p)

    def check(self, method: str) -> None:
        check_range(method, "dropout", self.dropout, 0.0, 1.0)


@dataclass(frozen=True)
class TruncatedOptions(FullOptions):
    layers: int | None = None         # m, the number of lower layers kept (required)

    def check(self, method: str) -> None:
        super().check(method)
        if self.layers is None:
            raise PfError(f"method '{method}': option 'layers' (number of layers kept) is required")
        check_range(method, "layers", self.layers, 1)


class SingleExitModel(MultiExitModel):
    """Pretrained pooler + classifier after the encoder's last layer."""

    method = "full"
    options_class = FullOptions
    exit_rule = "last"

    def __init__(self, encoder: LayerwiseEncoder, num_labels: int, options: FullOptions,
                 n_layers_full: int):
        super().__init__(encoder, num_labels, options, (encoder.n_layers,), n_layers_full)
        pretrained_pooler_or_error(encoder, self.method)   # used via self.pooler (owned by encoder)
        p = self.dropout_p if options.dropout is None else options.dropout
        self.dropout = nn.Dropout(p)
        self.classifier = nn.Linear(encoder.hidden_size, num_labels)
        init_linear(self.classifier, self.init_range)

    @classmethod
    def create(cls, encoder, num_labels, options, *, load_teacher=True):
        opts = parse_options(cls.method, cls.options_class, options)
        return cls(encoder, num_labels, opts, encoder.n_layers)

    def head(self, hidden: torch.Tensor, state: ExitState) -> torch.Tensor:
        """Logits [B, C] from the last layer's hidden states (`state`: from `start_state`)."""
        pooled = torch.tanh(self.pooler(self.summary(hidden, state)))
        return self.classifier(self.dropout(pooled))

    def step(self, layer_idx, hidden, state):
        if layer_idx != self.encoder.n_layers - 1:
            return StepResult(None, state)
        return StepResult(self.head(hidden, state), state)

    def loss(self, out: ExitOutputs, labels: torch.Tensor, ctx: TrainContext) -> LossTerms:
        ce = F.cross_entropy(out.logits[:, -1].float(), labels)
        return LossTerms(ce, {"ce": ce.detach()})


class TruncatedModel(SingleExitModel):
    method = "truncated"
    options_class = TruncatedOptions

    @classmethod
    def create(cls, encoder, num_labels, options, *, load_teacher=True):
        opts = parse_options(cls.method, cls.options_class, options)
        n = encoder.n_layers
        if opts.layers > n:
            raise PfError(f"method '{cls.method}': option 'layers' = {opts.layers} exceeds the "
                          f"backbone's {n} layers")
        encoder.truncate(opts.layers)
        return cls(encoder, num_labels, opts, n)
