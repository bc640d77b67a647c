"""``imgedge env``: the shell exports that point the AWS CLI and SDKs at the running local
stack's S3, for ``eval "$(imgedge env)"``.

AWS_ENDPOINT_URL_S3 is the service-specific endpoint variable of the AWS SDKs and tools
(botocore, hence boto3, and the AWS CLI from 1.29 and 2.13 on); it overrides AWS_ENDPOINT_URL
and a shared config file's ``endpoint_url``; AWS_IGNORE_CONFIGURED_ENDPOINT_URLS would switch
it off, so that is unset. Credentials and region in the environment take precedence over any
profile; AWS_PROFILE is unset all the same, because a profile that does not exist on this
machine is an error of its own. See docs/local-stack.md.
"""

from __future__ import annotations

import argparse
import shlex
from typing import TYPE_CHECKING

from infra.cli.command import CommandError
from infra.cli.discovery import add_data_dir, running_stack

if TYPE_CHECKING:
    from infra.cli.command import Commands
    from infra.local.state import StackState

# What would make a tool ignore the exports, or sign with another identity.
UNSET = (
    "AWS_PROFILE",
    "AWS_DEFAULT_PROFILE",
    "AWS_SESSION_TOKEN",
    "AWS_SECURITY_TOKEN",
    "AWS_CREDENTIAL_EXPIRATION",
    "AWS_IGNORE_CONFIGURED_ENDPOINT_URLS",
)


def register(commands: Commands) -> None:
    env = commands.add_parser(
        "env",
        help="print shell exports for the running local stack's S3",
        description="Print the exports that point the AWS CLI and SDKs at the running local "
        'stack\'s S3 (endpoint, credentials, region), for eval "$(imgedge env)"; then, for '
        "example, `aws s3 cp cat.jpg s3://originals/cat.jpg`.",
    )
    add_data_dir(env)
    env.set_defaults(handler=run)


def exports(stack: StackState) -> dict[str, str]:
    from infra.local.credentials import ACCESS_KEY_ID, SECRET_ACCESS_KEY

    return {
        "AWS_ENDPOINT_URL_S3": stack.s3_endpoint,
        "AWS_ACCESS_KEY_ID": ACCESS_KEY_ID,
        "AWS_SECRET_ACCESS_KEY": SECRET_ACCESS_KEY,
        "AWS_DEFAULT_REGION": stack.region,
        "AWS_REGION": stack.region,
    }


def script(stack: StackState) -> str:
    """POSIX shell: the exports, quoted, then the unsets."""
    lines = [f"# imgedge serve (pid {stack.pid}): its S3 for the AWS CLI and SDKs"]
    lines += [f"export {name}={shlex.quote(value)}" for name, value in exports(stack).items()]
    lines.append(f"unset {' '.join(UNSET)}")
    return "\n".join(lines)


def run(args: argparse.Namespace) -> int:
    stack = running_stack(args.data_dir)
    if stack is None:
        raise CommandError(
            "no local stack is running (none in .imgedge here or in a parent directory); "
            "start one with `imgedge serve`"
        )
    print(script(stack))
    return 0
