"""The originals' encoder pass, one layer at a time (their `adaptive_forward`).

Every original (Early-Exit's BertModel/AlbertModel.forward, PABEE's *ModelWithPabee.forward)
embeds the input, builds the additive mask (1 - mask) * -10000 over the key positions, and
runs `encoder.adaptive_forward(hidden, current_layer=i, ...)` for i = 0..n-1. ALBERT maps
the embeddings to the hidden width inside adaptive_forward at layer 0 and runs layer group
int(i / (n / groups)). RoBERTa's run_glue passes no token type ids (zeros).
"""

from __future__ import annotations

import torch


def extended_mask(attention_mask: torch.Tensor, dtype: torch.dtype) -> torch.Tensor:
    return (1.0 - attention_mask[:, None, None, :].to(dtype)) * -10000.0


def _run(module, hidden, mask):
    out = module(hidden, mask)
    return out[0] if isinstance(out, tuple) else out


def layer_outputs(model, family: str, input_ids, attention_mask, token_type_ids,
                  detach: tuple[int, ...] = ()) -> list[torch.Tensor]:
    """Output of every layer [B, L, d]; 1-based layers in `detach` have their output
    detached where it is produced (Early-Exit's freeze: `encoder_outputs.detach()`), so the
    layers after it read the detached tensor too."""
    if family == "roberta":
        token_type_ids = torch.zeros_like(token_type_ids)
    hidden = model.embeddings(input_ids=input_ids, token_type_ids=token_type_ids)
    mask = extended_mask(attention_mask, hidden.dtype)
    config = model.config
    n = config.num_hidden_layers
    outs = []
    for i in range(n):
        if family == "albert":
            if i == 0:
                hidden = model.encoder.embedding_hidden_mapping_in(hidden)
            group = int(i / (n / config.num_hidden_groups))
            hidden = _run(model.encoder.albert_layer_groups[group], hidden, mask)
        else:
            hidden = _run(model.encoder.layer[i], hidden, mask)
        if i + 1 in detach:
            hidden = hidden.detach()
        outs.append(hidden)
    return outs


def pretrained_pooler(model, family: str, hidden: torch.Tensor) -> torch.Tensor:
    """The backbone's own pooler on the first token: BertPooler (BERT, RoBERTa) or ALBERT's
    `pooler_activation(pooler(h[:, 0]))`."""
    if family == "albert":
        return torch.tanh(model.pooler(hidden[:, 0]))
    return model.pooler(hidden)
