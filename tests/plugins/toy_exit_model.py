"""The model of the toy plug-in method (tests/plugins/toy_exit.py registers it)."""

from __future__ import annotations

import torch.nn.functional as F
from torch import nn

from pf.methods.base import LossTerms, MultiExitModel, StepResult, init_linear


class ToyModel(MultiExitModel):
    method = "toy"          # its options class and exit rule come from its MethodSpec

    def __init__(self, encoder, num_labels, options):
        n = encoder.n_layers
        super().__init__(encoder, num_labels, options, tuple(range(1, n + 1)), n)
        self.dropout = nn.Dropout(self.dropout_p if options.dropout is None else options.dropout)
        self.classifiers = nn.ModuleList(nn.Linear(encoder.hidden_size, num_labels)
                                         for _ in range(n))
        for c in self.classifiers:
            init_linear(c, self.init_range)

    def step(self, layer_idx, hidden, state):
        # summary: the layer's [CLS] vector, or its token mean under option exit_pooling mean
        summary = self.summary(hidden, state)
        return StepResult(self.classifiers[layer_idx](self.dropout(summary)), state)

    def loss(self, out, labels, ctx):
        b, e, c = out.logits.shape
        ce = F.cross_entropy(out.logits.float().reshape(b * e, c), labels.repeat_interleave(e))
        return LossTerms(ce, {"ce": ce.detach()})
