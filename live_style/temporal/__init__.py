"""Steady video: what ties each stylized frame to the ones before (and, for files, after) it."""
