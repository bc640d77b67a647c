"""The CDK CLI (npm's aws-cdk, run through npx at a pinned version) for what needs AWS:
bootstrapping the two regions and deploying. imgedge never calls AWS itself."""

from __future__ import annotations

import shlex
import sys
from collections.abc import Sequence
from pathlib import Path

# The CDK CLI is versioned apart from aws-cdk-lib; this one reads the cloud assembly
# aws-cdk-lib 2.275.0 writes (a CLI must be at least as new as the library).
CDK_CLI = "aws-cdk@2.1148.1"
APP_MODULE = "infra.aws.app"
# The app's context keys (``--context KEY=VALUE``): the files it builds from.
CONTEXT_CONFIG = "imgedge:config"
CONTEXT_SETTINGS = "imgedge:settings"
CONTEXT_DIST = "imgedge:dist"
OUTPUTS_FILE = "outputs.json"


def app_command(python: str = sys.executable) -> str:
    """What the CDK CLI runs to synthesize: this interpreter, the app module."""
    return f"{shlex.quote(python)} -m {APP_MODULE}"


def cdk_command(
    action: str,
    *,
    dist: Path,
    config: Path | None = None,
    settings: Path | None = None,
    output: Path = Path("cdk.out"),
    profile: str | None = None,
    extra: Sequence[str] = (),
    python: str = sys.executable,
) -> list[str]:
    """``npx --yes aws-cdk@<pinned> <action> --app "<python> -m infra.aws.app" ...``, with the
    files as absolute paths in the app's context."""
    command = ["npx", "--yes", CDK_CLI, action]
    if action == "deploy":
        command += ["--all", "--outputs-file", str((dist / OUTPUTS_FILE).resolve())]
    command += ["--app", app_command(python), "--output", str(output.resolve())]
    context = {CONTEXT_DIST: dist, CONTEXT_CONFIG: config, CONTEXT_SETTINGS: settings}
    for key, path in context.items():
        if path is not None:
            command += ["--context", f"{key}={path.resolve()}"]
    if profile:
        command += ["--profile", profile]
    return [*command, *extra]
