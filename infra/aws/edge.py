"""The edge router as a Lambda@Edge function.

CDK's ``EdgeFunction`` puts it in a stack of its own in us-east-1 (unless the home region
is us-east-1) and hands its version ARN to the distribution across regions. Lambda@Edge
rules: x86_64, no environment variables (the configuration is baked into the zip), no
layers, no X-Ray, no dead-letter queue; memory and timeout within its event's quotas
(``infra/distribution.py``, ``EdgeTrigger``). The same zip serves either event.
"""

from __future__ import annotations

from pathlib import Path

from aws_cdk import Duration
from aws_cdk import aws_cloudfront as cloudfront
from aws_cdk import aws_lambda as lambda_
from constructs import Construct

from infra.aws.checks import acknowledge
from infra.aws.resizer import RUNTIME_PINNED, python_runtime
from infra.aws.settings import DeploySettings
from infra.distribution import EdgeTrigger
from infra.package import EDGE_HANDLER


class EdgeRouter(Construct):
    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        settings: DeploySettings,
        code: Path,
        trigger: EdgeTrigger,
    ) -> None:
        super().__init__(scope, id)
        self.function = cloudfront.experimental.EdgeFunction(
            self,
            "Function",
            description=f"imgedge edge router ({trigger.event_type.replace('-', ' ')}): "
            "query -> canonical key URI",
            runtime=python_runtime(settings.python),
            architecture=lambda_.Architecture.X86_64,
            handler=EDGE_HANDLER,
            code=lambda_.Code.from_asset(str(code)),
            memory_size=trigger.memory_mb,
            timeout=Duration.seconds(trigger.timeout_s),
            stack_id=settings.edge_stack_name,
        )
        function = self.function.lambda_
        acknowledge(function, "AwsSolutions-L1", RUNTIME_PINNED)
        acknowledge(function, "Serverless-LambdaLatestVersion", RUNTIME_PINNED)
        acknowledge(
            function,
            "Serverless-LambdaDLQ",
            "Lambda@Edge functions cannot have a dead-letter queue; CloudFront invokes them "
            "synchronously and answers a failure itself (502/503).",
        )
        acknowledge(
            function,
            "Serverless-LambdaTracing",
            "Lambda@Edge cannot use X-Ray. The edge router starts the trace in the "
            "X-Imgedge-Trace and X-Imgedge-Edge headers, and the resizer emits the edge's "
            "segment for it (shared/trace_context.py).",
        )
        acknowledge(
            self.function.role or function,
            "AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/"
            "AWSLambdaBasicExecutionRole]",
            reason="Lambda@Edge writes its logs in whichever region's edge location ran it "
            "(log groups /aws/lambda/us-east-1.<name> in every region), so the log groups "
            "cannot be named in a policy in advance; the basic execution role is AWS's "
            "documented policy for it.",
        )

    @property
    def version(self) -> lambda_.IVersion:
        """What the distribution associates: a numbered version (Lambda@Edge needs one)."""
        return self.function.current_version
