"""How two models differ: formulas (``cka``, ``l2``, ``topk``: numpy on arrays in memory or streamed in chunks),
the stages that read models' files and write tidy tables (``topk_files`` per model, ``pairs`` per pair), and the
tidy-table helpers and per-pair summaries the figures and findings read (``table``, ``summaries``).
"""
