"""What the live window's hotkeys change: style, strength, view, processing size, person mask, recording, help."""

from __future__ import annotations

from dataclasses import dataclass

from live_style.temporal.masks import MODES, PersonLook

VIEWS = ("stylized", "original", "side")
STRENGTH_STEP = 0.1
SIZE_STEP = 64
SIZE_RANGE = (64, 1024)


@dataclass
class LiveControls:
    """State the user changes while the stream runs (written by the window or the browser, read by the model thread)."""

    style_count: int
    size: int
    auto_size: bool = False  # --size auto: pipeline/auto_size.py moves `size`; [ or ] hands it back to the user
    strength: float = 1.0
    style_index: int = 0
    second_style: int | None = None  # mixed into the chosen style at `mix` (0: none of it, 1: all of it)
    mix: float = 0.5
    preserve_colors: bool = False
    stabilize: bool = True
    view: str = "stylized"
    person: str = "off"  # one of masks.MODES
    person_strength: float = 0.0  # how much the person is painted in "keep" mode
    recording: bool = False
    show_help: bool = False

    def handle_key(self, key: str) -> str | None:
        """Apply a hotkey; returns 'quit' or 'snapshot' for what the caller must do, else None."""
        if key in ("q", "esc"):
            return "quit"
        if key == "s":
            return "snapshot"
        if key in ("n", "p"):
            self.style_index = (self.style_index + (1 if key == "n" else -1)) % self.style_count
        elif key.isdigit() and 1 <= int(key) <= min(9, self.style_count):
            self.style_index = int(key) - 1
        elif key in ("+", "=", "-"):
            delta = -STRENGTH_STEP if key == "-" else STRENGTH_STEP
            self.strength = round(min(1.0, max(0.0, self.strength + delta)), 2)
        elif key == "o":
            self.view = VIEWS[(VIEWS.index(self.view) + 1) % len(VIEWS)]
        elif key in ("[", "]"):
            delta = -SIZE_STEP if key == "[" else SIZE_STEP
            self.size = min(SIZE_RANGE[1], max(SIZE_RANGE[0], self.size + delta))
            self.auto_size = False
        elif key == "m":
            self.person = MODES[(MODES.index(self.person) + 1) % len(MODES)]
        elif key == "r":
            self.recording = not self.recording
        elif key == "h":
            self.show_help = not self.show_help
        return None

    @property
    def person_look(self) -> PersonLook | None:
        """How the person and the room are painted now (None: no mask)."""
        return PersonLook.of(self.person, self.person_strength)
