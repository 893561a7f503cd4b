"""The loops that move frames from a source through the model to the sinks: live, and file jobs."""
