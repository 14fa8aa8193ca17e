"""Reference implementations of the original code of three early-exit methods.

Written from reading the authors' released code, not from `pf`, and importing nothing from
`pf`: they take a Hugging Face backbone and head weights laid out as the original modules
hold them, and compute what the original computes (exit logits, losses, exit decisions,
training steps). The tests convert a `pf` model's weights into that layout and compare.

  backbone.py     the originals' layer-by-layer encoder pass (adaptive_forward)
  released_pf.py  lancopku/Early-Exit, model/modeling_{bert,roberta,albert}.py
  deebert_ref.py  transformers examples/research_projects/deebert
  pabee_ref.py    transformers examples/research_projects/bert-loses-patience
"""
