"""What each rule's jobs ask the scheduler for: threads, memory, minutes, GPUs, device.

`resources.<kind>.<rule>` in the config, else `resources.<kind>.default`, else the built-in
value below. Only the rules that run a model (train, outputs, latency) ask for GPUs.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

RESOURCE_DEFAULTS: dict[str, dict[str, float]] = {
    "threads": {"default": 1},
    "mem_mb": {"default": 2000, "train": 4000, "outputs": 3000, "latency": 3000},
    "runtime": {"default": 10, "train": 60, "outputs": 20, "latency": 30},
}
GPU_RULES = ("train", "outputs", "latency")


class Resources:
    """The resources of a validated config (a part of pf.config.Plan)."""

    config: Mapping[str, Any]

    def resource(self, kind: str, rule: str) -> float:
        """resources.<kind>.<rule>, else resources.<kind>.default, else the built-in value."""
        block = (self.config.get("resources") or {}).get(kind) or {}
        builtin = RESOURCE_DEFAULTS[kind]
        for source, key in ((block, rule), (block, "default"), (builtin, rule)):
            if key in source:
                return source[key]
        return builtin["default"]

    def threads(self, rule: str) -> int:
        return int(self.resource("threads", rule))

    def mem_mb(self, rule: str) -> int:
        return int(self.resource("mem_mb", rule))

    def runtime(self, rule: str) -> int:
        """Minutes (Snakemake's `runtime` resource)."""
        return max(1, int(round(float(self.resource("runtime", rule)))))

    def gpus(self, rule: str) -> int:
        return int(self.config["resources"]["gpus"]) if rule in GPU_RULES else 0

    def device(self) -> str | None:
        dev = self.config["resources"]["device"]
        return None if dev == "auto" else dev
