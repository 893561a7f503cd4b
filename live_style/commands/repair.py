"""`live-style repair PARTIAL`: a recording a killed run left behind, made a finished, playable file."""

from __future__ import annotations

import argparse
from pathlib import Path

from live_style.commands.options import add_command
from live_style.errors import UserError
from live_style.media.recovery import check_record_path, repair

EXAMPLES = (
    "live-style repair .talk.mp4.partial.mp4            # becomes talk.mp4 (or talk-recovered.mp4)",
    "live-style repair .talk.mp4.partial.mp4 -o rescued.mkv",
)
NEEDS_TENSORFLOW = False


def add_parser(commands: argparse._SubParsersAction) -> None:
    """`repair`: a killed recording's partial into a finished file."""
    repair = add_command(commands, "repair", "turn the partial a killed recording left into a playable file", EXAMPLES)
    repair.add_argument("partials", nargs="+", metavar="PARTIAL", help="a .NAME.ext.partial.mp4 left by a killed run")
    repair.add_argument("-o", "--output", metavar="OUT", help="where to write it (one PARTIAL; default: NAME.ext)")
    repair.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    """Repair each partial named; say what each became."""
    if args.output and len(args.partials) > 1:
        raise UserError("-o names one output; give one PARTIAL with it, or leave -o out")
    target = Path(args.output) if args.output else None
    if target is not None:
        check_record_path(target, "-o")
        if target.exists():
            raise UserError(f"-o {target} already exists; give another name")
    for name in args.partials:
        partial = Path(name)
        if not partial.is_file():
            raise UserError(f"{partial} does not exist; give the .NAME.ext.partial.mp4 a killed recording left")
        final, result = repair(partial, target)
        print(f"repaired {partial} into {final}: {result.frames} frames, {result.seconds:.1f} s")
    return 0
