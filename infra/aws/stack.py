"""The main stack (home region): buckets, resizer, distribution, the purge on the originals
bucket's events and the precompute state machine; the edge function's stack in us-east-1 is
made by ``EdgeRouter`` (CDK's ``EdgeFunction``)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from aws_cdk import CfnOutput, Stack
from constructs import Construct

from infra.aws.distribution import Delivery
from infra.aws.edge import EdgeRouter
from infra.aws.precompute import Precompute
from infra.aws.purge import Purge
from infra.aws.resizer import Resizer
from infra.aws.settings import DeploySettings
from infra.aws.storage import Storage
from infra.distribution import describe
from shared.config import Config


class ImgedgeStack(Stack):
    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        config: Config,
        settings: DeploySettings,
        edge_zip: Path,
        resizer_zip: Path,
        **kwargs: Any,
    ) -> None:
        super().__init__(
            scope,
            id,
            description="imgedge: on-the-fly image resizing behind CloudFront",
            **kwargs,
        )
        self.storage = Storage(self, "Storage", settings=settings)
        self.resizer = Resizer(
            self,
            "Resizer",
            settings=settings,
            code=resizer_zip,
            originals=self.storage.originals,
            derivatives=self.storage.derivatives,
        )
        self.precompute = Precompute(
            self,
            "Precompute",
            settings=settings,
            code=resizer_zip,
            originals=self.storage.originals,
            derivatives=self.storage.derivatives,
        )
        spec = describe(config, settings.edge_trigger)
        self.edge = EdgeRouter(
            self, "EdgeRouter", settings=settings, code=edge_zip, trigger=spec.edge
        )
        self.delivery = Delivery(
            self,
            "Delivery",
            spec=spec,
            settings=settings,
            derivatives=self.storage.derivatives,
            resizer_url=self.resizer.url,
            edge_version=self.edge.version,
        )
        distribution = self.delivery.distribution
        self.purge = Purge(
            self,
            "Purge",
            settings=settings,
            code=resizer_zip,
            originals=self.storage.originals,
            derivatives=self.storage.derivatives,
            distribution=distribution,
            edge_trigger=settings.edge_trigger,
        )
        CfnOutput(
            self,
            "DistributionUrl",
            value=f"https://{distribution.distribution_domain_name}",
            description="imgedge smoke takes this URL",
        )
        CfnOutput(self, "DistributionId", value=distribution.distribution_id)
        CfnOutput(
            self,
            "OriginalsBucket",
            value=self.storage.originals.bucket_name,
            description="put your originals here",
        )
        CfnOutput(self, "DerivativesBucket", value=self.storage.derivatives.bucket_name)
        CfnOutput(self, "ResizerFunction", value=self.resizer.function.function_name)
        CfnOutput(self, "PurgeFunction", value=self.purge.function.function_name)
        CfnOutput(
            self,
            "PurgeDeadLetterQueue",
            value=self.purge.dead_letters.queue_url,
            description="S3 events whose purge failed",
        )
        CfnOutput(
            self,
            "PrecomputeStateMachine",
            value=self.precompute.state_machine.state_machine_arn,
            description="aws stepfunctions start-execution --state-machine-arn ARN "
            """--input '{"prefix": "photos/"}'""",
        )

    @property
    def edge_stack(self) -> Stack:
        """The stack the edge function is in (this one if the home region is us-east-1)."""
        return Stack.of(self.edge.function.lambda_)
