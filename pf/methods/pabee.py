"""PABEE (Zhou et al. 2020): patience-based early exit.

One shared pooler (the backbone's pretrained one, so it is part of the encoder), dropout and
a linear classifier per layer. One training stage over all parameters with the loss
sum_i i*CE_i / sum_i i. The exit rule is patience (pf.exits "patience"; patience 0 = no
early exit, the last classifier answers, as in the original). Head dropout as the original:
`hidden_dropout_prob`, on ALBERT `classifier_dropout_prob` (MultiExitModel.dropout_p).
"""

from __future__ import annotations

import torch
from torch import nn

from pf.methods.base import (ExitOutputs, LossTerms, MultiExitModel, StepResult, TrainContext,
                             exit_weights, init_linear, pretrained_pooler_or_error, weighted_ce)
from pf.methods.pabee_spec import PabeeOptions


class PabeeModel(MultiExitModel):
    method = "pabee"

    def __init__(self, encoder, num_labels, options: PabeeOptions):
        n = encoder.n_layers
        super().__init__(encoder, num_labels, options, tuple(range(1, n + 1)), n)
        pretrained_pooler_or_error(encoder, self.method)   # used via self.pooler (owned by encoder)
        self.dropout = nn.Dropout(self.dropout_p if options.dropout is None else options.dropout)
        self.classifiers = nn.ModuleList(nn.Linear(encoder.hidden_size, num_labels) for _ in range(n))
        for c in self.classifiers:
            init_linear(c, self.init_range)

    def step(self, layer_idx, hidden, state):
        pooled = torch.tanh(self.pooler(self.summary(hidden, state)))
        return StepResult(self.classifiers[layer_idx](self.dropout(pooled)), state)

    def loss_weights(self, device: torch.device | str | None = None) -> torch.Tensor:
        return exit_weights(len(self.exit_layers), device)

    def loss(self, out: ExitOutputs, labels: torch.Tensor, ctx: TrainContext) -> LossTerms:
        ce = weighted_ce(out.logits, labels, self.loss_weights(out.logits.device))
        return LossTerms(ce, {"ce": ce.detach()})
