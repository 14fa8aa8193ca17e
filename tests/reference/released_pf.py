"""Past-Future as lancopku/Early-Exit computes it (model/modeling_bert.py; RoBERTa reuses
BertModel.forward and ClassifierWithGate; model/modeling_albert.py is the same loop with
ALBERT's single pooler).

Weights in the released layout (`ReleasedHeads`):
  poolers[i]        BertModel.poolers[i].dense (weight [d, d] as nn.Linear, bias [d]); on
                    ALBERT every entry is AlbertModel.pooler (one module for every layer)
  pred_weight/bias  CLSPredLayer.weight [n, d, d], .bias [n, d]: learner j maps s to
                    tanh(s @ weight[j] + bias[j]) (index 0 exists but is never read)
  cls_weight/bias   ClassifierWithGate.weight [n, d, 2C], .bias [n, 2C]
  gate_weight/bias  ClassifierWithGate.gate_proj (nn.Linear C -> C)

`forward` is the training branch of BertModel.forward (the evaluation branch computes the
same logits without the detaching); `loss` is BertForSequenceClassification.forward's loss.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F


@dataclass
class ReleasedHeads:
    poolers: list[tuple[torch.Tensor, torch.Tensor]]
    pred_weight: torch.Tensor
    pred_bias: torch.Tensor
    cls_weight: torch.Tensor
    cls_bias: torch.Tensor
    gate_weight: torch.Tensor
    gate_bias: torch.Tensor


@dataclass
class ReleasedForward:
    logits: list[torch.Tensor]          # one [B, C] per layer (the list `res`)
    cls_tokens: list[torch.Tensor]      # BertModel.cls_tokens: detached s_i
    cls_tokens_proj: list[torch.Tensor]  # BertModel.cls_tokens_proj: learners on s_i, [B, n, d]


def cls_pred_layer(heads: ReleasedHeads, cls_token: torch.Tensor) -> torch.Tensor:
    """CLSPredLayer.forward: tanh(cls_token.matmul(weight).permute(1, 0, 2) + bias)."""
    return torch.tanh(cls_token.matmul(heads.pred_weight).permute(1, 0, 2) + heads.pred_bias)


def classifier_with_gate(heads: ReleasedHeads, cls_tokens: torch.Tensor, current_layer: int,
                         num_labels: int) -> torch.Tensor:
    """ClassifierWithGate.forward on the stacked [s_1..s_i, s_hat_{i+1..n}] (bsz, n, d)."""
    C = num_labels
    proj = cls_tokens.unsqueeze(-2).matmul(heads.cls_weight).squeeze(-2) + heads.cls_bias
    prev_logits = torch.sum(proj[:, :current_layer + 1, :C], dim=1)
    future_logits = torch.sum(proj[:, current_layer + 1:, :C], dim=1)
    prev_gate = torch.tanh(torch.sum(proj[:, :current_layer + 1, C:], dim=1) / (current_layer + 1))
    prev_lamb = torch.sigmoid(F.linear(prev_gate, heads.gate_weight, heads.gate_bias))
    return 2 * prev_lamb * prev_logits + (2 - 2 * prev_lamb) * future_logits


def forward(heads: ReleasedHeads, hidden_states: list[torch.Tensor], num_labels: int,
            dropout=lambda x: x) -> ReleasedForward:
    """The training loop of BertModel.forward over the layer outputs (already detached where
    the freeze drew so, see backbone.layer_outputs)."""
    res, cls_tokens, cls_tokens_proj, all_pool = [], [], [], []
    for i, h in enumerate(hidden_states):
        w, b = heads.poolers[i]
        pooled_output = torch.tanh(F.linear(h[:, 0], w, b))
        cls_token = pooled_output
        cls_tokens.append(cls_token.detach())
        cls_tokens_proj.append(cls_pred_layer(heads, cls_token))
        pred_cls = cls_tokens_proj[-1][:, i + 1:, :]
        if all_pool:
            all_pool[-1] = all_pool[-1].detach()
        all_pool.append(pooled_output)
        stacked = torch.cat([torch.stack(all_pool, dim=1), pred_cls], dim=1)
        res.append(classifier_with_gate(heads, dropout(stacked), i, num_labels))
    return ReleasedForward(res, cls_tokens, cls_tokens_proj)


@dataclass
class ReleasedLoss:
    total: torch.Tensor                 # (total_loss / total_weights + cls_loss_total) / 2
    ce: torch.Tensor                    # total_loss / total_weights
    imitation: torch.Tensor             # cls_loss_total


def loss(out: ReleasedForward, labels: torch.Tensor, num_labels: int) -> ReleasedLoss:
    total_loss, total_weights = None, 0
    for ix, logits_item in enumerate(out.logits):
        item = F.cross_entropy(logits_item.view(-1, num_labels), labels.view(-1))
        total_loss = item if total_loss is None else total_loss + item * (ix + 1)
        total_weights += ix + 1
    cls_tokens = torch.stack(out.cls_tokens, dim=1)
    cos_loss = torch.nn.CosineEmbeddingLoss()
    cls_loss_total = 0
    for i in range(len(out.cls_tokens_proj) - 1):
        d = cls_tokens.shape[-1]
        proj = out.cls_tokens_proj[i][:, i + 1:, :].reshape(-1, d)
        target_states = cls_tokens[:, i + 1:, :].reshape(-1, d)
        ones = torch.ones(target_states.shape[0])
        cls_loss_total = cls_loss_total + cos_loss(target_states, proj, ones)
    cls_loss_total = cls_loss_total / (len(out.cls_tokens_proj) - 1)
    ce = total_loss / total_weights
    return ReleasedLoss((ce + cls_loss_total) / 2, ce, cls_loss_total)


def detach_probability(cur_step: int, total_step: int) -> float:
    """P(random.random() > cur_step / total_step) for random() uniform on [0, 1): the chance
    that one of the lowest `freezed_lower_layer` layers has its output detached in the
    forward pass numbered cur_step (incremented once per training forward pass)."""
    x = cur_step / total_step
    return min(1.0, max(0.0, 1.0 - x))


def entropy(logits: torch.Tensor) -> torch.Tensor:
    """modeling_bert.entropy / the inline highway_entropy: -sum p log p, natural log."""
    prob = torch.softmax(logits, dim=1)
    return -torch.sum(prob * torch.log(prob), dim=1)


def exit_layer(per_layer_logits: list[torch.Tensor], threshold: float) -> tuple[int, torch.Tensor]:
    """The evaluation loop for one example (eval batch size 1): the first layer whose
    entropy is below `patience` (the threshold), else the last; (1-based layer, logits)."""
    for i, logits in enumerate(per_layer_logits):
        if torch.all(entropy(logits) < threshold):
            return i + 1, logits
    return len(per_layer_logits), per_layer_logits[-1]

