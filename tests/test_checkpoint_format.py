"""The checkpoint sniffing must tell safetensors from pickles by structure, not by one byte."""

from __future__ import annotations

import pickle
import struct

import pytest
import torch
from safetensors.torch import save_file

from pf.errors import PfError
from pf.methods.checkpoint import read_weights


def _safetensors_with_header_low_byte(path, low_byte: int) -> None:
    tensors = {"w": torch.arange(6, dtype=torch.float32).reshape(2, 3)}
    for pad in range(0, 4096):
        save_file(tensors, str(path), metadata={"format": "pt", "pad": "x" * pad})
        (header_len,) = struct.unpack("<Q", path.read_bytes()[:8])
        if header_len & 0xFF == low_byte:
            return
    raise AssertionError("could not build the header length")


def test_safetensors_whose_header_length_starts_with_the_pickle_byte_loads(tmp_path):
    # 0x80 is also the first byte of every pickle (protocol >= 2): a real bug once refused
    # such checkpoints as pickles.
    path = tmp_path / "model.safetensors"
    _safetensors_with_header_low_byte(path, 0x80)
    assert path.read_bytes()[:1] == b"\x80"
    weights = read_weights(path)
    assert torch.equal(weights["w"], torch.arange(6, dtype=torch.float32).reshape(2, 3))


@pytest.mark.parametrize("protocol", [2, 4, 5])
def test_pickles_are_refused_unread(tmp_path, protocol):
    path = tmp_path / "model.safetensors"
    path.write_bytes(pickle.dumps({"w": [1.0]}, protocol=protocol))
    with pytest.raises(PfError, match="pickle-based"):
        read_weights(path)


def test_torch_save_zip_is_refused(tmp_path):
    path = tmp_path / "model.safetensors"
    torch.save({"w": torch.zeros(2)}, path)
    with pytest.raises(PfError, match="pickle-based"):
        read_weights(path)


def test_truncated_safetensors_is_named_corrupt(tmp_path):
    path = tmp_path / "model.safetensors"
    save_file({"w": torch.zeros(64)}, str(path))
    data = path.read_bytes()
    path.write_bytes(data[: len(data) - 100])
    with pytest.raises(PfError, match="truncated or corrupted"):
        read_weights(path)
