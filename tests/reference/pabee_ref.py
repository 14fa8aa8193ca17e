"""PABEE as transformers' examples/research_projects/bert-loses-patience computes it
(pabee/modeling_pabee_bert.py, pabee/modeling_pabee_albert.py, run_glue_with_pabee.py).

  pooled_i = the backbone's pretrained pooler on layer i's output (one pooler, shared)
  logits_i = classifiers[i](dropout(pooled_i)); dropout = hidden_dropout_prob (BERT) or
             classifier_dropout_prob (ALBERT: AlbertForSequenceClassificationWithPabee)
  loss     = (CE_1 + sum_{i>=2} i * CE_i) / sum_i i          (mean CE over the batch)
  exit     = patience 0: all layers, the last classifier answers ("Use all layers for
             inference"); otherwise a counter starts at 0 at layer 1, adds 1 when the
             layer's argmax equals the previous layer's, resets to 0 when not, and the
             example leaves at the first layer where counter == patience (else layer n).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from reference.backbone import layer_outputs, pretrained_pooler


def logits(backbone, family: str, classifiers: list[tuple[torch.Tensor, torch.Tensor]],
           input_ids, attention_mask, token_type_ids, dropout=lambda x: x) -> list[torch.Tensor]:
    hs = layer_outputs(backbone, family, input_ids, attention_mask, token_type_ids)
    return [F.linear(dropout(pretrained_pooler(backbone, family, h)), w, b)
            for h, (w, b) in zip(hs, classifiers)]


def loss(per_layer: list[torch.Tensor], labels: torch.Tensor) -> torch.Tensor:
    total_loss, total_weights = None, 0
    for ix, item in enumerate(per_layer):
        ce = F.cross_entropy(item.view(-1, item.shape[-1]), labels.view(-1))
        total_loss = ce if total_loss is None else total_loss + ce * (ix + 1)
        total_weights += ix + 1
    return total_loss / total_weights


def exit_layer(per_layer: list[torch.Tensor], patience: int) -> tuple[int, torch.Tensor]:
    """One example (eval batch size 1): (1-based exit layer, logits)."""
    if patience == 0:
        return len(per_layer), per_layer[-1]
    patient_counter, patient_result = 0, None
    for i, item in enumerate(per_layer):
        labels = item.detach().argmax(dim=1)
        if patient_result is not None and torch.all(labels.eq(patient_result.argmax(dim=1))):
            patient_counter += 1
        else:
            patient_counter = 0
        patient_result = item
        if patient_counter == patience:
            return i + 1, item
    return len(per_layer), patient_result
