"""Distillation baselines of Table 5: `kd`, `pkd`, `tinybert`.

Each student keeps the teacher's lower m layers (option `layers`) plus the teacher's pooler
and classifier as its starting point; the teacher is a fine-tuned `full` checkpoint
directory (option `teacher`, or `pf train --teacher`). The teacher is held outside the
module tree (so it is neither trained nor saved in the student checkpoint) but follows the
student's device and dtype. A restored student needs no teacher.

  kd        alpha * T^2 * KL(p_t^T || p_s^T) + (1 - alpha) * CE(y)            (Hinton et al.)
  pkd       kd + beta * mean_k || c_s,k/|c_s,k| - c_t,g(k)/|c_t,g(k)| ||^2 over student
            layers k = 1..m-1 matched to teacher layer g(k) = k n/m (PKD-skip; the last layer is
            covered by the logits term), c = [CLS] hidden vector (Sun et al.; the token mean
            with option exit_pooling "mean", the vector the exits read)
  tinybert  task-specific distillation without general distillation or augmentation
            (Jiao et al.), in two stages: "intermediate" = MSE of embeddings + sum_k MSE of
            hidden states and of attention score matrices, student layer k <-> teacher
            layer k n/m; then "prediction" = soft cross-entropy to the teacher's logits at
            temperature T. The attention loss compares the scores A = Q K^T / sqrt(d_head)
            before the softmax, as the TinyBERT paper defines it (equation 7), for student
            and teacher alike: they are recomputed from each layer's input with its query
            and key projections, so no attention dropout and no softmax enters, and padded
            key positions are set to 0 in both (TinyBERT's code zeroes masked scores).
The teacher's logits never change (it stays in eval mode), so they are computed once per
training example before training (`training_targets`) and read back at every step; the
teacher itself runs only as deep as a loss needs its hidden states (pkd: the deepest matched
layer; tinybert's intermediate stage: all; kd and tinybert's prediction stage: not at all).
The scores do not depend on the attention kernel, so every student runs the backbone's
(sdpa by default).
"""

from __future__ import annotations

import copy
import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from pf.backbones import EncoderInputs, LayerwiseEncoder
from pf.errors import PfError
from pf.methods.base import ExitOutputs, ExitState, LossTerms, TrainContext
from pf.methods.options import parse_options
from pf.methods.single_exit import SingleExitModel


@dataclass
class EncoderTrace:
    embeddings: torch.Tensor          # [B, L, d]
    hidden: list[torch.Tensor]        # per layer [B, L, d]
    attention: list[torch.Tensor]     # per layer [B, H, L, L] scores (empty unless asked)


def _attention_module(encoder: LayerwiseEncoder, i: int):
    module = encoder.layer_module(i)
    if encoder.family == "albert":
        return module.albert_layers[0].attention
    return module.attention.self


def attention_scores(module, hidden: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
    """Q K^T / sqrt(d_head) of a self-attention module on its input [B, L, d] ->
    [B, H, L, L], before mask and softmax; scores of padded key positions are 0."""
    b, length, _ = hidden.shape
    heads, size = module.num_attention_heads, module.attention_head_size
    q = module.query(hidden).view(b, length, heads, size).transpose(1, 2)
    k = module.key(hidden).view(b, length, heads, size).transpose(1, 2)
    scores = torch.matmul(q, k.transpose(-1, -2)) / math.sqrt(size)
    return scores * attention_mask[:, None, None, :].to(scores.dtype)


def trace_encoder(encoder: LayerwiseEncoder, inputs: EncoderInputs, attention: bool,
                  n_layers: int | None = None) -> EncoderTrace:
    """Run the encoder layer by layer (the first `n_layers`, default all), keeping every
    hidden state (and attention scores)."""
    h = encoder.embed(inputs)
    bias = encoder.attention_bias(inputs.attention_mask, h.dtype)
    trace = EncoderTrace(h, [], [])
    for i in range(encoder.n_layers if n_layers is None else n_layers):
        if attention:
            trace.attention.append(attention_scores(_attention_module(encoder, i), h,
                                                    inputs.attention_mask))
        h = encoder.layer(i, h, bias)
        trace.hidden.append(h)
    return trace


class DistillModel(SingleExitModel):
    """An m-layer student with the `full` head; subclasses define the distillation loss."""

    method = "kd"
    needs_attention = False       # traces carry attention scores (tinybert)

    def __init__(self, encoder, num_labels, options, n_layers_full):
        super().__init__(encoder, num_labels, options, n_layers_full)
        self._teacher: list = []      # a list keeps the teacher out of the module tree

    @classmethod
    def create(cls, encoder, num_labels, options, *, load_teacher=True):
        from pf.methods.checkpoint import load_checkpoint

        opts = parse_options(cls.method, cls.options_class, options)
        teacher = None
        if load_teacher:
            if opts.teacher is None:
                raise PfError(f"method '{cls.method}': option 'teacher' (a fine-tuned `full` "
                              f"model directory, or `pf train --teacher DIR`) is required")
            loaded = load_checkpoint(opts.teacher)
            if loaded.info["method"] != "full":
                raise PfError(f"{opts.teacher}: the teacher must be a `full` model, "
                              f"not '{loaded.info['method']}'")
            teacher = loaded.model
            if cls.attn_implementation is not None:
                teacher.encoder.set_attn_implementation(cls.attn_implementation)
            if teacher.num_labels != num_labels:
                raise PfError(f"{opts.teacher}: teacher has {teacher.num_labels} labels, the "
                              f"task has {num_labels}")
            if teacher.encoder.model.config.vocab_size != encoder.model.config.vocab_size:
                raise PfError(f"{opts.teacher}: teacher vocabulary size differs from the "
                              f"prepared data's")
            encoder = copy.deepcopy(teacher.encoder)
        n = encoder.n_layers
        if opts.layers > n:
            raise PfError(f"method '{cls.method}': option 'layers' = {opts.layers} exceeds the "
                          f"teacher's {n} layers")
        if cls.method in ("pkd", "tinybert") and n % opts.layers:
            raise PfError(f"method '{cls.method}': teacher depth {n} is not a multiple of the "
                          f"student depth {opts.layers}")
        encoder.truncate(opts.layers)
        model = cls(encoder, num_labels, opts, n)
        if teacher is not None:
            with torch.no_grad():
                model.classifier.load_state_dict(teacher.classifier.state_dict())
            teacher.requires_grad_(False)
            teacher.eval()
            model._teacher.append(teacher)
        return model

    # the teacher follows .to()/.half() and stays in eval mode
    def _apply(self, fn, *args, **kwargs):
        super()._apply(fn, *args, **kwargs)
        for t in getattr(self, "_teacher", []):
            t._apply(fn, *args, **kwargs)
        return self

    def train(self, mode: bool = True):
        super().train(mode)
        for t in getattr(self, "_teacher", []):
            t.eval()
        return self

    @property
    def teacher(self):
        return self._teacher[0] if self._teacher else None

    def stride(self) -> int:
        return self.n_layers_full // self.encoder.n_layers

    def teacher_depth(self, stage: str) -> int:
        """How many teacher layers `extras` reads besides the logits (kd: none)."""
        return 0

    @torch.no_grad()
    def training_targets(self, data, batch_size, device, autocast):
        """The teacher's eval-mode logits of every training example, float32 [N, C]."""
        if self.teacher is None:
            return None
        order = torch.sort(-data.lengths, stable=True).indices   # similar lengths together
        out = torch.empty(len(data), self.num_labels, dtype=torch.float32)
        for k in range(0, len(order), batch_size):
            rows = order[k:k + batch_size]
            with autocast():
                logits = self.teacher(data.inputs(rows).to(device)).logits[:, -1]
            out[rows] = logits.float().cpu()
        return {"teacher_logits": out}

    def forward(self, inputs: EncoderInputs, ctx: TrainContext | None = None) -> ExitOutputs:
        if ctx is None or not self.training or self.teacher is None:
            return super().forward(inputs, ctx)
        depth = self.teacher_depth(ctx.stage)
        student = trace_encoder(self.encoder, inputs, self.needs_attention and depth > 0)
        state = self.start_state(inputs)
        logits = self.head(student.hidden[-1], state)[:, None]
        cached = (ctx.targets or {}).get("teacher_logits")
        with torch.no_grad():
            teacher = None
            if cached is None or depth > 0:
                full = cached is None
                teacher = trace_encoder(self.teacher.encoder, inputs, self.needs_attention,
                                        None if full else depth)
            t_logits = (cached if cached is not None else
                        self.teacher.head(teacher.hidden[-1], self.teacher.start_state(inputs)))
        if depth == 0:
            return ExitOutputs(logits, {"teacher_logits": t_logits})
        return ExitOutputs(logits, self.extras(student, teacher, t_logits, state))

    def extras(self, student: EncoderTrace, teacher: EncoderTrace, t_logits,
               state: ExitState) -> dict:
        """Loss inputs beyond the logits; `state` (start_state) serves `summary`."""
        return {"teacher_logits": t_logits}

    def loss(self, out: ExitOutputs, labels: torch.Tensor, ctx: TrainContext) -> LossTerms:
        s = out.logits[:, -1].float()
        ce = F.cross_entropy(s, labels)
        if "teacher_logits" not in out.extras:
            raise PfError(f"method '{self.method}' trains only with its teacher loaded")
        T = self.options.temperature
        t = out.extras["teacher_logits"].float()
        soft = F.kl_div(F.log_softmax(s / T, -1), F.log_softmax(t / T, -1), log_target=True,
                        reduction="batchmean") * T * T
        a = self.options.alpha
        return LossTerms(a * soft + (1 - a) * ce, {"ce": ce.detach(), "soft": soft.detach()})


class KdModel(DistillModel):
    method = "kd"


class PkdModel(DistillModel):
    method = "pkd"

    def teacher_depth(self, stage):
        return (self.encoder.n_layers - 1) * self.stride()

    def extras(self, student, teacher, t_logits, state):
        g = self.stride()
        m = self.encoder.n_layers
        pairs = [(k, k * g) for k in range(1, m)]
        if not pairs:
            return {"teacher_logits": t_logits}
        # the layer vectors the exits read: [CLS] as in PKD, or the token mean (exit_pooling)
        s = torch.stack([self.summary(student.hidden[k - 1], state) for k, _ in pairs], 1)
        t = torch.stack([self.summary(teacher.hidden[j - 1], state) for _, j in pairs], 1)
        return {"teacher_logits": t_logits, "cls": s, "teacher_cls": t}

    def loss(self, out, labels, ctx):
        terms = super().loss(out, labels, ctx)
        if "cls" not in out.extras:
            return terms
        s = F.normalize(out.extras["cls"].float(), dim=-1)
        t = F.normalize(out.extras["teacher_cls"].float(), dim=-1)
        pt = (s - t).pow(2).sum(-1).mean()
        parts = {**terms.parts, "patient": pt.detach()}
        return LossTerms(terms.total + self.options.beta * pt, parts)


class TinyBertModel(DistillModel):
    method = "tinybert"
    needs_attention = True

    def stages(self):
        return ("intermediate", "prediction")

    def teacher_depth(self, stage):
        return self.n_layers_full if stage == "intermediate" else 0

    def extras(self, student, teacher, t_logits, state):
        g = self.stride()
        m = self.encoder.n_layers
        return {
            "teacher_logits": t_logits,
            "emb": student.embeddings, "teacher_emb": teacher.embeddings,
            "hidden": torch.stack(student.hidden, 1),
            "teacher_hidden": torch.stack([teacher.hidden[k * g - 1] for k in range(1, m + 1)], 1),
            "attn": torch.stack(student.attention, 1),
            "teacher_attn": torch.stack([teacher.attention[k * g - 1] for k in range(1, m + 1)], 1),
        }

    def loss(self, out, labels, ctx):
        x = out.extras
        if "teacher_logits" not in x:
            raise PfError("method 'tinybert' trains only with its teacher loaded")
        if ctx.stage == "prediction":
            T = self.options.temperature
            s = out.logits[:, -1].float()
            t = x["teacher_logits"].float()
            soft = -(F.softmax(t / T, -1) * F.log_softmax(s / T, -1)).sum(-1).mean()
            return LossTerms(soft, {"soft_ce": soft.detach()})
        emb = F.mse_loss(x["emb"].float(), x["teacher_emb"].float())
        m = x["hidden"].shape[1]
        hid = F.mse_loss(x["hidden"].float(), x["teacher_hidden"].float()) * m
        att = F.mse_loss(x["attn"].float(), x["teacher_attn"].float()) * m
        total = emb + hid + att
        return LossTerms(total, {"emb": emb.detach(), "hidden": hid.detach(), "attn": att.detach()})
