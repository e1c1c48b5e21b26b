"""Similarity between two models: CKA of a layer's features, l2 of the kernels, top-k maximal activation images.

Pure numpy on arrays already in memory (or streamed in chunks); reading activations and weights is the caller's job.
"""
