"""Serving: the LiteRT runtime, the combination of the network and the disc measurements, the card. No TensorFlow."""
