"""The styles one session (or watch mode) switches between."""

from __future__ import annotations

from dataclasses import dataclass, field

from live_style.styles import StyleBank


@dataclass
class StyleSet:
    """The styles a session switches between: the served ones, then its uploads with their thumbnails.

    Uploads live here only, in memory, and go with the session (watch mode: with the server).
    """

    bank: StyleBank
    upload_thumbnails: dict[str, str] = field(default_factory=dict)
