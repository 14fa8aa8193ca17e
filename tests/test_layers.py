"""The imports of pf/ run one way: every module imports only modules of its own layer or of
a layer below (docs/ARCHITECTURE.md draws the layers). Lazy imports inside functions count
as well: they are the same dependency, paid later."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PF = ROOT / "pf"

# Lowest first. A module belongs to the layer of the longest prefix listed.
LAYERS: list[tuple[str, tuple[str, ...]]] = [
    ("foundation", ("pf", "pf.errors", "pf.io", "pf.hf_hub", "pf.tasks", "pf.progress",
                    "pf.registry", "pf.versions", "pf.jsonargs", "pf.layout", "pf.plugins",
                    "pf.layer_outputs")),
    ("data", ("pf.data",)),
    ("backbones", ("pf.backbones", "pf.prepare")),
    ("methods", ("pf.methods", "pf.costs")),
    ("train", ("pf.train",)),
    ("outputs", ("pf.outputs",)),
    ("exits/evaluate", ("pf.exits", "pf.metrics_schema", "pf.evaluate")),
    ("curves/latency", ("pf.curves", "pf.engine", "pf.latency")),
    ("config", ("pf.config",)),
    ("reports", ("pf.reports",)),
    ("entry points", ("pf.cli", "pf.__main__", "pf.config.__main__", "pf.download")),
]


def layer_of(module: str) -> int:
    best, found = -1, None
    for index, (_, prefixes) in enumerate(LAYERS):
        for prefix in prefixes:
            if (module == prefix or module.startswith(prefix + ".")) and len(prefix) > best:
                best, found = len(prefix), index
    assert found is not None, f"{module} is in no layer: add it to LAYERS and ARCHITECTURE.md"
    return found


def module_name(path: Path, root: Path = ROOT) -> str:
    parts = path.relative_to(root).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def pf_imports(path: Path, root: Path = ROOT) -> list[tuple[int, str]]:
    """(line, module) of every import of a pf module in `path`, at any depth."""
    out = []
    name = module_name(path, root)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    # `from . import x` / `from .m import x` resolve against the module's package
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            out += [(node.lineno, a.name) for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                up = package.split(".")[:len(package.split(".")) - node.level + 1]
                base = ".".join(up + ([base] if base else []))
            if base == "pf":      # `from pf import exits`: the submodules named
                out += [(node.lineno, f"pf.{a.name}") for a in node.names]
            else:
                out.append((node.lineno, base))
    return [(line, m) for line, m in out if m == "pf" or m.startswith("pf.")]


def test_every_module_imports_only_its_layer_or_below():
    back_arrows = []
    modules = sorted(PF.rglob("*.py"))
    assert len(modules) > 40
    for path in modules:
        name = module_name(path)
        own = layer_of(name)
        for line, target in pf_imports(path):
            if layer_of(target) > own:
                back_arrows.append(f"{path.relative_to(ROOT)}:{line} ({LAYERS[own][0]}) imports "
                                   f"{target} ({LAYERS[layer_of(target)][0]})")
    assert not back_arrows, "imports against the layer order:\n" + "\n".join(back_arrows)


def test_the_layer_order_is_checked_on_a_real_back_arrow(tmp_path):
    """The check itself: a low module importing a high one is found."""
    bad = tmp_path / "pf" / "errors.py"
    bad.parent.mkdir()
    bad.write_text("def f():\n    from pf.reports.tables import Table\n")
    imports = pf_imports(bad, tmp_path)
    assert [m for _, m in imports] == ["pf.reports.tables"]
    assert layer_of("pf.reports.tables") > layer_of("pf.errors")


def test_the_config_package_is_split_into_small_modules():
    """pf/config.py's successors, one concern each, stay under 300 lines."""
    sizes = {p.name: len(p.read_text(encoding="utf-8").splitlines())
             for p in sorted((PF / "config").glob("*.py"))}
    concerns = {"schema.py", "load.py", "checks.py", "plan.py", "paths.py", "resources.py"}
    assert concerns <= set(sizes)
    assert not (PF / "config.py").exists()
    assert all(n < 300 for n in sizes.values()), sizes


def test_the_layers_run_in_the_documented_order():
    """tests' LAYERS and docs/ARCHITECTURE.md's drawing list the same layers, in one order,
    and the order the issue asks for: data, backbones, methods, train, outputs,
    exits/evaluate, curves/latency, reports."""
    names = [name for name, _ in LAYERS]
    wanted = ["data", "backbones", "methods", "train", "outputs", "exits/evaluate",
              "curves/latency", "reports"]
    assert [n for n in names if n in wanted] == wanted
    doc = (ROOT / "docs" / "ARCHITECTURE.md").read_text(encoding="utf-8")
    drawing = doc[doc.index("## Layers"):doc.index("## Where a new thing goes")]
    drawn = [line.split()[0] for line in drawing.splitlines()
             if line.startswith(" ") and line.split() and line.split()[0] not in ("^",)
             and not line.startswith("  ")]
    # the drawing lists the layers top down; multi-word names keep their first word
    assert [d for d in reversed(drawn)] == [n.split()[0] for n in names], drawn
