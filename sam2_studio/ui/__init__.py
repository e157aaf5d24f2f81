"""Qt widgets, the main window and dialogs: the only package that imports Qt."""
