"""Where live frames come from: cameras and streams (OpenCV), the browser's track (WebRTC); files are in media/."""
