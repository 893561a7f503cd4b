"""Where stylized frames go: the window, a live recording, an encoded video file."""
