"""pf: a reproduction suite for Global Past-Future early exit (Liao et al., NAACL 2021)."""

__version__ = "0.1.0"
