"""Where frames come from: cameras and streams (OpenCV), video files (PyAV)."""
