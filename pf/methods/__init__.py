"""Exit methods: one module per method behind `pf.methods.registry` (see docs/ARCHITECTURE.md)."""
