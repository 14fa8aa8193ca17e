"""Specs and options of the distillation students `kd`, `pkd`, `tinybert` (torch-free; the
models: distill.py, whose docstring gives each loss)."""

from __future__ import annotations

from dataclasses import dataclass

from pf.errors import PfError
from pf.methods.cost_model import single_exit_head
from pf.methods.options import MethodOptions, check_range
from pf.methods.single_exit_spec import kept_layers
from pf.methods.spec import MethodSpec


@dataclass(frozen=True)
class DistillOptions(MethodOptions):
    teacher: str | None = None        # fine-tuned `full` checkpoint directory (training only)
    layers: int | None = None         # m, student depth (required)
    temperature: float = 5.0
    dropout: float | None = None

    def check(self, method: str) -> None:
        if self.layers is None:
            raise PfError(f"method '{method}': option 'layers' (student depth) is required")
        check_range(method, "layers", self.layers, 1)
        check_range(method, "temperature", self.temperature, 1e-6)
        check_range(method, "dropout", self.dropout, 0.0, 1.0)


@dataclass(frozen=True)
class KdOptions(DistillOptions):
    alpha: float = 0.5                # weight of the soft-target term

    def check(self, method: str) -> None:
        super().check(method)
        check_range(method, "alpha", self.alpha, 0.0, 1.0)


@dataclass(frozen=True)
class PkdOptions(KdOptions):
    beta: float = 100.0               # weight of the patient (intermediate [CLS]) term

    def check(self, method: str) -> None:
        super().check(method)
        check_range(method, "beta", self.beta, 0.0)


@dataclass(frozen=True)
class TinyBertOptions(DistillOptions):
    temperature: float = 1.0


def student_head(dims, options):
    """A student's head is the `full` head after its m layers."""
    return single_exit_head(dims, kept_layers(dims, options))


def _student(name: str, cls: str, options: type, label: str, description: str,
             cost_rows=None) -> MethodSpec:
    return MethodSpec(
        name=name, model=f"pf.methods.distill:{cls}", options=options, exit_rule="last",
        label=label, per_target=True, teacher=True, head_cost=student_head,
        cost_rows=cost_rows or (lambda dims: []), description=description)


KD = _student("kd", "KdModel", KdOptions, "KD ({m}L)",
              "knowledge distillation into an m-layer student (Hinton et al.)",
              cost_rows=lambda dims: [(f"kd/pkd/tinybert ({max(1, dims.layers // 2)}L student)",
                                       {"layers": max(1, dims.layers // 2)})])
PKD = _student("pkd", "PkdModel", PkdOptions, "PKD ({m}L)",
               "patient knowledge distillation, PKD-skip (Sun et al.)")
TINYBERT = _student("tinybert", "TinyBertModel", TinyBertOptions, "TinyBERT ({m}L)",
                    "TinyBERT's task-specific distillation (Jiao et al.)")
