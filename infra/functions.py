"""The regional Lambda functions imgedge deploys, as data: the limits the CDK app gives them
and the local stack holds their workers to, so the two cannot drift apart. (The edge
router's are in ``infra/distribution.py``, with the trigger that runs it.)"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class FunctionLimits:
    memory_mb: int
    timeout_s: int


# Lambda gives a function one full vCPU at 1,769 MB; the timeout stays below CloudFront's
# 30 s origin response timeout, so the resizer answers before CloudFront gives up.
RESIZER = FunctionLimits(memory_mb=1769, timeout_s=25)
# One purge lists an original's markers, deletes its objects, invalidates their paths (with
# backoff while CloudFront's in-progress quota is full) and deletes the markers: a few S3
# calls and one CloudFront call, whatever the bucket holds, plus room to wait.
PURGE = FunctionLimits(memory_mb=256, timeout_s=300)
