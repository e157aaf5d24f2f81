"""Entry script of the frozen app: the same ``sam2-studio`` command as the pip install.

Both executables of the bundle run this file: ``sam2-studio`` (windowed) opens the editor,
``sam2-studio-cli`` (console) runs the sub-commands (``models``, ``info``, ``recover``) with
their output visible on Windows too.
"""

import multiprocessing
import sys

if __name__ == "__main__":
    multiprocessing.freeze_support()
    from sam2_studio.main import main

    sys.exit(main())
