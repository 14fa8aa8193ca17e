"""Torch helpers of the rules' engine steps (imported only when the engine runs)."""

from __future__ import annotations

import torch


def top2_tied(logits: torch.Tensor, eps: float) -> torch.Tensor:
    """[B] bool: the two largest logits are within `eps` (in float64); False with one class."""
    if logits.shape[-1] < 2:
        return torch.zeros(logits.shape[0], dtype=torch.bool, device=logits.device)
    top = logits.double().topk(2, dim=-1).values
    return (top[:, 0] - top[:, 1]) <= eps
