"""The CDK app. ``imgedge synth`` builds it in-process; the CDK CLI runs it as
``python -m infra.aws.app`` (``imgedge deploy``, or ``npx cdk synth|diff|deploy`` at the
repository's root, through cdk.json) with the files in its context:

    imgedge:config    the shared configuration file (absent: the defaults)
    imgedge:settings  the deployment settings file (absent: the defaults)
    imgedge:dist      the folder ``imgedge package`` wrote (default: dist)

The app deploys the zips in ``dist`` and refuses, before any stack exists, zips that were
built for another configuration, architecture or Python than the ones it is given.
AWS Solutions checks (cdk-nag) run on every synth: an unacknowledged finding fails it.
Every way of building the app applies the feature flags of cdk.json (``feature_flags``).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from aws_cdk import App, Environment, Stack

from infra.aws.checks import add_checks
from infra.aws.construct import DeploymentError, check_dist
from infra.aws.settings import DeploySettings, load_settings
from infra.aws.stack import ImgedgeStack
from infra.aws.toolkit import CONTEXT_CONFIG, CONTEXT_DIST, CONTEXT_SETTINGS, feature_flags
from infra.package import PackageError
from shared.config import Config, load_config

DEFAULT_DIST = Path("dist")
__all__ = ["DEFAULT_DIST", "Deployment", "DeploymentError", "build", "check_dist", "main"]


@dataclass(frozen=True)
class Deployment:
    app: App
    stack: ImgedgeStack

    @property
    def stacks(self) -> list[Stack]:
        """The main stack and, when the home region is not us-east-1, the edge stack."""
        edge = self.stack.edge_stack
        return [self.stack] if edge is self.stack else [self.stack, edge]


def build(
    app: App, config: Config, settings: DeploySettings, dist: Path, *, checks: bool = True
) -> Deployment:
    """Add imgedge's stacks to ``app`` (and, with ``checks``, the cdk-nag packs)."""
    edge_zip, resizer_zip = check_dist(dist, config, settings)
    stack = ImgedgeStack(
        app,
        settings.stack_name,
        config=config,
        settings=settings,
        edge_zip=edge_zip.resolve(),
        resizer_zip=resizer_zip.resolve(),
        env=Environment(account=settings.home_account(), region=settings.home_region()),
    )
    if checks:
        add_checks(app)
    return Deployment(app, stack)


def _context_path(app: App, key: str) -> Path | None:
    value = app.node.try_get_context(key)
    return Path(value) if value else None


def from_context(app: App) -> Deployment:
    """imgedge's stacks in ``app``, from the files its context names (as the CLI runs it)."""
    config = load_config(_context_path(app, CONTEXT_CONFIG))  # None: $IMGEDGE_CONFIG
    settings = load_settings(_context_path(app, CONTEXT_SETTINGS))
    return build(app, config, settings, _context_path(app, CONTEXT_DIST) or DEFAULT_DIST)


def main() -> None:
    """The CDK CLI's entry point (``--app "python -m infra.aws.app"``)."""
    app = App(context=feature_flags())
    try:
        from_context(app)
    except (DeploymentError, PackageError, ValueError, OSError) as error:  # ValueError: files
        raise SystemExit(f"imgedge app: {error}") from None
    app.synth()


if __name__ == "__main__":
    main()
