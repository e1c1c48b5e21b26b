"""artfinetune: what happens inside InceptionV1 when it is fine-tuned from natural images to artworks."""

__version__ = "0.1.0"
