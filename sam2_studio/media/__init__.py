"""Decoding, seeking, frame caches, encoding, matte and sequence writers."""
