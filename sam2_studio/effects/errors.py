"""Errors of the effects layer that a user can act on."""

from __future__ import annotations

from sam2_studio.errors import StudioError


class EffectError(StudioError):
    """A stack, parameter set or plugin that cannot be used as given (the message says why)."""
