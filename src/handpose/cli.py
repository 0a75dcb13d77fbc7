"""handpose: train, evaluate, export and run an OpenPose-style hand keypoint detector.

Run ``handpose COMMAND --help`` for the options of a command.
"""

from __future__ import annotations

import argparse
import ast
import importlib
import importlib.util
import logging
import os
import re
import sys
import traceback
from collections.abc import Collection, Sequence
from pathlib import Path
from typing import Any

from handpose import __version__
from handpose.closed_output import quiet_when_closed
from handpose.user_errors import USER_ERRORS

# FFmpeg's own messages (``moov atom not found``) off the terminal, where the command's one-line error says what
# failed: AV_LOG_QUIET, read once, when OpenCV first starts FFmpeg in the process (so here, before any capture). The
# command's alone: the library leaves a script's environment and FFmpeg's messages to it (inference.video).
os.environ.setdefault("OPENCV_FFMPEG_LOGLEVEL", "-8")

# subcommand -> module in handpose.commands (plain dispatch, no registry)
COMMANDS: dict[str, str] = {
    "demo": "handpose.commands.demo",
    "synth": "handpose.commands.synth",
    "train": "handpose.commands.train",
    "eval": "handpose.commands.evaluate",
    "export": "handpose.commands.export",
    "predict": "handpose.commands.predict",
    "convert": "handpose.commands.convert",
}


# options that replace or delete files: taken only as typed in full, never from an abbreviation (argparse would read
# `train --ov` as `--overwrite`, which deletes the run folder's earlier run)
FULL_SPELLING: tuple[str, ...] = ("--overwrite",)


def command_modules() -> dict[str, object]:
    """Every command's module; an import error is raised, never hidden (a broken command must not vanish)."""
    return {name: importlib.import_module(module_name) for name, module_name in COMMANDS.items()}


def add_logging_flags(parser: argparse.ArgumentParser, default: Any) -> None:
    """-v / -q on ``parser``: the top level's default 0 / False, a command's SUPPRESS (it keeps the top level's)."""
    parser.add_argument("-v", "--verbose", action="count", default=default, help="more logging (-vv for debug); "
                        "with an error, its traceback")
    parser.add_argument("-q", "--quiet", action="store_true", default=default if default is argparse.SUPPRESS
                        else False, help="only warnings and errors")


def build_parser(load: Collection[str] | None = None) -> argparse.ArgumentParser:
    """The top-level parser with one subparser per command. ``load``: the commands whose modules are imported and
    whose options are added (None: every one); the others are listed with their summary alone, read from their
    source (:func:`command_summary`), so ``handpose --help`` and a run of one command import none of the others'
    dependencies (torch, OpenCV) for nothing."""
    parser = argparse.ArgumentParser(
        prog="handpose", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--version", action="version", version=f"handpose {__version__}")
    add_logging_flags(parser, default=0)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, module_name in COMMANDS.items():
        if load is not None and name not in load:
            sub.add_parser(name, help=command_summary(module_name), add_help=False)
            continue
        module = importlib.import_module(module_name)  # an import error is raised, never hidden
        doc = (module.__doc__ or "").strip()
        summary = doc.splitlines()[0] if doc else name
        p = sub.add_parser(
            name, help=summary, description=doc, formatter_class=argparse.RawDescriptionHelpFormatter
        )
        add_logging_flags(p, default=argparse.SUPPRESS)  # `handpose predict x.jpg -v` as well as `handpose -v ...`
        module.add_arguments(p)  # type: ignore[attr-defined]
        p.set_defaults(_run=module.run, _parser=p)  # type: ignore[attr-defined]
    return parser


def command_summary(module_name: str) -> str:
    """The first line of a command module's docstring, read from its source without importing it."""
    spec = importlib.util.find_spec(module_name)
    if spec is None or spec.origin is None:
        raise ImportError(f"no module {module_name}")
    doc = ast.get_docstring(ast.parse(Path(spec.origin).read_text(encoding="utf-8"))) or ""
    return doc.strip().splitlines()[0] if doc.strip() else module_name.rsplit(".", 1)[-1]


def command_at(argv: Sequence[str]) -> int | None:
    """Where in ``argv`` the command word is, None where there is none: the top-level options take no values, so it
    is the first word that is not an option."""
    return next((i for i, word in enumerate(argv) if not word.startswith("-")), None)


def named_command(argv: Sequence[str]) -> list[str]:
    """The command ``argv`` names, as a list for :func:`build_parser`'s ``load`` (empty where it names none that
    exists: help, ``--version`` and argparse's own error need the summaries alone)."""
    at = command_at(argv)
    return [argv[at]] if at is not None and argv[at] in COMMANDS else []


def parse_command_line(parser: argparse.ArgumentParser, argv: Sequence[str] | None = None) -> argparse.Namespace:
    """Parse ``argv`` (default: ``sys.argv[1:]``); a command's positionals may come after its options as well
    (``predict a.jpg --out x b.jpg``), which a plain parse refuses as unrecognized arguments."""
    argv = join_negative_values(parser, list(sys.argv[1:] if argv is None else argv))
    args, extras = parser.parse_known_args(argv)
    if not getattr(args, "command", None):
        return parser.parse_args(argv)  # no command: help, --version, or argparse's own error
    # the command's words parsed on top of the top level's flags, so `-v` before and after it add up
    at = command_at(argv)
    assert at is not None, "a command was parsed, so argv names one"
    top_level = argparse.ArgumentParser(prog=parser.prog, add_help=False)
    add_logging_flags(top_level, default=0)
    top = top_level.parse_args(argv[:at], argparse.Namespace(command=args.command))
    words = argv[at + 1:]
    # an intermixed parse drops or refuses what follows `--` (`-- -a.jpg`: refused, `-- --fli`: dropped; alike in
    # Python 3.10.13, 3.11.7, 3.12.1 and 3.13.0), so those words are added to the list positional here
    end = words.index("--") if "--" in words else len(words)
    refuse_abbreviations(args._parser, words[:end])
    parsed = args._parser.parse_intermixed_args(words[:end], top)
    return add_after_double_dash(args._parser, parsed, words[end + 1:])


NEGATIVE_START = re.compile(r"-\.?\d")  # a value that starts as a negative number does: -5,10,200,220 or -.5


def join_negative_values(parser: argparse.ArgumentParser, argv: Sequence[str]) -> list[str]:
    """``argv`` with each option of the named command that takes a value joined to a following value that starts
    with a minus sign and a digit (``--box -5,10,200,220`` -> ``--box=-5,10,200,220``): argparse reads such a word
    as an option unless the whole of it is one number, so a box reaching past the image's left or top edge was
    refused. Words after ``--`` are left as they are."""
    argv = list(argv)
    at = command_at(argv)
    commands = next((a.choices for a in parser._actions if isinstance(a, argparse._SubParsersAction)), {})
    command = commands.get(argv[at]) if at is not None else None
    if command is None:
        return argv
    takes_value = {opt for a in command._actions if a.option_strings and a.nargs != 0 for opt in a.option_strings}
    end = argv.index("--") if "--" in argv else len(argv)
    out: list[str] = []
    i = 0
    while i < end:
        if argv[i] in takes_value and i + 1 < end and NEGATIVE_START.match(argv[i + 1]):
            out.append(f"{argv[i]}={argv[i + 1]}")
            i += 2
            continue
        out.append(argv[i])
        i += 1
    return out + argv[end:]


def add_after_double_dash(parser: argparse.ArgumentParser, parsed: argparse.Namespace,
                          after: Sequence[str]) -> argparse.Namespace:
    """``parsed`` with the words that followed ``--`` (``predict -- -a.jpg``: a file whose name starts with a dash)
    appended to the command's list positional; a usage error where the command has none."""
    lists = [a for a in parser._actions if not a.option_strings and a.nargs in ("*", "+")]
    if after and not lists:
        parser.error(f"unrecognized arguments: {' '.join(after)}")
    if after:
        before = getattr(parsed, lists[0].dest, None) or []
        setattr(parsed, lists[0].dest, [*before, *after])
    return parsed


def refuse_abbreviations(parser: argparse.ArgumentParser, words: Sequence[str]) -> None:
    """A usage error (exit 2) for a word that argparse would take as an abbreviation of a ``FULL_SPELLING`` option
    of ``parser``; other abbreviations (``--batch`` for ``--batch-size``) stay as argparse reads them."""
    known = {flag for action in parser._actions for flag in action.option_strings}
    for word in words:
        if word == "--":
            break
        name = word.split("=", 1)[0]
        if not name.startswith("--") or name in known:
            continue
        for full in FULL_SPELLING:
            if full in known and len(name) > 2 and full.startswith(name):
                parser.error(f"{name}: write {full} in full (it replaces or deletes files, so an abbreviation of it "
                             "is not taken)")


def configure_logging(verbose: int, quiet: bool) -> None:
    """Logging is configured once, here; library modules only create ``logging.getLogger(__name__)``."""
    level = logging.WARNING if quiet else logging.DEBUG if verbose > 1 else logging.INFO
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s", datefmt="%H:%M:%S")


def tolerant_output() -> list[Any]:
    """Standard output and error escape (``\\u624b``) the characters their encoding cannot write instead of raising:
    on Windows, output redirected to a file or a pipe is encoded in the ANSI code page (cp1252), which has no
    Chinese, Greek or Cyrillic, so ``handpose predict`` of an image named in them stopped at its first printed line
    (the same for a Linux file name that is not valid UTF-8). Returns the streams changed, for
    :func:`strict_output` to give back as they were."""
    changed = []
    for stream in (sys.stdout, sys.stderr):
        if getattr(stream, "errors", None) == "strict" and callable(getattr(stream, "reconfigure", None)):
            stream.reconfigure(errors="backslashreplace")
            changed.append(stream)
    return changed


def strict_output(streams: Sequence[Any]) -> None:
    """The ``streams`` :func:`tolerant_output` changed, strict again: a program that calls :func:`main` gets its
    standard output and error back as they were."""
    for stream in streams:
        if not stream.closed:  # a stream closed meanwhile cannot be changed, nor written to
            stream.reconfigure(errors="strict")


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``handpose`` console script; returns the process exit code. Called in-process with its
    ``argv``, it leaves the caller's standard output and error, and its signal handlers, as it found them."""
    changed = tolerant_output()
    handlers = stop_handlers() if argv is not None else None
    try:
        with quiet_when_closed():  # a reader gone from the pipe (`| head`) ends no command part way
            return _main(argv)
    finally:
        strict_output(changed)
        if handlers is not None:
            restore_handlers(handlers)


def stop_handlers() -> dict[int, Any]:
    """The handlers of the stop signals (SIGINT, SIGTERM, SIGHUP) in the main thread; {} elsewhere. A command
    stopped by one ignores them while its process exits (``training.signals.ignore_stop_signals``): a caller that runs
    :func:`main` in its own process (a notebook, a test) would keep Ctrl-C ignored for good."""
    import signal
    import threading

    if threading.current_thread() is not threading.main_thread():
        return {}
    names = ("SIGINT", "SIGTERM", "SIGHUP")
    return {int(sig): signal.getsignal(sig) for sig in (getattr(signal, n) for n in names if hasattr(signal, n))}


def restore_handlers(handlers: dict[int, Any]) -> None:
    """Put back the handlers :func:`stop_handlers` read."""
    import signal

    for sig, handler in handlers.items():
        if handler is not None:  # set outside Python: nothing to put back
            signal.signal(sig, handler)


def _main(argv: Sequence[str] | None) -> int:
    """:func:`main`'s work, its output escaped where its encoding lacks a character."""
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser(load=named_command(argv))
    args = parse_command_line(parser, argv)
    if not getattr(args, "command", None):
        parser.print_help()
        return 0
    configure_logging(args.verbose, args.quiet)
    try:
        return int(args._run(args) or 0)
    except KeyboardInterrupt as exc:  # Ctrl-C (130), or SIGTERM where a command turns it into one (143)
        print("interrupted", file=sys.stderr)
        return int(getattr(exc, "exit_code", 130))
    except USER_ERRORS as exc:  # their own message (what was wrong and where): one line, the traceback with -v
        if args.verbose:
            traceback.print_exc(file=sys.stderr)
        print(f"handpose {args.command}: error: {_one_line(exc)}", file=sys.stderr)
        return 2


def _one_line(exc: BaseException) -> str:
    """The exception's message on one line (a multi-line message is joined; an empty one names the type)."""
    text = " ".join(part.strip() for part in str(exc).splitlines() if part.strip())
    return text or type(exc).__name__


if __name__ == "__main__":
    sys.exit(main())
