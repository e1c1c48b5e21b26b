#!/bin/sh
# Install artfinetune with its pinned dependencies into the environment of $PYTHON.
# Used by `make` (into .venv) and by Snakemake's conda deployment (envs/artfinetune.post-deploy.sh).
# ARTFT_ENV=gpu picks the GPU set. Run from the repository root.
set -eu
PYTHON=${PYTHON:-python}
SET=${ARTFT_ENV:-cpu}
if [ ! -f "envs/$SET.txt" ]; then
    echo "envs/install.sh: no pinned set envs/$SET.txt; set ARTFT_ENV to cpu or gpu" >&2
    exit 2
fi
"$PYTHON" -m pip install --disable-pip-version-check -r "envs/$SET.txt"
# Lucid 0.3.10 pins numpy<=1.19 and heavy extras: install it alone, without its dependencies.
"$PYTHON" -m pip install --disable-pip-version-check --no-deps -r envs/lucid.txt
"$PYTHON" -m pip install --disable-pip-version-check --no-deps -e .
# pip compiles the packages it installs, not an editable one: compiled once here, the package's modules load from
# bytecode in every job even where PYTHONDONTWRITEBYTECODE is set (a module edited later is compiled in memory).
"$PYTHON" -m compileall -q workflow/artfinetune
