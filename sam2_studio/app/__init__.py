"""Wiring: the worker that owns the model, commands, settings, the command line."""
