"""Video tracking sessions over the model: prompts, memory bank, propagation."""
