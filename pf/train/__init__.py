"""The one trainer every method uses (see trainer.py), and `pf train` (cli.py)."""
