# Targets go before --configfile (it takes several files).
# Set-up is two commands on a fresh machine (see README):
#   make reports   build every table and figure of the embedded offline default
#   make test      run the test suite
# Each creates the virtual environment it needs from requirements/lock.txt.

PYTHON ?= python3
VENV   ?= .venv
CORES  ?= $(shell nproc 2>/dev/null || echo 2)
CONFIG ?= config/config.yaml
BIN    := $(VENV)/bin
OFFLINE := HF_HUB_OFFLINE=1 HF_DATASETS_OFFLINE=1 TOKENIZERS_PARALLELISM=false

.PHONY: reports smoke test test-fast lint clean-results venv reference reference-default reference-smoke

venv: $(VENV)/.installed

$(VENV)/.installed: requirements/lock.txt pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -c requirements/lock.txt -e '.[test]'
	touch $@

reports: $(VENV)/.installed
	$(OFFLINE) PATH=$(CURDIR)/$(BIN):$$PATH $(BIN)/snakemake all --profile workflow/profiles/default \
		--cores $(CORES) --configfile $(CONFIG)

smoke: $(VENV)/.installed
	$(OFFLINE) PATH=$(CURDIR)/$(BIN):$$PATH $(BIN)/snakemake all --profile workflow/profiles/default \
		--cores $(CORES) --configfile config/smoke.yaml

# pytest exits 5 when it collected no test; that is a failure here like any other.
test: $(VENV)/.installed
	$(OFFLINE) PATH=$(CURDIR)/$(BIN):$$PATH $(BIN)/python -m pytest -q

test-fast: $(VENV)/.installed
	$(OFFLINE) PATH=$(CURDIR)/$(BIN):$$PATH $(BIN)/python -m pytest -q -m "not slow and not slurm"

lint: $(VENV)/.installed
	$(BIN)/snakemake --lint --configfile $(CONFIG)

# Refresh the committed references (reference/README.md) from a run: build what is missing,
# then replace reference/<scale>/ by exactly the report files of that config (tables,
# figures, latency, metrics.csv), written to a temporary folder first.
reference: reference-default reference-smoke

reference-default: reports
	$(call copy_reference,config/config.yaml,reference/default)

reference-smoke: smoke
	$(call copy_reference,config/smoke.yaml,reference/smoke)

define copy_reference
	rm -rf $(2).new && mkdir -p $(2).new
	cp $$($(BIN)/python -m pf.config report-files $(1)) $(2).new/
	rm -rf $(2) && mv $(2).new $(2)
	@echo "$(2): refreshed from $(1); review with git diff --stat $(2), then commit"
endef
