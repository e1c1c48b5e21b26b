# Two-command set-up: `make demo` and `make test` each create .venv (once) and use it.
PYTHON ?= python3
VENV ?= .venv
ENV ?= cpu
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(ENV)
CORES ?= 2  # the demo runs single-threaded training jobs side by side (faster on small CPUs)
DEMO := --configfile resources/demo/config.yaml
export PATH := $(abspath $(BIN)):$(PATH)

.PHONY: setup demo test lint bench clean-demo

setup: $(STAMP)

$(STAMP): envs/$(ENV).txt envs/lucid.txt envs/install.sh pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	PYTHON=$(BIN)/python ARTFT_ENV=$(ENV) sh envs/install.sh
	touch $@

demo: setup
	$(BIN)/snakemake --cores $(CORES) $(DEMO) --set-threads train=1 pretrain=1
	@$(BIN)/artfinetune summary resources/demo/config.yaml

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
