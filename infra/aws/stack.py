"""The main stack (home region): imgedge's construct (``infra/aws/construct.py``: buckets,
resizer, precompute, the behaviour and, once the distribution exists, the purge) and
imgedge's own distribution, whose default behaviour it is; the edge function's stack in
us-east-1 is made by ``EdgeRouter`` (CDK's ``EdgeFunction``)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from aws_cdk import CfnOutput, Stack
from constructs import Construct

from infra.aws.construct import ImgedgeBehavior
from infra.aws.distribution import Delivery
from infra.aws.settings import DeploySettings
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
        # "Default" adds nothing to the logical IDs: the resources keep the IDs they had
        # when they were the stack's own children.
        self.imgedge = ImgedgeBehavior(
            self,
            "Default",
            config=config,
            settings=settings,
            edge_zip=edge_zip,
            resizer_zip=resizer_zip,
        )
        self.storage = self.imgedge.storage
        self.resizer = self.imgedge.resizer
        self.precompute = self.imgedge.precompute
        self.edge = self.imgedge.edge
        self.delivery = Delivery(
            self,
            "Delivery",
            spec=self.imgedge.spec,
            settings=settings,
            behaviour=self.imgedge.behaviour,
        )
        distribution = self.delivery.distribution
        self.imgedge.serve(distribution)
        assert self.imgedge.purge is not None
        self.purge = self.imgedge.purge
        CfnOutput(
            self,
            "DistributionUrl",
            value=f"https://{distribution.distribution_domain_name}",
            description="imgedge smoke takes this URL",
        )
        CfnOutput(self, "DistributionId", value=distribution.distribution_id)
        CfnOutput(
            self,
            "DistributionDomainName",
            value=distribution.distribution_domain_name,
            description="point your domain_names at this (CNAME, or a Route 53 alias)",
        )
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
