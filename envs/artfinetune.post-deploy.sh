#!/bin/sh
# Snakemake runs this inside the new conda env, from the workflow's directory.
set -eu
PYTHON=python sh envs/install.sh
