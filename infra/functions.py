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

# Lambda SnapStart (the ``resizer_snapstart`` deployment setting, off by default). Lambda
# initializes a function when a version is published, snapshots the initialized
# environment, and resumes new environments from the snapshot instead of running the init
# again (Lambda Developer Guide, "Improving startup performance with Lambda SnapStart").
# Its rules, from that page:
# - Python 3.12 and later managed runtimes only;
# - published versions and the aliases that point at them only, never $LATEST: so the
#   resizer's function URL must be the URL of an alias, and every deploy publishes a
#   version (which makes its snapshot) and moves the alias;
# - no provisioned concurrency, no EFS, no ephemeral storage over 512 MB (the resizer uses
#   none of them);
# - every commercial Region except Asia Pacific (New Zealand) and Asia Pacific (Taipei).
# Python and .NET snapshots are charged while the version is cached and per restore
# (docs/deploying.md has the rates). The local stack has no equivalent: each of its
# workers runs the init.
SNAPSTART_PYTHON = ("3.12", "3.13")
SNAPSTART_UNSUPPORTED_REGIONS = frozenset({"ap-southeast-6", "ap-east-2"})
SNAPSTART_ALIAS = "live"
