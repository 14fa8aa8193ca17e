"""`full` and `truncated` (BERT-mL): one classifier after the last (kept) layer.

Both use the backbone's pretrained pooler (part of the encoder) followed by dropout and a
new linear classifier, exactly like a standard sequence-classification fine-tuning.
`truncated` keeps the first m pretrained layers (option `layers`) and drops the rest;
`n_layers_full` stays the original depth so its speed-up is n/m.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from pf.backbones import LayerwiseEncoder
from pf.errors import PfError
from pf.methods.base import (ExitOutputs, ExitState, LossTerms, MultiExitModel, StepResult,
                             TrainContext, init_linear, pretrained_pooler_or_error)
from pf.methods.options import parse_options
from pf.methods.single_exit_spec import FullOptions


class SingleExitModel(MultiExitModel):
    """Pretrained pooler + classifier after the encoder's last layer."""

    method = "full"

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

    @classmethod
    def create(cls, encoder, num_labels, options, *, load_teacher=True):
        opts = parse_options(cls.method, cls.options_class, options)
        n = encoder.n_layers
        if opts.layers > n:
            raise PfError(f"method '{cls.method}': option 'layers' = {opts.layers} exceeds the "
                          f"backbone's {n} layers")
        encoder.truncate(opts.layers)
        return cls(encoder, num_labels, opts, n)
