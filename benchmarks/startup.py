"""What every `pf train` process pays before it trains: interpreter, imports, model build.

    .venv/bin/python benchmarks/startup.py [--repeats 3] [--out benchmarks/results/startup.json]

Each measurement is a fresh process (one thread, `nice` untouched); the process CPU time
(user + sys, from wait4) is reported beside the wall clock because it is what a 2-core
machine running many jobs at once pays, and it is less sensitive to other load. Also:
the top-level packages a real `pf train` job of the default configuration imports and their
cumulative import time (`python -X importtime`), and the heavy packages it does not import.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

CASES = {
    "python": "pass",
    "import torch": "import torch",
    "import torch + transformers": "import torch, transformers",
    "+ BERT modeling module": "from transformers.models.bert.modeling_bert import BertModel",
    "+ AutoModel.from_config (tiny BERT)": (
        "from transformers import AutoModel, BertConfig; AutoModel.from_config(BertConfig("
        "num_hidden_layers=2, hidden_size=64, num_attention_heads=2, intermediate_size=128))"),
    "pf train --help": "import sys; sys.argv=['pf','train','--help']\n"
                       "from pf.cli import main\ntry: main()\nexcept SystemExit: pass",
}
HEAVY = ("pandas", "datasets", "matplotlib", "scipy", "sklearn", "pyarrow", "yaml", "jsonschema")
# the default configuration's training arguments and backbone (config/config.yaml)
TRAINING = {"lr": 2e-3, "batch_size": 32, "epochs": 5, "warmup_ratio": 0.1, "weight_decay": 0.01,
            "eval_batch_size": 128}
BACKBONE = {"name": "bert", "family": "bert",
            "tiny": {"n_layers": 6, "hidden_size": 64, "n_heads": 2, "intermediate_size": 128,
                     "max_position_embeddings": 64}}


def env() -> dict[str, str]:
    return dict(os.environ, OMP_NUM_THREADS="1", MKL_NUM_THREADS="1", HF_HUB_OFFLINE="1",
                HF_DATASETS_OFFLINE="1", TOKENIZERS_PARALLELISM="false",
                PYTHONPATH=str(ROOT))


def run(argv: list[str], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL) -> dict:
    t = time.perf_counter()
    proc = subprocess.Popen(argv, env=env(), stdout=stdout, stderr=stderr)
    _, status, usage = os.wait4(proc.pid, 0)
    if status != 0:
        raise SystemExit(f"failed: {argv}")
    return {"wall_s": time.perf_counter() - t, "cpu_s": usage.ru_utime + usage.ru_stime,
            "peak_rss_mb": usage.ru_maxrss / 1024}


def summary(runs: list[dict]) -> dict:
    return {k: {"min": min(r[k] for r in runs), "median": statistics.median(r[k] for r in runs)}
            for k in runs[0]}


def import_profile(argv: list[str]) -> dict:
    """Cumulative import microseconds of each top-level package (python -X importtime)."""
    proc = subprocess.run([sys.executable, "-X", "importtime", *argv], env=env(),
                          capture_output=True, text=True)
    per_package: dict[str, float] = {}
    for line in proc.stderr.splitlines():
        if not line.startswith("import time:") or "self [us]" in line:
            continue
        _, cumulative, name = line.split("|", 2)
        if name.startswith(" ") and not name.startswith("  "):   # a top-level import
            package = name.strip().split(".")[0]
            per_package[package] = per_package.get(package, 0.0) + int(cumulative) / 1e6
    return dict(sorted(per_package.items(), key=lambda kv: -kv[1]))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "startup.json"))
    args = ap.parse_args()
    report: dict = {"load_before": os.getloadavg(), "python": sys.version.split()[0], "cases": {}}
    for name, code in CASES.items():
        report["cases"][name] = summary([run([sys.executable, "-c", code])
                                         for _ in range(args.repeats)])
        c = report["cases"][name]
        print(f"{name:40s} cpu {c['cpu_s']['min']:.2f}s wall {c['wall_s']['min']:.2f}s", flush=True)

    with tempfile.TemporaryDirectory() as tmp:
        prep = Path(tmp) / "prep"
        from pf.prepare import prepare

        prepare("sst2", "synthetic", BACKBONE, prep, max_length=48, vocab_size=512,
                synthetic={"train_size": 1200, "dev_size": 300})
        job = ["-m", "pf", "train", "--prepared", str(prep), "--method", "pf", "--options",
               '{"variant": "released", "strategy": "concat", "frozen_layers": 0}',
               "--training", json.dumps(TRAINING), "--seed", "42", "--threads", "1",
               "--device", "cpu"]
        runs = []
        for i in range(args.repeats):
            out = Path(tmp) / f"m{i}"
            with open(Path(tmp) / f"log{i}", "w") as log:
                r = run([sys.executable, *job, "--out", str(out),
                         "--record", f"dev={out}/dev.safetensors"], stdout=log)
            text = (Path(tmp) / f"log{i}").read_text()
            r["training_s"] = float(text.split("trained pf in ")[1].split("s")[0])
            runs.append(r)
        report["default_job"] = summary(runs)
        report["default_job_imports_s"] = import_profile(
            [*job, "--out", str(Path(tmp) / "mi")])
    imported = report["default_job_imports_s"]
    report["heavy_not_imported"] = [p for p in HEAVY if p not in imported]
    report["load_after"] = os.getloadavg()
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(report, indent=2) + "\n")
    job = report["default_job"]
    print(f"default pf train job: cpu {job['cpu_s']['min']:.2f}s wall {job['wall_s']['min']:.2f}s,"
          f" of which training {job['training_s']['min']:.2f}s")
    print("top-level imports (s):", {k: round(v, 2) for k, v in list(imported.items())[:8]})
    print("not imported:", report["heavy_not_imported"])
    return 0


if __name__ == "__main__":
    sys.exit(main())
