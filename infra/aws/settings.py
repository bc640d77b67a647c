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
    edge_trigger = "viewer-request"
    resizer_snapstart = false
    domain_names = ["img.example.com"]
    certificate_arn = "arn:aws:acm:us-east-1:123456789012:certificate/..."
"""

from __future__ import annotations

import os
import re
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, fields
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from infra.distribution import EDGE_TRIGGERS, VIEWER_REQUEST, Distribution
from infra.functions import RESIZER, SNAPSTART_PYTHON, SNAPSTART_UNSUPPORTED_REGIONS

EDGE_REGION = "us-east-1"  # Lambda@Edge functions live here, whatever the home region
ARCHITECTURES = ("x86_64", "arm64")
PRICE_CLASSES = ("PriceClass_100", "PriceClass_200", "PriceClass_All")
# A CloudFront distribution takes only ACM certificates from us-east-1 ("Requirements for
# using SSL/TLS certificates with CloudFront", AWS Region for AWS Certificate Manager).
CERTIFICATE_REGION = "us-east-1"
CERTIFICATE_PAGE = (
    "https://docs.aws.amazon.com/AmazonCloudFront/latest/DeveloperGuide/"
    "cnames-and-https-requirements.html"
)
# CloudFront's default quota "Alternate domain names (CNAMEs) per distribution" (Quotas,
# General quotas on distributions); adjustable: alternate_domain_names_quota says by how much.
DEFAULT_QUOTA_ALTERNATE_DOMAIN_NAMES = 100
# CloudFront's origin response (read) timeout: 1..60 s under the default quota ("Response
# timeout per origin", CloudFront's Quotas page); up to 120 s once AWS has raised that
# quota for the account, which only ``origin_read_timeout_quota_raised`` says.
DEFAULT_QUOTA_ORIGIN_READ_TIMEOUT_S = 60
MAX_ORIGIN_READ_TIMEOUT_S = 120


@dataclass(frozen=True)
class RuntimeDates:
    """A Lambda Python runtime's lifecycle, as Lambda's runtime table lists it."""

    deprecation: date
    create_blocked: date
    """From this day Lambda refuses to create a function with the runtime."""
    update_blocked: date
    os: str


LAMBDA_RUNTIMES_PAGE = "https://docs.aws.amazon.com/lambda/latest/dg/lambda-runtimes.html"
PYTHON_RUNTIMES = {
    "3.11": RuntimeDates(date(2026, 6, 30), date(2026, 7, 31), date(2026, 8, 31), "Amazon Linux 2"),
    "3.12": RuntimeDates(
        date(2028, 10, 31), date(2028, 11, 30), date(2029, 1, 10), "Amazon Linux 2023"
    ),
    "3.13": RuntimeDates(
        date(2029, 6, 30), date(2029, 7, 31), date(2029, 8, 31), "Amazon Linux 2023"
    ),
}
"""Lambda's (and Lambda@Edge's) Python runtimes with their dates, from the "Supported
runtimes" table of ``LAMBDA_RUNTIMES_PAGE``: update it when that table changes."""
PYTHON_VERSIONS = tuple(PYTHON_RUNTIMES)


def utc_today() -> date:
    return datetime.now(UTC).date()


today: Callable[[], date] = utc_today
"""What the settings take to be today (tests replace it)."""


def runtime_problem(python: str, on: date) -> str | None:
    """Why Lambda would refuse to create a function with Python ``python`` on day ``on``."""
    dates = PYTHON_RUNTIMES.get(python)
    if dates is None:
        return f"python: one of {list(PYTHON_VERSIONS)}"
    if on < dates.create_blocked:
        return None
    usable = [v for v, d in PYTHON_RUNTIMES.items() if on < d.create_blocked]
    return (
        f"python: Lambda refuses to create python{python} functions from "
        f"{dates.create_blocked.isoformat()} ({dates.os}; {LAMBDA_RUNTIMES_PAGE}); "
        f"choose one of {usable}"
    )


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
# A DNS label (letters, digits, '-', not at either end), lower case as CloudFront keeps it.
_LABEL = re.compile(r"[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?")
_ACM_ARN = re.compile(
    r"arn:(?P<partition>aws[a-z-]*):acm:(?P<region>[a-z0-9-]+):\d{12}:certificate/[0-9a-f-]+"
)

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
    # 1..60 s. Up to 120 s only with origin_read_timeout_quota_raised = true, once AWS has
    # raised CloudFront's "Response timeout per origin" quota for the account.
    origin_read_timeout_s: int = Distribution.origin_read_timeout_s
    origin_read_timeout_quota_raised: bool = False
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

    # The CloudFront event the edge router runs on (infra/distribution.py, docs/deploying.md):
    # "viewer-request", every request, one cache entry per output, f=auto; or
    # "origin-request", cache misses only, one cache entry per spelling, no f=auto.
    edge_trigger: str = VIEWER_REQUEST
    # Lambda SnapStart for the resizer (infra/functions.py): its function URL then invokes
    # an alias of a published version. It has charges of its own (docs/deploying.md).
    resizer_snapstart: bool = False

    # Your own domain: the distribution's alternate domain names and the ACM certificate
    # (in us-east-1) that covers every one of them; both or neither. Empty: the
    # distribution's own *.cloudfront.net name and certificate.
    domain_names: tuple[str, ...] = ()
    certificate_arn: str = ""
    # CloudFront's "Alternate domain names (CNAMEs) per distribution" quota for the account:
    # 100 unless AWS has raised it.
    alternate_domain_names_quota: int = DEFAULT_QUOTA_ALTERNATE_DOMAIN_NAMES

    def __post_init__(self) -> None:
        if isinstance(self.domain_names, list):  # a TOML array
            object.__setattr__(self, "domain_names", tuple(self.domain_names))
        problems = _problems(self, today())
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


def _problems(settings: DeploySettings, on: date | None = None) -> list[str]:
    """Every problem of ``settings``, with ``on`` as today (``today()`` without it)."""
    on = on or today()
    problems: list[str] = []

    def is_int(value: object) -> bool:
        return isinstance(value, int) and not isinstance(value, bool)

    for f in fields(settings):
        value = getattr(settings, f.name)
        if f.type == "tuple[str, ...]":
            if not isinstance(value, tuple) or not all(isinstance(v, str) for v in value):
                problems.append(f"{f.name}: must be a list of strings")
            continue
        if f.type == "bool":
            if not isinstance(value, bool):
                problems.append(f"{f.name}: must be true or false")
            continue
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
    runtime = runtime_problem(settings.python, on)
    check(runtime is None, runtime or "")
    check(
        settings.resizer_architecture in ARCHITECTURES,
        f"resizer_architecture: one of {list(ARCHITECTURES)}",
    )
    check(
        128 <= settings.resizer_memory_mb <= 10240,
        "resizer_memory_mb: must lie in 128..10240",
    )
    if settings.origin_read_timeout_quota_raised:
        check(
            1 <= settings.origin_read_timeout_s <= MAX_ORIGIN_READ_TIMEOUT_S,
            f"origin_read_timeout_s: must lie in 1..{MAX_ORIGIN_READ_TIMEOUT_S}",
        )
    else:
        check(
            1 <= settings.origin_read_timeout_s <= DEFAULT_QUOTA_ORIGIN_READ_TIMEOUT_S,
            f"origin_read_timeout_s: must lie in 1..{DEFAULT_QUOTA_ORIGIN_READ_TIMEOUT_S}; "
            f"up to {MAX_ORIGIN_READ_TIMEOUT_S} only once AWS has raised CloudFront's "
            '"Response timeout per origin" quota for the account, then say so with '
            "origin_read_timeout_quota_raised = true",
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
    check(settings.edge_trigger in EDGE_TRIGGERS, f"edge_trigger: one of {list(EDGE_TRIGGERS)}")
    if settings.resizer_snapstart:
        check(
            settings.python in SNAPSTART_PYTHON,
            f"resizer_snapstart: Lambda SnapStart needs python one of {list(SNAPSTART_PYTHON)}",
        )
        check(
            settings.region not in SNAPSTART_UNSUPPORTED_REGIONS,
            f"resizer_snapstart: Lambda SnapStart is not offered in {settings.region}",
        )
    problems += _domain_problems(settings)
    return problems


def domain_name_problem(name: str) -> str | None:
    """Why CloudFront would refuse ``name`` as an alternate domain name: a DNS name of at
    least two labels, at most 253 characters, lower case, whose first label may be ``*``
    (a wildcard covers one level of subdomains)."""
    labels = name.split(".")
    if labels[0] == "*":
        labels = labels[1:]
    if len(name) > 253 or len(labels) < 2:
        return "a domain name of at least two labels and at most 253 characters"
    bad = [label for label in labels if not _LABEL.fullmatch(label)]
    if bad:
        return (
            f"label {bad[0]!r}: 1..63 lower-case letters, digits and '-', not starting or "
            "ending with '-' (only the first label may be '*')"
        )
    return None


def _domain_problems(settings: DeploySettings) -> list[str]:
    problems: list[str] = []
    names, arn = settings.domain_names, settings.certificate_arn
    if bool(names) != bool(arn):
        missing = "certificate_arn" if names else "domain_names"
        return [
            f"{missing}: domain_names and certificate_arn go together: the distribution "
            "answers to its alternate domain names only with a certificate that covers them, "
            "and a certificate without them is never used"
        ]
    for name in names:
        problem = domain_name_problem(name)
        if problem:
            problems.append(f"domain_names: {name!r}: {problem}")
    duplicates = sorted({name for name in names if names.count(name) > 1})
    if duplicates:
        problems.append(f"domain_names: named more than once: {duplicates}")
    quota = settings.alternate_domain_names_quota
    if quota < DEFAULT_QUOTA_ALTERNATE_DOMAIN_NAMES:
        problems.append(
            f"alternate_domain_names_quota: at least {DEFAULT_QUOTA_ALTERNATE_DOMAIN_NAMES}, "
            "CloudFront's default"
        )
    elif len(names) > quota:
        problems.append(
            f"domain_names: {len(names)} names, over CloudFront's quota of {quota} alternate "
            "domain names per distribution; ask AWS to raise it, then set "
            "alternate_domain_names_quota"
        )
    if arn:
        match = _ACM_ARN.fullmatch(arn)
        if match is None:
            problems.append(
                "certificate_arn: an ACM certificate's ARN, "
                "arn:aws:acm:us-east-1:<account>:certificate/<id>"
            )
        elif match["region"] != CERTIFICATE_REGION:
            problems.append(
                f"certificate_arn: the certificate is in {match['region']}; CloudFront takes "
                f"ACM certificates from {CERTIFICATE_REGION} only: request or import it there "
                f"({CERTIFICATE_PAGE})"
            )
    return problems


def load_settings(path: str | Path | None = None) -> DeploySettings:
    """The settings file, or the defaults without one."""
    if path is None:
        return DeploySettings()
    with open(path, "rb") as f:
        return DeploySettings.from_mapping(tomllib.load(f))
