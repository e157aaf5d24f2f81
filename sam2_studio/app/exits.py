"""How a command ends: its exit code, and the errors that choose one.

- 0 ``EXIT_OK``: done.
- 1 ``EXIT_FAILURE``: something failed that the input does not explain (disk full, network,
  a model that ran out of memory).
- 2 ``EXIT_USAGE``: bad usage or input: arguments that do not fit together, a file given
  that cannot be used (a damaged project, a video that does not decode, a prompts file with
  a mistake, a checkpoint that is no SAM 2 checkpoint). The message names the file.
- 130 ``EXIT_INTERRUPTED``: stopped by Ctrl+C (128 + SIGINT, what shells report); the work
  done so far is kept where the command says.
"""

from __future__ import annotations

from sam2_studio.errors import StudioError

EXIT_OK, EXIT_FAILURE, EXIT_USAGE, EXIT_INTERRUPTED = 0, 1, 2, 130


class UsageError(StudioError):
    """Arguments that make no sense together; exit code 2."""


class InputError(StudioError):
    """A file the user gave that cannot be used (the layer's error, re-raised with the same
    words); exit code 2."""

    @classmethod
    def from_error(cls, exc: StudioError) -> InputError:
        return cls(exc.reason, exc.path)
