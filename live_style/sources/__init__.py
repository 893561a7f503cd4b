"""Where live frames come from: cameras (OpenCV), files and streams (PyAV), the browser's track (WebRTC)."""
