"""Deployment settings: what only the AWS deployment needs (stack, region, sizes of the
functions, bucket names, lifecycle, price class).

The image contract (sizes, formats, limits, TTLs, sampling) is not here: it is the shared
configuration (``shared/config.py``), the same file ``imgedge serve --config`` reads, baked
into both Lambda zips by ``imgedge package``. This file is separate because the shared
configuration refuses keys it does not know.

A TOML file with flat keys, any subset of the fields below; every bad value is reported at
once, like the shared configuration. Example::

    stack_name = "imgedge"
    region = "eu-west-1"
    resizer_architecture = "arm64"
    resizer_memory_mb = 1769
    resizer_timeout_s = 25
    derivative_expiry_days = 365
    price_class = "PriceClass_100"
    precompute_max_concurrency = 20
"""

from __future__ import annotations

import os
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

from infra.distribution import Distribution
from infra.functions import RESIZER

EDGE_REGION = "us-east-1"  # Lambda@Edge functions live here, whatever the home region
ARCHITECTURES = ("x86_64", "arm64")
PYTHON_VERSIONS = ("3.11", "3.12", "3.13")  # Lambda (and Lambda@Edge) Python runtimes
PRICE_CLASSES = ("PriceClass_100", "PriceClass_200", "PriceClass_All")
# CloudFront's origin response (read) timeout under the default quota: 1..120 s.
MAX_ORIGIN_READ_TIMEOUT_S = 120
# A distributed map runs at most 10,000 child workflows at once.
MAX_MAP_CONCURRENCY = 10_000
# Originals per precompute batch: each batch's keys travel in its input (at most 256 KiB).
MAX_ITEMS_PER_BATCH = 1000
# The values CloudWatch Logs accepts for a log group's retention.
LOG_RETENTION_DAYS = (
    1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557,
    2922, 3288, 3653,
)  # fmt: skip

_STACK_NAME = re.compile(r"[A-Za-z][A-Za-z0-9-]{0,100}")
_REGION = re.compile(r"[a-z]{2}(-[a-z]+)+-\d")
_ACCOUNT = re.compile(r"\d{12}")
_BUCKET = re.compile(r"[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]")

REGION_ENV = ("CDK_DEFAULT_REGION", "AWS_REGION", "AWS_DEFAULT_REGION")


class SettingsError(ValueError):
    """One or more deployment settings are invalid; the message lists all of them."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        super().__init__("invalid imgedge deployment settings:\n  " + "\n  ".join(problems))


@dataclass(frozen=True)
class DeploySettings:
    # The main stack's name; the edge function's stack is "<stack_name>-edge" in us-east-1.
    stack_name: str = "imgedge"
    # The home region (buckets, resizer, distribution). Empty: from the environment
    # (CDK_DEFAULT_REGION, which the CDK CLI sets from your profile, or AWS_REGION).
    region: str = ""
    # Empty: the account the CDK CLI's credentials belong to (or account-agnostic).
    account: str = ""

    # Both functions' Python; the resizer's wheels are built for it.
    python: str = "3.12"
    # The resizer's processor. Graviton (arm64) is about a fifth cheaper per GB-second.
    # The edge function is always x86_64 (Lambda@Edge allows nothing else).
    resizer_architecture: str = "arm64"
    # infra/functions.py says why. The timeout must stay below the distribution's origin
    # read timeout, or CloudFront gives up on a resize that succeeds.
    resizer_memory_mb: int = RESIZER.memory_mb
    resizer_timeout_s: int = RESIZER.timeout_s
    # 0: no reserved concurrency (the account's pool); otherwise a hard cap on resizers.
    resizer_reserved_concurrency: int = 0
    origin_read_timeout_s: int = Distribution.origin_read_timeout_s
    log_retention_days: int = 30

    # Empty: CloudFormation generates unique names.
    originals_bucket_name: str = ""
    derivatives_bucket_name: str = ""
    # Derivatives are regenerated on demand, so they may expire (0: never).
    derivative_expiry_days: int = 365
    price_class: str = "PriceClass_100"

    # Purge on change (regional_resizer/purge.py, on the originals bucket's events). 0: no
    # reserved concurrency; otherwise a cap, so that replacing many originals at once is
    # paced (Lambda queues the events, up to six hours) rather than competing with viewers.
    purge_reserved_concurrency: int = 0
    # Precompute on AWS (a Step Functions distributed map over the originals bucket): at most
    # this many batches render at once, one derivative each at a time, so precompute never
    # takes more Lambda concurrency than this from viewers.
    precompute_max_concurrency: int = 20
    # Originals per batch (each batch renders every chosen preset of each of them).
    precompute_items_per_batch: int = 200
    # The share of originals whose batch may fail (after its retries) before the run fails.
    precompute_tolerated_failure_percentage: int = 5

    def __post_init__(self) -> None:
        problems = _problems(self)
        if problems:
            raise SettingsError(problems)

    @property
    def edge_stack_name(self) -> str:
        return f"{self.stack_name}-edge"

    def home_region(self) -> str:
        """``region``, else the environment's; SettingsError if there is none."""
        region = self.region or next(
            (os.environ[name] for name in REGION_ENV if os.environ.get(name)), ""
        )
        if not _REGION.fullmatch(region):
            raise SettingsError(
                [
                    'region: not set; put region = "..." in the settings file or set '
                    f"AWS_REGION (got {region!r})"
                ]
            )
        return region

    def home_account(self) -> str | None:
        return self.account or os.environ.get("CDK_DEFAULT_ACCOUNT") or None

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any]) -> DeploySettings:
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise SettingsError([f"unknown key {key!r}" for key in unknown])
        return cls(**data)


def _problems(settings: DeploySettings) -> list[str]:
    problems: list[str] = []

    def is_int(value: object) -> bool:
        return isinstance(value, int) and not isinstance(value, bool)

    for f in fields(settings):
        value = getattr(settings, f.name)
        expected = int if f.type == "int" else str
        if (expected is int and not is_int(value)) or (
            expected is str and not isinstance(value, str)
        ):
            problems.append(f"{f.name}: must be {'an integer' if expected is int else 'a string'}")
    if problems:
        return problems

    def check(ok: bool, message: str) -> None:
        if not ok:
            problems.append(message)

    check(
        bool(_STACK_NAME.fullmatch(settings.stack_name)),
        "stack_name: letters, digits and '-', starting with a letter",
    )
    check(
        not settings.region or bool(_REGION.fullmatch(settings.region)),
        "region: an AWS region such as 'eu-west-1'",
    )
    check(
        not settings.account or bool(_ACCOUNT.fullmatch(settings.account)),
        "account: twelve digits",
    )
    check(settings.python in PYTHON_VERSIONS, f"python: one of {list(PYTHON_VERSIONS)}")
    check(
        settings.resizer_architecture in ARCHITECTURES,
        f"resizer_architecture: one of {list(ARCHITECTURES)}",
    )
    check(
        128 <= settings.resizer_memory_mb <= 10240,
        "resizer_memory_mb: must lie in 128..10240",
    )
    check(
        1 <= settings.origin_read_timeout_s <= MAX_ORIGIN_READ_TIMEOUT_S,
        f"origin_read_timeout_s: must lie in 1..{MAX_ORIGIN_READ_TIMEOUT_S}",
    )
    check(
        1 <= settings.resizer_timeout_s < settings.origin_read_timeout_s,
        "resizer_timeout_s: must be at least 1 and below origin_read_timeout_s "
        f"({settings.origin_read_timeout_s}), or CloudFront gives up before the resizer",
    )
    check(settings.resizer_reserved_concurrency >= 0, "resizer_reserved_concurrency: >= 0")
    check(
        settings.log_retention_days in LOG_RETENTION_DAYS,
        f"log_retention_days: one of {list(LOG_RETENTION_DAYS)}",
    )
    for name in ("originals_bucket_name", "derivatives_bucket_name"):
        value = getattr(settings, name)
        check(
            not value or (bool(_BUCKET.fullmatch(value)) and ".." not in value),
            f"{name}: 3..63 lowercase letters, digits, '.' and '-'",
        )
    check(
        not settings.originals_bucket_name
        or settings.originals_bucket_name != settings.derivatives_bucket_name,
        "derivatives_bucket_name: must differ from originals_bucket_name",
    )
    check(settings.derivative_expiry_days >= 0, "derivative_expiry_days: >= 0 (0: never)")
    check(settings.price_class in PRICE_CLASSES, f"price_class: one of {list(PRICE_CLASSES)}")
    check(settings.purge_reserved_concurrency >= 0, "purge_reserved_concurrency: >= 0")
    check(
        1 <= settings.precompute_max_concurrency <= MAX_MAP_CONCURRENCY,
        f"precompute_max_concurrency: must lie in 1..{MAX_MAP_CONCURRENCY}",
    )
    check(
        1 <= settings.precompute_items_per_batch <= MAX_ITEMS_PER_BATCH,
        f"precompute_items_per_batch: must lie in 1..{MAX_ITEMS_PER_BATCH}",
    )
    check(
        0 <= settings.precompute_tolerated_failure_percentage <= 100,
        "precompute_tolerated_failure_percentage: must lie in 0..100",
    )
    return problems


def load_settings(path: str | Path | None = None) -> DeploySettings:
    """The settings file, or the defaults without one."""
    if path is None:
        return DeploySettings()
    with open(path, "rb") as f:
        return DeploySettings.from_mapping(tomllib.load(f))
