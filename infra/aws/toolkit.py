"""The CDK CLI (npm's aws-cdk, run through npx at a pinned version) for what needs AWS:
bootstrapping the two regions and deploying. imgedge never calls AWS itself."""

from __future__ import annotations

import json
import shlex
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

# The CDK CLI is versioned apart from aws-cdk-lib; this one reads the cloud assembly
# aws-cdk-lib 2.275.0 writes (a CLI must be at least as new as the library).
CDK_CLI = "aws-cdk@2.1148.1"
APP_MODULE = "infra.aws.app"
# The app's context keys (``--context KEY=VALUE``): the files it builds from.
CONTEXT_CONFIG = "imgedge:config"
CONTEXT_SETTINGS = "imgedge:settings"
CONTEXT_DIST = "imgedge:dist"
OUTPUTS_FILE = "outputs.json"
# The repository's cdk.json: the app command and the feature flags for the stock CDK CLI.
CDK_JSON = Path(__file__).resolve().parents[2] / "cdk.json"


def feature_flags(cdk_json: Path = CDK_JSON) -> dict[str, Any]:
    """The feature flags of cdk.json (its context): what the CDK CLI hands the app when run
    beside that file. ``imgedge synth`` and the app give them to their ``App`` themselves,
    so the templates are the same however and wherever they are synthesized (context from
    the CLI still takes precedence). No cdk.json (an installed copy of imgedge): none."""
    try:
        context = json.loads(cdk_json.read_text(encoding="utf-8"))["context"]
    except FileNotFoundError:
        return {}
    return dict(context)


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
