"""InceptionV1 as in Lucid's graph: layer registry, Keras model, import and export."""
