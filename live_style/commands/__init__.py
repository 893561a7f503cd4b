"""One module per command; each wires sources, the model and sinks together."""
