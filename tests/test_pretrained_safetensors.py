"""A pretrained backbone is loaded from safetensors only: a model directory whose weights
are pickled is refused with a clear error, and nothing in it is unpickled."""

from __future__ import annotations

import pickle

import pytest

from pf.backbones import BackboneSpec, load_pretrained_model
from pf.errors import PfError


class _Tripwire:
    """Unpickling this writes a file: proof that something unpickled it."""

    def __init__(self, path: str):
        self.path = path

    def __reduce__(self):
        return (open, (self.path, "w"))


def test_pickled_weights_are_refused_unread(tmp_path):
    from transformers import BertConfig

    model_dir = tmp_path / "model"
    BertConfig(hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
               intermediate_size=64, vocab_size=100).save_pretrained(str(model_dir))
    tripwire = tmp_path / "unpickled"
    (model_dir / "pytorch_model.bin").write_bytes(pickle.dumps(_Tripwire(str(tripwire))))
    spec = BackboneSpec(name="mine", family="bert", pretrained=str(model_dir))
    with pytest.raises(PfError) as err:
        load_pretrained_model(spec)
    assert str(model_dir) in str(err.value) and "safetensors" in str(err.value)
    assert not tripwire.exists()


def test_safetensors_weights_load(tmp_path):
    from transformers import BertConfig, BertModel

    model_dir = tmp_path / "model"
    BertModel(BertConfig(hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
                         intermediate_size=64, vocab_size=100)).save_pretrained(str(model_dir))
    assert list(model_dir.glob("*.safetensors"))
    model = load_pretrained_model(BackboneSpec(name="mine", family="bert",
                                               pretrained=str(model_dir)))
    assert model.config.num_hidden_layers == 2
