"""A small MultiExitModel-conforming test model (independent of pf.methods)."""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from pf.backbones import BackboneSpec, EncoderInputs, TinyConfig, load_encoder


@dataclass
class _Out:
    logits: torch.Tensor


class RunningMeanExits(nn.Module):
    """Per-layer pooler + linear exits on the running mean of the pooled [CLS] states.

    The state carries the running sum of pooled states and a per-example count, so removing
    rows from the batch must remove them from the state too.
    """

    method = "test-running-mean"

    def __init__(self, encoder, num_labels: int, exit_every: int = 1, temperature: float = 1.0):
        super().__init__()
        self.encoder = encoder
        self.num_labels = num_labels
        n, d = encoder.n_layers, encoder.hidden_size
        self.exit_layers = tuple(range(exit_every, n + 1, exit_every))
        if self.exit_layers[-1] != n:
            self.exit_layers = (*self.exit_layers, n)
        self.n_layers_full = n
        self.poolers = nn.ModuleList(nn.Linear(d, d) for _ in range(n))
        self.heads = nn.ModuleList(nn.Linear(d, num_labels) for _ in range(n))
        self.temperature = temperature

    def init_state(self, batch_size: int, device) -> dict[str, torch.Tensor]:
        d = self.encoder.hidden_size
        return {"sum": torch.zeros(batch_size, d, device=device),
                "count": torch.zeros(batch_size, 1, device=device)}

    def start_state(self, inputs: EncoderInputs) -> dict[str, torch.Tensor]:
        return self.init_state(len(inputs), inputs.input_ids.device)

    def exit_step(self, layer_idx: int, hidden: torch.Tensor, state):
        s = torch.tanh(self.poolers[layer_idx](hidden[:, 0]))
        state = {"sum": state["sum"] + s, "count": state["count"] + 1}
        if layer_idx + 1 not in self.exit_layers:
            return None, state
        logits = self.heads[layer_idx](state["sum"] / state["count"]) * self.temperature
        return logits, state

    def forward(self, inputs: EncoderInputs, ctx=None) -> _Out:
        h = self.encoder.embed(inputs)
        bias = self.encoder.attention_bias(inputs.attention_mask, h.dtype)
        state = self.init_state(h.shape[0], h.device)
        out = []
        for i in range(self.encoder.n_layers):
            h = self.encoder.layer(i, h, bias)
            logits, state = self.exit_step(i, h, state)
            if logits is not None:
                out.append(logits)
        return _Out(torch.stack(out, dim=1))


def tiny_encoder(n_layers=4, hidden=32, seed=0, vocab=50, family="bert"):
    spec = BackboneSpec(name="tiny", family=family,
                        tiny=TinyConfig(n_layers=n_layers, hidden_size=hidden, n_heads=2,
                                        intermediate_size=2 * hidden, embedding_size=16,
                                        max_position_embeddings=40))
    return load_encoder(spec, vocab_size=vocab, pad_token_id=0, seed=seed)


def random_inputs(n, length=12, vocab=50, seed=0) -> EncoderInputs:
    g = torch.Generator().manual_seed(seed)
    ids = torch.randint(1, vocab, (n, length), generator=g)
    lengths = torch.randint(3, length + 1, (n,), generator=g)
    mask = (torch.arange(length)[None, :] < lengths[:, None]).long()
    ids = ids * mask
    tt = torch.zeros_like(ids)
    return EncoderInputs(ids, mask, tt)


def make_model(n_layers=4, num_labels=3, seed=0, exit_every=1, temperature=1.0, family="bert"):
    enc = tiny_encoder(n_layers=n_layers, seed=seed, family=family)
    torch.manual_seed(seed + 1)
    model = RunningMeanExits(enc, num_labels, exit_every=exit_every, temperature=temperature)
    return model.eval()


def early_exits_agreeing(model, x, logits, rule, params, label) -> int:
    """Run the engine at every parameter and batch size 1 and 16, assert its exits and
    predictions equal the simulation over `logits`, and return how many rows left early."""
    from pf.engine import compare_to_simulation, run_engine

    n = model.n_layers_full
    early = 0
    for p in params:
        for bs in (1, 16):
            res = run_engine(model, x, rule, p, batch_size=bs)
            agree = compare_to_simulation(res, logits, rule, p)
            assert agree.ok, (label, p, bs, agree)
            early += int((res.exit_layer < n).sum())
    return early
