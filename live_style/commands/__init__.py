"""One module per sub-command: its parser (`add_parser`) and its `run`, which wires sources, the model and sinks."""
