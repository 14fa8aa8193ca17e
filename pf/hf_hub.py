"""The Hugging Face hub as pf sees it, for every module that may ask it for something.

- `hub_switched_off`: whether the environment forbids asking the hub (HF_HUB_OFFLINE and
  friends), read exactly as huggingface_hub and datasets read it;
- `local_model_dir`: whether a backbone's `pretrained` names a local directory or a hub id;
- `fetch_hint`: what to run, where the hub is reachable, so that offline jobs find a model.

Torch-free and import-light: the Snakefile, `pf download`'s planning and the error paths of
pf.backbones and pf.data.hub all use it.
"""

from __future__ import annotations

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


def local_model_dir(backbone: str, source: str) -> Path | None:
    """The local directory `pretrained` names, or None when it is a hub id.

    An existing directory wins over a hub id of the same spelling (as in transformers); a
    name that can only be a path but does not exist is an error, rather than a question to
    the hub about a model called '/data/models/bert'."""
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
