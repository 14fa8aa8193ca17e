"""Global Past-Future early exit (Liao et al., NAACL 2021): method `pf`.

At exit i the head combines the states s_1..s_i of the layers seen so far (past) with states
s_hat_{i+1..n} that learners imitate from s_i (future), merges them with a gate and predicts.
State s_i = tanh(P_i h_i[CLS] + b_i) with a pooler P_i per layer (h_i[CLS] is the layer's
summary vector: the token mean instead with option exit_pooling "mean", base.summary).

Options (`PastFutureOptions`):
  variant    "released" (default; the authors' code, which produced the paper's numbers) or
             "paper" (the text). Differences implemented (SPEC section 3; every line with
             its place in the released code in docs/METHODS.md):
               released: n new per-layer poolers, randomly initialised (BERT, RoBERTa; on
                 ALBERT the backbone's own pooler serves every layer); learners
                 tanh(W_j s_i + b_j); past inputs s_1..s_{i-1} detached at exit i;
                 loss (L_ce + L_cos)/2; freeze schedule over training time, one draw per
                 layer and forward pass; and, for strategy concat, the tied-block head: every
                 layer k owns W_k: d -> C (+ C gate values when gated) shared by all exits,
                 past logits = sum_{k<=i} W_k s_k, future logits = sum_{j>i} W_j s_hat_j,
                 alpha = sigmoid(Linear_CxC(tanh(mean_{k<=i} gate_k))) per label,
                 logits = 2 alpha past + (2 - 2 alpha) future, at the last exit too (where
                 the future sum is empty: 2 alpha past). Dropout is drawn afresh at every
                 exit over all the states it reads, past ones included.
               paper: per-layer poolers start as copies of the pretrained pooler (the text
                 does not say; this is the natural reading of "state = pooled [CLS]");
                 learner = one feed-forward (affine) layer W_j s_i + b_j; gradient flows into
                 every past state; loss L_ce + L_cos; per-layer freeze schedule; s_p and s_f
                 stay d-dimensional, alpha = sigmoid(Linear_d->1(s_p)) is a scalar,
                 z = alpha s_p + (1 - alpha) s_f and a classifier per exit maps z to labels.
  strategy   concat (default) | max | avg | attn | lstm | voting | ensemble.
             In the released variant only concat has a released-code form. For max, avg,
             attn and lstm both variants use the paper-style head above (aggregate the
             states with G, gate, per-exit classifier); the released variant still detaches
             past states, uses its learners, poolers, loss scale and freeze schedule.
             voting / ensemble are prediction-level: a classifier per layer; exit i
             pools the predictions of layers 1..i (and, with future on, of the imitated
             states i+1..n through their layer's classifier) by majority vote (ties broken
             by mean probability) or by mean probability. They have no gate.
  future     true (Global Past-Future) | false (Global Past: no learners, no L_cos).
  gate       true | false (fixed alpha = 0.5) | null (= true where a gate exists).
  frozen_layers   L of SPEC section 3 (0 = no freezing).
  freeze_schedule "released" | "paper" | null (= the variant's own).
  imitation_input_grad  true (default; the released code, and the paper's loss read
             literally: only the target s_j is detached): L_cos also back-propagates through
             the learner into s_i, layer i's pooler and the backbone below it. false: L_cos
             trains the learners only (s_i still gets gradient through the future logits;
             one extra learner pass in training): an opt-out a config may choose, saying why.
At the last exit there is no future: the released concat head gives 2 alpha past, the other
heads the past term alone.
Loss: L_ce = sum_i w_i CE_i with w_i = i / sum_j j; L_cos = mean over i = 1..n-1 of the mean
over j > i of 1 - cos(s_hat_j, s_j.detach()).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from pf.errors import PfError
from pf.methods.base import (ExitOutputs, FreezeDecision, LossTerms, MultiExitModel,
                             StepResult, TrainContext, exit_weights, weighted_ce)
from pf.methods.past_future_spec import PREDICTION_STRATEGIES, PastFutureOptions
from pf.methods.pf_strategies import STRATEGIES


class PastFutureModel(MultiExitModel):
    method = "pf"

    def __init__(self, encoder, num_labels: int, options: PastFutureOptions):
        n, d, C = encoder.n_layers, encoder.hidden_size, num_labels
        super().__init__(encoder, num_labels, options, tuple(range(1, n + 1)), n)
        if options.frozen_layers > n:
            raise PfError(f"method 'pf': option 'frozen_layers' = {options.frozen_layers} "
                          f"exceeds the backbone's {n} layers")
        self.released = options.variant == "released"
        self.tied = self.released and options.strategy == "concat"
        # released ALBERT code pools every layer with ALBERT's own pooler
        self.shared_pooler = self.released and encoder.family == "albert"
        self.prediction_level = options.strategy in PREDICTION_STRATEGIES
        r = self.init_range
        self.dropout = nn.Dropout(self.dropout_p if options.dropout is None else options.dropout)

        # per-layer poolers, stacked: s_i = tanh(h_i[CLS] @ pool_weight[i].T + pool_bias[i])
        pretrained = encoder.pretrained_pooler()
        if self.shared_pooler:
            if pretrained is None:
                raise PfError("method 'pf' (variant released) on ALBERT pools with the "
                              "backbone's pooler, but this model has none")
        elif not self.released and pretrained is not None:
            w = pretrained.weight.detach().clone()[None].repeat(n, 1, 1)
            b = pretrained.bias.detach().clone()[None].repeat(n, 1)
            self.pool_weight, self.pool_bias = nn.Parameter(w), nn.Parameter(b)
        else:
            w, b = torch.randn(n, d, d) * r, torch.zeros(n, d)
            self.pool_weight, self.pool_bias = nn.Parameter(w), nn.Parameter(b)

        # learners for the layers that can be a future (j = 2..n), stacked at index j - 2
        if options.future and n > 1:
            self.learner_weight = nn.Parameter(torch.randn(n - 1, d, d) * r)
            self.learner_bias = nn.Parameter(torch.zeros(n - 1, d))

        if self.tied:
            width = 2 * C if options.gated else C
            self.proj_weight = nn.Parameter(torch.randn(n, width, d) * r)
            self.proj_bias = nn.Parameter(torch.zeros(n, width))
            if options.gated:
                self.gate = nn.Linear(C, C)
        else:
            self.cls_weight = nn.Parameter(torch.randn(n, C, d) * r)
            self.cls_bias = nn.Parameter(torch.zeros(n, C))
            if not self.prediction_level:
                self.strategy = STRATEGIES[options.strategy](n, d, r)
                if options.gated:
                    self.gate = nn.Linear(d, 1)
        if hasattr(self, "gate"):
            nn.init.normal_(self.gate.weight, 0.0, r)
            nn.init.zeros_(self.gate.bias)

    # --- pieces ---------------------------------------------------------------------------
    def pool(self, layer_idx: int, hidden: torch.Tensor, state=None) -> torch.Tensor:
        """s_i of layer i = layer_idx + 1 (`state` from start_state: exit_pooling "mean")."""
        summary = self.summary(hidden, state)
        if self.shared_pooler:
            return torch.tanh(self.pooler(summary))
        return torch.tanh(F.linear(summary, self.pool_weight[layer_idx],
                                   self.pool_bias[layer_idx]))

    def imitate(self, layer_idx: int, s: torch.Tensor) -> torch.Tensor:
        """s_hat_j for j = i+1..n from s_i (i = layer_idx + 1): [B, n - i, d]."""
        w, b = self.learner_weight[layer_idx:], self.learner_bias[layer_idx:]
        out = torch.einsum("bd,jed->bje", s, w) + b
        return torch.tanh(out) if self.released else out

    def init_state(self, batch_size, device):
        if not self.tied:
            return {}
        d = self.proj_weight.shape[2]
        return {"past": torch.zeros(batch_size, 0, d, device=device,
                                    dtype=self.proj_weight.dtype)}

    def step(self, layer_idx, hidden, state):
        n = self.encoder.n_layers
        s = self.pool(layer_idx, hidden, state)
        has_future = self.options.future and layer_idx < n - 1
        shat = self.imitate(layer_idx, s) if has_future else None
        if self.tied:
            logits, state, aux = self._tied_step(layer_idx, s, shat, state)
        elif self.prediction_level:
            logits, state, aux = self._prediction_step(layer_idx, s, shat, state)
        else:
            logits, state, aux = self._vector_step(layer_idx, s, shat, state)
        if self.options.future:
            aux["s"] = s
            if shat is not None:
                if self.options.imitation_input_grad or not torch.is_grad_enabled():
                    aux["shat"] = shat
                else:
                    aux["shat"] = self.imitate(layer_idx, s.detach())
        return StepResult(logits, state, aux)

    def _tied_step(self, li, s, shat, state):
        C = self.num_labels
        # the state carries s_1..s_{i-1} detached (only s_i carries gradient); every exit
        # re-reads them through a fresh dropout mask, as the released forward does
        states = torch.cat([state["past"], s[:, None].to(state["past"].dtype)], dim=1)
        new_state = {**state, "past": states.detach()}
        proj = torch.einsum("bkd,kcd->bc", self.dropout(states), self.proj_weight[:li + 1]) \
            + self.proj_bias[:li + 1].sum(0)
        past = proj[:, :C]
        future = None
        if shat is not None:
            wf, bf = self.proj_weight[li + 1:, :C], self.proj_bias[li + 1:, :C]
            future = torch.einsum("bjd,jcd->bc", self.dropout(shat), wf) + bf.sum(0)
        if self.options.gated:
            alpha = torch.sigmoid(self.gate(torch.tanh(proj[:, C:] / (li + 1))))
            if future is None:          # last exit: the future sum is empty
                return 2 * alpha * past, new_state, {}
            return 2 * alpha * past + (2 - 2 * alpha) * future, new_state, {}
        return (past if future is None else past + future), new_state, {}

    def _vector_step(self, li, s, shat, state):
        sp, new_state = self.strategy.past(li + 1, s, state, keep_grad=not self.released)
        z = sp
        if shat is not None:
            sf = self.strategy.future(li + 1, shat, s)
            alpha = torch.sigmoid(self.gate(sp)) if self.options.gated else 0.5
            z = alpha * sp + (1 - alpha) * sf
        return F.linear(self.dropout(z), self.cls_weight[li], self.cls_bias[li]), new_state, {}

    def _prediction_step(self, li, s, shat, state):
        C = self.num_labels
        layer_logits = F.linear(self.dropout(s), self.cls_weight[li], self.cls_bias[li])
        lg = layer_logits.detach().float()
        prob_sum = lg.softmax(-1) + state.get("prob_sum", 0.0)
        votes = F.one_hot(lg.argmax(-1), C).float() + state.get("votes", 0.0)
        new_state = {**state, "prob_sum": prob_sum, "votes": votes}
        count = float(li + 1)
        if shat is not None:
            lf = torch.einsum("bjd,jcd->bjc", self.dropout(shat), self.cls_weight[li + 1:]) \
                + self.cls_bias[li + 1:]
            lf = lf.detach().float()
            prob_sum = prob_sum + lf.softmax(-1).sum(1)
            votes = votes + F.one_hot(lf.argmax(-1), C).float().sum(1)
            count += shat.shape[1]
        mean_prob = prob_sum / count
        if self.options.strategy == "ensemble":
            logits = mean_prob.clamp_min(1e-12).log()
        else:   # majority vote, ties broken by the mean probability
            eps = 1e-3
            logits = ((votes + eps * mean_prob) / (count + eps)).clamp_min(1e-12).log()
        return logits, new_state, {"layer_logits": layer_logits}

    def collect_extras(self, auxes):
        extras: dict[str, torch.Tensor] = {}
        if self.prediction_level:
            extras["layer_logits"] = torch.stack([a["layer_logits"] for a in auxes], dim=1)
        if self.options.future and len(auxes) > 1:
            states = torch.stack([a["s"] for a in auxes], dim=1).detach()     # targets
            terms = []
            for i, a in enumerate(auxes[:-1]):     # exit i + 1 imitates layers i + 2..n
                cos = F.cosine_similarity(a["shat"].float(), states[:, i + 1:].float(), dim=-1)
                terms.append((1 - cos).mean(dim=1))
            extras["imitation"] = torch.stack(terms, dim=1).mean(dim=1)          # [B]
        return extras

    # --- training -------------------------------------------------------------------------
    def loss_weights(self, device: torch.device | str | None = None) -> torch.Tensor:
        return exit_weights(len(self.exit_layers), device)

    def loss(self, out: ExitOutputs, labels: torch.Tensor, ctx: TrainContext) -> LossTerms:
        train_logits = out.extras.get("layer_logits", out.logits)
        ce = weighted_ce(train_logits, labels, self.loss_weights(train_logits.device))
        parts = {"ce": ce.detach()}
        total = ce
        if "imitation" in out.extras:
            cos = out.extras["imitation"].mean()
            parts["cos"] = cos.detach()
            total = total + cos
        if self.released:
            total = total / 2
        return LossTerms(total, parts)

    def sample_freeze(self, ctx: TrainContext) -> FreezeDecision | None:
        """Released: in every forward pass t (counted over the stage's micro-batches, as the
        released `cur_step`) and for each layer k <= L separately, a uniform draw
        u > t/total_steps detaches that layer's output (probability 1 - t/total_steps).
        Paper: layer k <= L is frozen for the optimizer step with probability 1 - (k-1)/L
        (1 at layer 1, falling linearly by 1/L per layer, so layer L+1 is never frozen)."""
        L = self.options.frozen_layers
        if L == 0 or ctx.generator is None:
            return None
        if self.options.schedule == "released":
            detached = []
            for t in range(ctx.forward_step, ctx.forward_step + ctx.micro_batches):
                u = torch.rand(L, generator=ctx.generator).tolist()
                done = t / max(1, ctx.total_steps)
                detached.append(tuple(k for k in range(1, L + 1) if u[k - 1] > done))
            return FreezeDecision(detached=tuple(detached))
        u = torch.rand(L, generator=ctx.generator).tolist()
        frozen = tuple(k for k in range(1, L + 1) if u[k - 1] < 1.0 - (k - 1) / L)
        return FreezeDecision(frozen_layers=frozen)
