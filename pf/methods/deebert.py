"""DeeBERT (Xin et al. 2020): off-ramps after every layer, trained in two stages.

Off-ramp i (layers 1..n-1) = its own pooler (a copy of the pretrained pooler, taken when the
model is built) + dropout + linear. Layer n predicts with the final classifier: the
backbone's pretrained pooler + dropout + linear. (The original code also builds an n-th
off-ramp, never trained, and tests it before the final classifier at layer n; we follow the
paper, where the final classifier answers at layer n: docs/METHODS.md.)
Stage "backbone": backbone and final classifier are fine-tuned with the final CE.
Stage "ramps": the off-ramps train on the unweighted sum of their cross-entropies. As in
the original (run_glue_deebert.py, train(train_highway=True)) only the off-ramps are given
to the optimizer while nothing is frozen: the backbone receives the off-ramps' gradients,
which enter the global-norm gradient clipping, but is never updated.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from pf.methods.base import (ExitOutputs, LossTerms, MultiExitModel, Pooler, StepResult,
                             TrainContext, init_linear, pretrained_pooler_or_error)
from pf.methods.deebert_spec import DeebertOptions

STAGES = ("backbone", "ramps")


class OffRamp(nn.Module):
    def __init__(self, hidden: int, num_labels: int, pooler: nn.Linear, init_range: float):
        super().__init__()
        self.pooler = Pooler(hidden, source=pooler)
        self.classifier = nn.Linear(hidden, num_labels)
        init_linear(self.classifier, init_range)


class DeebertModel(MultiExitModel):
    method = "deebert"

    def __init__(self, encoder, num_labels, options: DeebertOptions):
        n = encoder.n_layers
        super().__init__(encoder, num_labels, options, tuple(range(1, n + 1)), n)
        pooler = pretrained_pooler_or_error(encoder, self.method)
        d = encoder.hidden_size
        self.ramps = nn.ModuleList(OffRamp(d, num_labels, pooler, self.init_range)
                                   for _ in range(n - 1))
        self.dropout = nn.Dropout(self.dropout_p if options.dropout is None else options.dropout)
        self.classifier = nn.Linear(d, num_labels)
        init_linear(self.classifier, self.init_range)

    def stages(self):
        return STAGES

    def set_stage(self, stage: str) -> None:
        stage1 = stage == "backbone"
        self.requires_grad_(True)
        self.ramps.requires_grad_(not stage1)

    def optimizer_parameters(self, stage: str) -> list[nn.Parameter]:
        if stage == "backbone":
            return [p for p in self.parameters() if p.requires_grad]
        return list(self.ramps.parameters())

    def step(self, layer_idx, hidden, state):
        summary = self.summary(hidden, state)
        if layer_idx == self.encoder.n_layers - 1:
            pooled = torch.tanh(self.pooler(summary))
            return StepResult(self.classifier(self.dropout(pooled)), state)
        ramp = self.ramps[layer_idx]
        return StepResult(ramp.classifier(self.dropout(ramp.pooler(summary))), state)

    def loss(self, out: ExitOutputs, labels: torch.Tensor, ctx: TrainContext) -> LossTerms:
        if ctx.stage == "backbone":
            ce = F.cross_entropy(out.logits[:, -1].float(), labels)
            return LossTerms(ce, {"ce_final": ce.detach()})
        ramps = out.logits[:, :-1].float()
        B, E, C = ramps.shape
        ce = F.cross_entropy(ramps.reshape(B * E, C), labels.repeat_interleave(E),
                             reduction="none").view(B, E).mean(0).sum()
        return LossTerms(ce, {"ce_ramps": ce.detach()})
