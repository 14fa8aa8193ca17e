"""Batches of prepared examples: dynamic padding and length grouping.

Prepared rows are right-padded to the prepared max length (128 at paper scale), while a GLUE
sentence is a few dozen word pieces: a batch padded to the max length is mostly padding.
So every batch is cut to its longest row (`dynamic padding`; the columns dropped are padding
in every row of the batch, masked anyway, so nothing changes but the work). Where the order
of the rows is free (evaluation, recording outputs, the engine), rows are also grouped by
length (`length_grouped`), longest first, so that a batch holds rows of similar length;
the callers put results back in the original order. Training batches are randomly drawn
(the data order is part of the seeded computation) and trimmed; with the training option
`group_by_length` they are drawn from seeded random pools sorted by length
(`length_grouped_training`, as `group_by_length` of the Hugging Face Trainer), which saves
most of the padding of pair tasks on a CPU at the price of a data order no original used.

Row lengths are computed once per split, on the host; forming a batch never waits for the
GPU (inputs go through pinned memory, `pf.backbones.to_device`).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch

from pf.backbones import EncoderInputs, sequence_lengths, to_device


@dataclass
class Examples:
    input_ids: torch.Tensor           # int64 [N, L]
    attention_mask: torch.Tensor      # int64 [N, L]
    token_type_ids: torch.Tensor      # int64 [N, L]
    labels: torch.Tensor              # int64 [N]
    # every batch padded to L, as before dynamic padding: only the benchmarks use it
    pad_to_max: bool = False
    lengths: torch.Tensor = field(init=False, repr=False)   # int64 [N], see sequence_lengths

    def __post_init__(self) -> None:
        self.lengths = sequence_lengths(self.attention_mask)

    @classmethod
    def from_split(cls, split, pad_to_max: bool = False) -> "Examples":
        """From a `pf.prepare.PreparedSplit` (or anything with the four tensors)."""
        return cls(split.input_ids, split.attention_mask, split.token_type_ids, split.labels,
                   pad_to_max=pad_to_max)

    def __len__(self) -> int:
        return int(self.labels.shape[0])

    @property
    def max_length(self) -> int:
        return int(self.input_ids.shape[1])

    def batch_length(self, rows: torch.Tensor) -> int:
        if self.pad_to_max or len(rows) == 0:
            return self.max_length
        return int(self.lengths[rows].max())

    def inputs(self, rows: torch.Tensor) -> EncoderInputs:
        """The rows' inputs on the host, cut to the longest of them."""
        length = self.batch_length(rows)
        return EncoderInputs(self.input_ids[rows, :length], self.attention_mask[rows, :length],
                             self.token_type_ids[rows, :length])

    def batch(self, rows: torch.Tensor, device: torch.device | str = "cpu"
              ) -> tuple[EncoderInputs, torch.Tensor]:
        return self.inputs(rows).to(device), to_device(self.labels[rows], device)


def batch_rows(n: int, batch_size: int, generator: torch.Generator | None = None) -> list[torch.Tensor]:
    """Row indices of each batch: shuffled with `generator`, in order without one."""
    order = torch.randperm(n, generator=generator) if generator is not None else torch.arange(n)
    return [order[k:k + batch_size] for k in range(0, n, batch_size)]


# examples per pool, in batches: large enough that a pool's batches are of similar length,
# small enough that every pool still mixes short and long examples of the whole split
POOL_BATCHES = 50


def length_grouped_training(lengths: torch.Tensor, batch_size: int, generator: torch.Generator,
                            pool_batches: int = POOL_BATCHES) -> list[torch.Tensor]:
    """Training batches of similar length, still random: a seeded shuffle of the rows is cut
    into pools of `pool_batches` batches, each pool is sorted by length (longest first) and
    cut into batches, and the batches of all pools are shuffled. Every row is in exactly
    one batch; the result depends only on `lengths`, `batch_size` and the generator's state
    (so an interrupted epoch resumes with the same batches)."""
    order = torch.randperm(len(lengths), generator=generator)
    pool = batch_size * pool_batches
    batches: list[torch.Tensor] = []
    for k in range(0, len(order), pool):
        rows = order[k:k + pool]
        batches += [rows[b] for b in length_grouped(lengths[rows], batch_size)]
    return [batches[i] for i in torch.randperm(len(batches), generator=generator).tolist()]


def training_batches(data: Examples, batch_size: int, generator: torch.Generator,
                     group_by_length: bool = False) -> list[torch.Tensor]:
    """One epoch's training batches: random, or random pools grouped by length (not when
    every batch is padded to the max anyway)."""
    if group_by_length and not data.pad_to_max:
        return length_grouped_training(data.lengths, batch_size, generator)
    return batch_rows(len(data), batch_size, generator)


def length_grouped(lengths: torch.Tensor, batch_size: int) -> list[torch.Tensor]:
    """Row indices of each batch, rows sorted by length, longest first (ties in row order):
    every batch holds rows of similar length, and the first one is the largest, so a
    batch too large for the device fails at once."""
    order = torch.sort(-lengths, stable=True).indices
    return [order[k:k + batch_size] for k in range(0, len(order), batch_size)]


def eval_batches(data: Examples, batch_size: int, group_by_length: bool = True) -> list[torch.Tensor]:
    """Batches for evaluation and recording: grouped by length unless padding to the max."""
    if group_by_length and not data.pad_to_max:
        return length_grouped(data.lengths, batch_size)
    return batch_rows(len(data), batch_size)


def restore_order(chunks: list[torch.Tensor], batches: list[torch.Tensor]) -> torch.Tensor:
    """Concatenate per-batch results and put row i of the data back at position i."""
    if not chunks:
        raise ValueError("no batches")
    out = torch.cat(chunks, 0)
    order = torch.cat(batches).to(out.device)
    restored = torch.empty_like(out)
    restored[order] = out
    return restored


def plan_batches(inputs: EncoderInputs, batch_size: int, group_by_length: bool = True
                 ) -> list[torch.Tensor]:
    """Row indices of each batch of `inputs`: grouped by length, or in order."""
    n = inputs.input_ids.shape[0]
    if group_by_length:
        return length_grouped(inputs.lengths(), batch_size)
    return [torch.arange(s, min(n, s + batch_size)) for s in range(0, n, batch_size)]


def encoder_batches(inputs: EncoderInputs, batches: list[torch.Tensor], device,
                    trim: bool = True) -> list[EncoderInputs]:
    """The `EncoderInputs` of each batch on `device`, cut to its longest row."""
    lengths = inputs.lengths()
    out = []
    for rows in batches:
        b = inputs.select(rows)
        if trim:
            b = b.trim(int(lengths[rows].max()))
        out.append(b.to(device))
    return out
