"""The README and every `--help` say the same: each command line the README shows parses, with options its
command has; the formats and defaults both state agree."""

from __future__ import annotations

import argparse
import re
import shlex
from pathlib import Path

import pytest

from live_style import cli
from live_style.media.formats import RECORD_SUFFIXES

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
USAGE = ROOT / "docs" / "usage.md"  # the options in full
DOCS = [README, *sorted((ROOT / "docs").glob("*.md"))]


def readme_command_lines() -> list[list[str]]:
    """Every `live-style ...` line in the code blocks of the README and docs/, as words (comments dropped)."""
    blocks = [block for doc in DOCS for block in re.findall(r"```(?:bash)?\n(.*?)```", doc.read_text(), re.S)]
    lines = [line.split("  #")[0].split(" # ")[0] for block in blocks for line in block.splitlines()]
    return [shlex.split(line) for line in lines if line.startswith("live-style ")]


def subparser(command: str) -> argparse.ArgumentParser:
    parser = cli.build_parser()
    commands = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return commands.choices[command]


def help_text(command: str) -> str:
    return " ".join(subparser(command).format_help().split())


@pytest.mark.parametrize("words", readme_command_lines(), ids=lambda words: " ".join(words[:3]))
def test_every_command_line_in_the_readme_parses(words: list[str]) -> None:
    args = cli.with_default_command(words[1:])
    known = subparser(args[0])._option_string_actions
    unknown = [word.split("=")[0] for word in args[1:] if word.startswith("--") and word.split("=")[0] not in known]
    assert not unknown, f"{' '.join(words)}: the README shows options --help does not have: {unknown}"
    cli.build_parser().parse_args(args)  # and argparse takes the whole line


def test_the_recording_formats_agree() -> None:
    readme = " ".join(USAGE.read_text().split())
    sentence = readme.split("- Recordings keep", 1)[1].split("H.264", 1)[0]
    assert set(re.findall(r"`(\.\w+)`", sentence)) == set(RECORD_SUFFIXES)
    assert all(suffix in help_text("live") for suffix in RECORD_SUFFIXES)


def test_the_size_defaults_agree() -> None:
    readme = " ".join(USAGE.read_text().split())
    assert "default 256 live and 384 for stills and `video` on a CPU, 512 on a GPU" in readme
    assert "default: 256 on CPU, 512 on GPU" in help_text("live")
    for command in ("image", "video"):
        assert "default: 384 on CPU, 512 on GPU" in help_text(command)


def says_default(said: str, default: object) -> bool:
    """The help names its default: 'default ...', or the value in parentheses, e.g. '(1e-2)' for 0.01."""
    if "default" in said:
        return True
    for shown in re.findall(r"\(([^()]+)\)", said):
        try:
            if shown == str(default) or float(shown) == float(default):
                return True
        except (TypeError, ValueError):
            continue
    return False


def test_every_option_with_a_default_says_it() -> None:
    for command in ("bench", "styles", "video", "image", "live", "serve"):
        for action in subparser(command)._actions:
            if action.option_strings and action.default not in (None, False, argparse.SUPPRESS) and action.help:
                said = " ".join(action.help.split())
                assert says_default(said, action.default) or action.const is not None, (
                    f"{command} {action.option_strings[0]} has the default {action.default!r} but its help does not say"
                )


def test_live_style_alone_prints_its_help(capsys: pytest.CaptureFixture) -> None:
    assert cli.main([]) == 0
    said = capsys.readouterr().out
    assert said.startswith("usage: live-style") and "live-style --camera 0 --style wave" in said


def github_anchor(heading: str) -> str:
    """The anchor GitHub gives a heading: lower case, punctuation dropped, spaces as hyphens."""
    return re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")


def test_every_link_between_the_docs_reaches_its_file_and_heading() -> None:
    broken = []
    for doc in DOCS:
        text = re.sub(r"```.*?```", "", doc.read_text(), flags=re.S)
        for target in re.findall(r"\]\(([^)\s]+)\)", text):
            if re.match(r"[a-z]+:", target):
                continue  # a web address
            path, _, anchor = target.partition("#")
            linked = (doc.parent / path).resolve() if path else doc
            if not linked.exists():
                broken.append(f"{doc.name}: {target} (no such file)")
            elif anchor and linked.suffix == ".md":
                linked_text = linked.read_text()
                headings = re.findall(r"^#+ (.+)$", linked_text, re.M)
                named = re.findall(r'<a id="([^"]+)">', linked_text)
                if anchor not in {github_anchor(heading) for heading in headings} | set(named):
                    broken.append(f"{doc.name}: {target} (no such heading)")
    assert not broken, broken
