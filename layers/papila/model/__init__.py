"""The model: `serving` (the LiteRT runtime and its card; no TensorFlow) and `training` (TensorFlow,
scikit-learn: `papila train`, the release)."""
