# Two-command set-up: `make demo` and `make test` each create .venv (once) and use it.
PYTHON ?= python3
VENV ?= .venv
ENV ?= cpu
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(ENV)
CORES ?= 2  # the demo runs single-threaded training jobs side by side (faster on small CPUs)
DEMO := --configfile resources/demo/config.yaml
export PATH := $(abspath $(BIN)):$(PATH)

DEMO_REPORT := results/demo/report.zip

.PHONY: setup demo report docs test lint bench clean-demo

setup: $(STAMP)

$(STAMP): envs/$(ENV).txt envs/lucid.txt envs/install.sh pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	PYTHON=$(BIN)/python ARTFT_ENV=$(ENV) sh envs/install.sh
	touch $@

# The whole demo study, then its report; ends by printing the tables and the findings.
demo: setup
	$(BIN)/snakemake --cores $(CORES) $(DEMO) --set-threads train=1 pretrain=1 \
		--report $(DEMO_REPORT) --report-after-run
	@$(BIN)/artfinetune summary resources/demo/config.yaml

# The demo's report again (after a change), from the results as they are.
report: setup
	$(BIN)/snakemake --cores $(CORES) $(DEMO) --report $(DEMO_REPORT)

# What the README shows: the demo's figure 5 and figure 1 panel, and the config reference from the schema.
docs: setup
	$(BIN)/snakemake --cores $(CORES) $(DEMO) --set-threads train=1 pretrain=1 \
		results/demo/figures/fig5_cka.png results/demo/figures/fig1_channels.png
	cp results/demo/figures/fig5_cka.png docs/demo_fig5_cka.png
	cp results/demo/figures/fig1_channels.png docs/demo_fig1_channels.png
	$(BIN)/artfinetune config-reference --readme README.md

test: setup lint
	$(BIN)/python -m pytest

lint: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/snakefmt --check Snakefile workflow/
	$(BIN)/snakemake --lint
	$(BIN)/snakemake --lint $(DEMO)

bench: setup
	$(BIN)/python -m benchmarks

clean-demo:
	rm -rf results/demo
