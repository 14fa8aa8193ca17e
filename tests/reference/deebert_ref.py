"""DeeBERT as transformers' examples/research_projects/deebert computes it
(src/modeling_highway_bert.py, run_glue_deebert.py).

Modules of the original (`OriginalDeeBert` holds them under the original's names):
  bert (the backbone, with its pretrained `pooler`)
  highway[i], i = 0..n-1: BertHighway = pooler (BertPooler, copied from the pretrained pooler
      by init_highway_pooler before any training) -> dropout -> classifier Linear(d, C)
  classifier: Linear(d, C) on dropout(bert.pooler(last hidden))   (the final classifier)
Losses (DeeBertForSequenceClassification.forward): stage 1 ("train_highway=False") the
final classifier's CE; stage 2 ("train_highway=True") sum(highway_losses[:-1]), the
unweighted sum of the mean CE of highways 1..n-1 (highway n is built but never trained).
Training (run_glue_deebert.train): AdamW over the non-highway parameters (stage 1) or the
highway parameters (stage 2); nothing has requires_grad=False; every optimizer step calls
clip_grad_norm_(model.parameters(), max_grad_norm) and then model.zero_grad().
Inference (DeeBertEncoder.forward): after layer i (i = 1..n, the n-th highway included) the
example leaves with highway i's logits if entropy(highway_logits) < early_exit_entropy[i];
if no highway fires, the final classifier answers.
"""

from __future__ import annotations

import copy

import torch
import torch.nn.functional as F
from torch import nn

from reference.backbone import layer_outputs, pretrained_pooler


def entropy(x: torch.Tensor) -> torch.Tensor:
    """modeling_highway_bert.entropy: log(sum exp x) - sum(x exp x) / sum(exp x)."""
    exp_x = torch.exp(x)
    a = torch.sum(exp_x, dim=1)
    b = torch.sum(x * exp_x, dim=1)
    return torch.log(a) - b / a


class Highway(nn.Module):
    def __init__(self, d: int, num_labels: int, p: float):
        super().__init__()
        self.pooler = nn.Linear(d, d)        # BertPooler.dense (+ tanh)
        self.dropout = nn.Dropout(p)
        self.classifier = nn.Linear(d, num_labels)

    def forward(self, hidden: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.dropout(torch.tanh(self.pooler(hidden[:, 0]))))


class OriginalDeeBert(nn.Module):
    def __init__(self, backbone: nn.Module, family: str, num_labels: int, p: float):
        super().__init__()
        self.bert = copy.deepcopy(backbone)
        self.family = family
        n, d = backbone.config.num_hidden_layers, backbone.config.hidden_size
        self.highway = nn.ModuleList(Highway(d, num_labels, p) for _ in range(n))
        self.dropout = nn.Dropout(p)
        self.classifier = nn.Linear(d, num_labels)

    def forward(self, input_ids, attention_mask, token_type_ids):
        """(highway logits of layers 1..n, final classifier logits)."""
        hs = layer_outputs(self.bert, self.family, input_ids, attention_mask, token_type_ids)
        highway = [self.highway[i](h) for i, h in enumerate(hs)]
        final = self.classifier(self.dropout(pretrained_pooler(self.bert, self.family, hs[-1])))
        return highway, final

    def loss(self, highway, final, labels, train_highway: bool) -> torch.Tensor:
        if train_highway:
            return sum(F.cross_entropy(h, labels) for h in highway[:-1])
        return F.cross_entropy(final, labels)

    def optimizer_params(self, train_highway: bool) -> list[nn.Parameter]:
        """run_glue_deebert.train: parameters whose name does (not) contain "highway"."""
        return [p for name, p in self.named_parameters() if ("highway" in name) == train_highway]


def train_steps(model: OriginalDeeBert, batches, train_highway: bool, lr: float,
                max_grad_norm: float, weight_decay: float = 0.0) -> list[float]:
    """The original loop without gradient accumulation: forward, loss.backward(),
    clip_grad_norm_(model.parameters()), optimizer.step(), linear-decay scheduler.step(),
    model.zero_grad(). Returns the total gradient norm clip_grad_norm_ saw at every step."""
    no_decay = ["bias", "LayerNorm.weight"]
    params = [(n, p) for n, p in model.named_parameters() if ("highway" in n) == train_highway]
    groups = [
        {"params": [p for n, p in params if not any(nd in n for nd in no_decay)],
         "weight_decay": weight_decay},
        {"params": [p for n, p in params if any(nd in n for nd in no_decay)], "weight_decay": 0.0},
    ]
    optimizer = torch.optim.AdamW(groups, lr=lr, eps=1e-8)
    total = len(batches)
    scheduler = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda step: max(0.0, (total - step) / max(1, total)))
    norms = []
    model.zero_grad()
    for input_ids, attention_mask, token_type_ids, labels in batches:
        model.train()
        highway, final = model(input_ids, attention_mask, token_type_ids)
        model.loss(highway, final, labels, train_highway).backward()
        norms.append(float(nn.utils.clip_grad_norm_(model.parameters(), max_grad_norm)))
        optimizer.step()
        scheduler.step()
        model.zero_grad()
    return norms


def clip_factor(total_norm: float, max_norm: float) -> float:
    """torch.nn.utils.clip_grad_norm_ multiplies every gradient by this."""
    return min(1.0, max_norm / (total_norm + 1e-6))


def original_exit(highway: list[torch.Tensor], final: torch.Tensor, tau: float
                  ) -> tuple[int, torch.Tensor]:
    """One example (eval batch size 1): (exit layer, logits) as DeeBertEncoder.forward and
    DeeBertForSequenceClassification.forward decide; highway n is tested too."""
    for i, logits in enumerate(highway):
        if entropy(logits) < tau:
            return i + 1, logits
    return len(highway), final


def paper_exit(highway: list[torch.Tensor], final: torch.Tensor, tau: float
               ) -> tuple[int, torch.Tensor]:
    """The paper's rule: off-ramps 1..n-1, then the final classifier answers at layer n."""
    for i, logits in enumerate(highway[:-1]):
        if entropy(logits) < tau:
            return i + 1, logits
    return len(highway), final
