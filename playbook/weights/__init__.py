"""01, analyze the model: files, bytes and parameters from safetensors headers, VRAM need, placement of the
weights, plots, and the demo model."""
