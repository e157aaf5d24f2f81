"""The document: objects, prompts, masks, effect stacks, undo history, save and load."""
