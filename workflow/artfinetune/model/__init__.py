"""Models: the architectures a study analyses (:mod:`.architectures`), today Lucid's InceptionV1 (layer table,
Keras model, import of Lucid's graph, export back to a graph Lucid renders), and reading saved models."""
