"""The embeddings index: bundled model, chunks, Chroma store, manifest and rebuild."""
