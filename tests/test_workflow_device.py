"""`resources.device` of the config reaches every torch job: `pf train`, `pf outputs` and
`pf latency` get `--device` (nothing for `auto`, where each picks CUDA when available)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
SNAKEMAKE = Path(sys.executable).parent / "snakemake"

pytestmark = pytest.mark.skipif(not SNAKEMAKE.exists(), reason="snakemake not installed")


def shell_commands(tmp_path: Path, device: str) -> dict[str, list[str]]:
    """The `pf <rule>` command lines of a dry run of the smoke DAG with `device`, plus a
    held-out split calibrated on, so that the `outputs` rule has jobs too."""
    config = yaml.safe_load((ROOT / "config" / "smoke.yaml").read_text())
    config["resources"]["device"] = device
    config["data"]["heldout_fraction"] = 0.1
    config["calibration"] = {"split": "heldout"}
    path = tmp_path / f"{device}.yaml"
    path.write_text(yaml.safe_dump(config))
    env = dict(os.environ, HF_HUB_OFFLINE="1",
               PATH=f"{SNAKEMAKE.parent}{os.pathsep}{os.environ.get('PATH', '')}")
    proc = subprocess.run(
        [str(SNAKEMAKE), "--snakefile", str(ROOT / "Snakefile"), "--directory", str(tmp_path),
         "all", "-n", "-p", "--cores", "2", "--configfile", str(path)],
        capture_output=True, text=True, timeout=300, env=env)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    found: dict[str, list[str]] = {}
    for line in (proc.stdout + proc.stderr).splitlines():
        m = re.match(r"(?:Shell command:)?\s*pf (train|train-many|outputs|latency) ", line)
        if m:
            found.setdefault(m.group(1), []).append(line)
    return found


@pytest.mark.parametrize("device, flag", [("cuda", "--device cuda"), ("cpu", "--device cpu"),
                                          ("auto", None)])
def test_resources_device_reaches_train_outputs_and_latency(tmp_path, device, flag):
    found = shell_commands(tmp_path, device)
    assert set(found) == {"train", "train-many", "outputs", "latency"}, sorted(found)
    for rule, lines in found.items():
        for line in lines:
            if flag is None:
                assert "--device" not in line, (rule, line)
            else:
                assert flag in line, (rule, line)
