"""Batches of prepared examples for training and evaluation.

Rows are padded to the prepared max length; each batch is cut to its longest row (the
columns after it are padding in every row and are masked anyway), which is where most of
the CPU time of short synthetic examples would otherwise go.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from pf.backbones import EncoderInputs


@dataclass
class Examples:
    input_ids: torch.Tensor           # int64 [N, L]
    attention_mask: torch.Tensor      # int64 [N, L]
    token_type_ids: torch.Tensor      # int64 [N, L]
    labels: torch.Tensor              # int64 [N]

    @classmethod
    def from_split(cls, split) -> "Examples":
        """From a `pf.prepare.PreparedSplit` (or anything with the four tensors)."""
        return cls(split.input_ids, split.attention_mask, split.token_type_ids, split.labels)

    def __len__(self) -> int:
        return int(self.labels.shape[0])

    def batch(self, rows: torch.Tensor, device: torch.device | str = "cpu"
              ) -> tuple[EncoderInputs, torch.Tensor]:
        mask = self.attention_mask[rows]
        used = mask.any(dim=0).nonzero()
        length = int(used.max()) + 1 if used.numel() else 1
        inputs = EncoderInputs(self.input_ids[rows, :length].to(device),
                               mask[:, :length].to(device),
                               self.token_type_ids[rows, :length].to(device))
        return inputs, self.labels[rows].to(device)


def batch_rows(n: int, batch_size: int, generator: torch.Generator | None = None) -> list[torch.Tensor]:
    """Row indices of each batch: shuffled with `generator`, in order without one."""
    order = torch.randperm(n, generator=generator) if generator is not None else torch.arange(n)
    return [order[k:k + batch_size] for k in range(0, n, batch_size)]
