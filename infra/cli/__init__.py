"""The ``imgedge`` command: one module per subcommand, and one place (``main``) that turns
errors into messages and exit statuses.

Each command module has ``register(commands)``, which adds its subparser and sets its
handler (``handler=run``); ``run(args)`` returns the exit status, or raises. A command
raises ``CommandError`` (``infra/cli/command.py``) for what it has to say itself, and
lets the errors the user can act on (a file, a setting, the network, AWS:
``reported_errors``) propagate; ``main`` prints ``imgedge COMMAND: message`` on stderr for
either and exits 1 (or the error's status). Any other exception is a bug and keeps its
traceback. A command module imports at its top only what its parser needs; the rest
(boto3, the CDK, the local stack) inside ``run``.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from infra.cli import (
    bootstrap,
    deploy,
    env,
    ls,
    package,
    precompute,
    serve,
    smoke,
    synth,
    traces,
    url,
)
from infra.cli.command import EXIT_FAILURE, CommandError, Handler

__all__ = ["COMMANDS", "CommandError", "build_parser", "exit_status", "main"]

# The subcommands, in the order `imgedge --help` lists them; each is named as its module.
COMMANDS = (serve, env, traces, ls, url, precompute, package, synth, bootstrap, deploy, smoke)
EXIT_INTERRUPTED = 130  # as a shell reports a command stopped by Ctrl-C


def reported_errors() -> tuple[type[Exception], ...]:
    """The errors reported as a one-line message and exit status 1: bad files or settings
    (ours), the file system and the network (OSError), S3 and AWS (botocore)."""
    from botocore.exceptions import BotoCoreError, ClientError

    from infra.aws.settings import SettingsError
    from infra.package import PackageError
    from shared.config import ConfigError

    return (OSError, ConfigError, SettingsError, PackageError, ClientError, BotoCoreError)


def exit_status(command: str, error: BaseException) -> int | None:
    """Report ``error`` of ``command`` on stderr and return the exit status; None for an
    error that is not reported (a bug: the caller re-raises it)."""
    if isinstance(error, KeyboardInterrupt):
        return EXIT_INTERRUPTED
    if isinstance(error, CommandError):
        status = error.status
    elif isinstance(error, reported_errors()):
        status = EXIT_FAILURE
    else:
        return None
    print(f"imgedge {command}: {error}", file=sys.stderr, flush=True)
    return status


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="imgedge", description="On-the-fly image resizing behind CloudFront."
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for command in COMMANDS:
        command.register(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    handler: Handler = args.handler
    try:
        return handler(args)
    except (Exception, KeyboardInterrupt) as error:
        status = exit_status(args.command, error)
        if status is None:
            raise
        return status
