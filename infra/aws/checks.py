"""cdk-nag's AWS Solutions and Serverless checks, and how imgedge acknowledges a finding:
on the construct it is about, next to the code that causes it, always with the reason."""

from __future__ import annotations

from aws_cdk import Acknowledgment, App, Validations
from cdk_nag import AwsSolutionsChecks, ServerlessChecks
from constructs import IConstruct

PACKS = ("AwsSolutions", "Serverless")


def acknowledge(scope: IConstruct, rule: str, reason: str) -> None:
    """Accept finding ``rule`` (``AwsSolutions-X`` or ``AwsSolutions-X[finding]``) on
    ``scope`` and everything under it, for ``reason``."""
    Validations.of(scope).acknowledge(Acknowledgment(id=rule, reason=reason))


def add_checks(app: App) -> None:
    """Run both packs when ``app`` synthesizes; an unacknowledged finding fails the synth
    (and the report is ``validation-report.json`` in the cloud assembly)."""
    Validations.of(app).add_plugins(AwsSolutionsChecks(app), ServerlessChecks(app))
