# Two-command set-up: `make demo` and `make test` each create .venv (once) and use it.
PYTHON ?= python3
VENV ?= .venv
ENV ?= cpu
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(ENV)
CORES ?= 2
# Test processes (pytest-xdist): each test file runs whole on one, so its module fixtures are built once.
TEST_WORKERS ?= 2
DEMO := --configfile resources/demo/config.yaml
ARCH_DEMO := --configfile resources/demo/architectures.yaml
export PATH := $(abspath $(BIN)):$(PATH)

DEMO_REPORT := results/demo/report.zip
# One thread per job, two jobs side by side: the demo's jobs are small, and their TensorFlow start-up and graph
# building are single-threaded, so two one-thread jobs finish sooner than one two-thread job. The pretraining runs
# first, alone, on both cores (DEMO_PRETRAINED): everything but the from-scratch chain waits for it, and within one
# run Snakemake would start the from-scratch training on the first free core and leave the pretraining waiting for
# two (it reserves nothing: 35 s of one idle core, docs/benchmarks.md). Thread counts are part of the result for
# TensorFlow jobs (deterministic ops give the same weights for the same seed and the same number of threads: one
# thread for the pretraining changes every number of the demo), not for the data jobs (the same store, byte for
# byte, with 1 or 2 workers).
DEMO_THREADS := --set-threads demo_dataset=1 image_store=1 train=1 pretrain=2 activations=1 render=1 render_changed=1
DEMO_PRETRAINED := results/demo/models/init/imagenet/model.keras

.PHONY: setup demo demo-architectures report docs test lint bench preflight gpu-check clean-demo

setup: $(STAMP)

$(STAMP): envs/$(ENV).txt envs/lucid.txt envs/install.sh pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	PYTHON=$(BIN)/python ARTFT_ENV=$(ENV) sh envs/install.sh
	touch $@

# The whole demo study, then its report; ends by printing the tables and the findings.
demo: setup
	$(BIN)/snakemake $(DEMO_PRETRAINED) --cores $(CORES) $(DEMO) $(DEMO_THREADS)
	$(BIN)/snakemake --cores $(CORES) $(DEMO) $(DEMO_THREADS) \
		--report $(DEMO_REPORT) --report-after-run
	@$(BIN)/artfinetune summary resources/demo/config.yaml

# Is it universal? The demo's question on InceptionV1, ResNet-50 and VGG16, side by side (a study of its own,
# results/demo_architectures); ends by printing its verdict table.
demo-architectures: setup
	$(BIN)/snakemake --cores $(CORES) $(ARCH_DEMO) $(DEMO_THREADS)
	@cat results/demo_architectures/tables/architectures.md

# The demo's report again (after a change), from the results as they are.
report: setup
	$(BIN)/snakemake --cores $(CORES) $(DEMO) --report $(DEMO_REPORT)

# What the README shows: the demo's figure 5 and figure 1 panel, and the config reference from the schema. The
# targets come first: --configfile and --set-threads take every word after them.
docs: setup
	$(BIN)/snakemake results/demo/figures/fig5_cka.png results/demo/figures/fig1_channels.png \
		--cores $(CORES) $(DEMO) $(DEMO_THREADS)
	cp results/demo/figures/fig5_cka.png docs/demo_fig5_cka.png
	cp results/demo/figures/fig1_channels.png docs/demo_fig1_channels.png
	$(BIN)/artfinetune config-reference --readme README.md

test: setup lint
	$(BIN)/python -m pytest -n $(TEST_WORKERS) --dist loadfile --no-loadscope-reorder

lint: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/snakefmt --check Snakefile workflow/
	$(BIN)/snakemake --lint
	$(BIN)/snakemake --lint $(DEMO)
	$(BIN)/snakemake --lint $(ARCH_DEMO)

bench: setup
	$(BIN)/python -m benchmarks

# Before a long run: sources reachable, disk needed vs free, GPUs, SLURM (SLURM=1: the run will use it).
CONFIG ?= config.yaml
preflight: setup
	$(BIN)/artfinetune preflight $(CONFIG) $(if $(SLURM),--slurm)

# This node's speed for a study, measured side by side: training (mixed precision on a GPU), the reader with the
# config's reader_workers, activations, render steps; and whether the reader keeps up. Small sizes on a CPU.
gpu-check: setup
	$(BIN)/artfinetune gpu-check $(CONFIG)

clean-demo:
	rm -rf results/demo results/demo_architectures
