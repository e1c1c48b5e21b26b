"""Datasets: demo generation, source tables, manifests, the HDF5 image store and its reader."""
