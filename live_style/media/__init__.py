"""Video files (PyAV): decode (frames, timestamps, audio packets), encode, remux, container formats, recovery."""
