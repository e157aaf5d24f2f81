"""Matte refinement and visual effects, with a plugin registry."""
