"""Activations: one forward pass per model and dataset, each channel's spatial mean after ReLU per image, in HDF5.

:mod:`.extract` writes the files (the stage), :mod:`.files` reads them (what the metric stages use).
"""

from artfinetune.activations.extract import extract_activations, extract_splits, tensor_names
from artfinetune.activations.files import activation_info, open_activations, read_activations

__all__ = [
    "activation_info",
    "extract_activations",
    "extract_splits",
    "open_activations",
    "read_activations",
    "tensor_names",
]
