"""Benchmarks: `make bench` (python -m benchmarks [NAME ...]). Each prints ratios measured side by side."""
