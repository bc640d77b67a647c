"""The monthly AWS bill of imgedge and of two AWS image services, for one traffic profile.

    python -m bench.cost --requests N --hit-ratio R --mean-bytes B [--render-share S]
                         [--reps K] [--cases a,b,c,d,e] [--json FILE]

Four designs, billed line by line at the list prices of ``bench/prices.json`` (no free
tier, first paid tier):

- ``imgedge-viewer-request``: Lambda@Edge on viewer requests (every request), an origin
  group of the derivatives bucket then the resizer's function URL (Pillow).
- ``imgedge-origin-request``: the same router on origin requests. It runs only when
  CloudFront goes to the origin, and twice when the origin group fails over (CloudFront
  invokes an origin-request function again for the secondary origin).
- ``aws-samples``: aws-samples/image-optimization. A CloudFront Function on viewer
  requests; S3 for transformed images (a 90-day lifecycle expiry) failing over to a
  function URL (sharp, Node.js, 1,500 MB, x86_64).
- ``dynamic-image-transformation``: AWS's solution in its Lambda form (the v7 stack): a
  CloudFront Function on viewer requests, an API Gateway REST API, a Lambda (sharp, Node.js,
  1,024 MB, x86_64). Nothing is stored: every CloudFront miss renders.

The times are measured in this run, on this machine: each benchmark case
(``bench/cases.py``) rendered in-process by ``regional_resizer.pipeline.render``, and
``edge_router.handler`` on CloudFront's viewer-request and origin-request event shapes.
A measured time becomes a billed duration as Lambda bills it: Lambda gives a function CPU in
proportion to its memory, one full vCPU at 1,769 MB, so a single-threaded time measured on
one full core is multiplied by 1769 / memory when the memory is below that (13.8 at
Lambda@Edge's 128 MB), then rounded up to the next whole millisecond (the billing
granularity of Lambda and of Lambda@Edge). sharp's renders are imgedge's measured times
times the per-case speed ratio measured against sharp (``SHARP_RATIO``, from
docs/performance.md).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import math
import platform
import statistics
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.machine import cpu_model

PRICES = Path(__file__).with_name("prices.json")
GIB = 1024**3  # AWS bills data transfer and storage by the binary gigabyte
FULL_VCPU_MB = 1769  # Lambda's memory at which a function has one full vCPU
DAYS_PER_MONTH = 365.25 / 12

SHARP_RATIO = {"a": 1.02, "b": 1.13, "c": 1.03, "d": 1.04, "e": 1.20}
"""imgedge's operations per second over sharp's, per case: the median of the rounds of the
latest run in docs/performance.md ("imgedge against sharp", 2026-11-29, ``python -m
bench.vs_sharp --rounds 15``). sharp's time for a case is imgedge's time times this."""
SHARP_RATIO_SOURCE = "docs/performance.md, imgedge against sharp, run of 2026-11-29"

SHORT = {
    "imgedge-viewer-request": "imgedge viewer-request",
    "imgedge-origin-request": "imgedge origin-request",
    "aws-samples": "aws-samples",
    "dynamic-image-transformation": "dynamic-image-transf.",
}

DESIGNS = (
    "imgedge-viewer-request",
    "imgedge-origin-request",
    "aws-samples",
    "dynamic-image-transformation",
)


@dataclass(frozen=True)
class Prices:
    """The unit prices the model bills, in USD."""

    cf_request: float  # one HTTPS request
    cf_transfer_gib: float
    cf_function: float  # one CloudFront Functions invocation
    edge_request: float  # one Lambda@Edge request
    edge_gb_s: float
    lambda_request: float
    lambda_gb_s: Mapping[str, float]  # by architecture
    apigw_rest_request: float
    origin_shield_request: float
    s3_get: float
    s3_put: float
    s3_gib_month: float
    read: str

    @classmethod
    def load(cls, path: Path = PRICES) -> Prices:
        data = json.loads(path.read_text())
        p = data["prices"]
        return cls(
            cf_request=p["cloudfront_https_requests_per_10k"]["usd"] / 10_000,
            cf_transfer_gib=p["cloudfront_data_transfer_out_per_gb"]["usd"],
            cf_function=p["cloudfront_functions_per_million"]["usd"] / 1e6,
            edge_request=p["lambda_edge_requests_per_million"]["usd"] / 1e6,
            edge_gb_s=p["lambda_edge_gb_second"]["usd"],
            lambda_request=p["lambda_requests_per_million"]["usd"] / 1e6,
            lambda_gb_s={
                "x86_64": p["lambda_x86_gb_second"]["usd"],
                "arm64": p["lambda_arm64_gb_second"]["usd"],
            },
            apigw_rest_request=p["api_gateway_rest_per_million"]["usd"] / 1e6,
            origin_shield_request=p["cloudfront_origin_shield_per_10k"]["usd"] / 10_000,
            s3_get=p["s3_get_per_1000"]["usd"] / 1000,
            s3_put=p["s3_put_per_1000"]["usd"] / 1000,
            s3_gib_month=p["s3_storage_gb_month"]["usd"],
            read=str(data["read"]),
        )


@dataclass(frozen=True)
class Traffic:
    requests: float  # viewer requests a month
    hit_ratio: float  # CloudFront's
    mean_bytes: float  # per response
    render_share: float  # of CloudFront's misses, those no stored derivative answers

    @property
    def misses(self) -> float:
        return self.requests * (1 - self.hit_ratio)


@dataclass(frozen=True)
class Measured:
    """Per-operation times on one full core, in milliseconds. A render is billed case by
    case (each invocation rounds up on its own), then averaged: the cases are taken to be
    equally frequent."""

    edge_viewer_ms: float  # edge_router.handler on a viewer-request event
    edge_origin_ms: float  # on an origin-request event
    render_ms: tuple[float, ...]  # imgedge, one per case
    sharp_render_ms: tuple[float, ...]  # the same cases at sharp's measured speed


@dataclass(frozen=True)
class Design:
    name: str
    edge: str  # "lambda@edge" or "cloudfront-function"
    edge_on: str  # "every-request" or "origin-request"
    renderer: str  # "pillow" or "sharp"
    memory_mb: int
    architecture: str
    stores: bool  # whether derivatives are stored in S3 and looked up there first
    retention_days: float  # how long a stored derivative stays (S3 lifecycle expiry)
    s3_gets_per_render: int  # originals and checks read by one render
    s3_puts_per_render: int
    api_gateway: bool = False
    origin_shield: bool = False
    edge_memory_mb: int = 128


def designs() -> dict[str, Design]:
    """The four designs, with imgedge's memory and retention read from its own settings."""
    from infra.aws.settings import DeploySettings
    from infra.distribution import EdgeTrigger
    from infra.functions import RESIZER

    settings = DeploySettings()
    # One render: GET the original, PUT its index marker and the derivative, HEAD the
    # original again (the purge race check): 2 GET-class and 2 PUT-class requests.
    viewer = Design(
        "imgedge-viewer-request",
        "lambda@edge",
        "every-request",
        "pillow",
        RESIZER.memory_mb,
        settings.resizer_architecture,
        stores=True,
        retention_days=float(settings.derivative_expiry_days or 10 * 365),
        s3_gets_per_render=2,
        s3_puts_per_render=2,
        edge_memory_mb=EdgeTrigger().memory_mb,
    )
    origin = dataclasses.replace(viewer, name="imgedge-origin-request", edge_on="origin-request")
    return {
        viewer.name: viewer,
        origin.name: origin,
        # lib/image-optimization-stack.ts: LAMBDA_MEMORY 1500, no architecture (x86_64),
        # S3_TRANSFORMED_IMAGE_EXPIRATION_DURATION 90 days; the function GETs the original
        # and PUTs the transformed image.
        "aws-samples": Design(
            "aws-samples",
            "cloudfront-function",
            "every-request",
            "sharp",
            1500,
            "x86_64",
            stores=True,
            retention_days=90,
            s3_gets_per_render=1,
            s3_puts_per_render=1,
            origin_shield=True,  # CLOUDFRONT_ORIGIN_SHIELD_REGION: on by default
        ),
        # source/constructs/lib/back-end: memorySize 1024, no architecture (x86_64), a
        # LambdaRestApi behind CloudFront with a viewer-request CloudFront Function; the
        # handler GETs the original and stores nothing. Origin Shield: off by default.
        "dynamic-image-transformation": Design(
            "dynamic-image-transformation",
            "cloudfront-function",
            "every-request",
            "sharp",
            1024,
            "x86_64",
            stores=False,
            retention_days=0,
            s3_gets_per_render=1,
            s3_puts_per_render=0,
            api_gateway=True,
        ),
    }


def billed_ms(measured_ms: float, memory_mb: int) -> int:
    """Lambda's billed duration of a single-threaded run that took ``measured_ms`` on one
    full core: slowed in proportion below 1,769 MB, rounded up to the next millisecond, at
    least 1 ms."""
    scaled = measured_ms * max(1.0, FULL_VCPU_MB / memory_mb)
    return max(1, math.ceil(scaled - 1e-9))


def bill(design: Design, traffic: Traffic, prices: Prices, measured: Measured) -> dict[str, Any]:
    """One design's monthly bill: its line items, the edge's part and the total, in USD."""
    n, misses = traffic.requests, traffic.misses
    renders = misses * traffic.render_share if design.stores else misses
    gib_out = n * traffic.mean_bytes / GIB
    lines: dict[str, float] = {
        "cloudfront_requests": n * prices.cf_request,
        "cloudfront_transfer": gib_out * prices.cf_transfer_gib,
    }
    edge_ms = 0
    if design.edge == "cloudfront-function":
        edge_calls = n
        lines["edge_requests"] = edge_calls * prices.cf_function
        lines["edge_duration"] = 0.0
    else:
        if design.edge_on == "every-request":
            edge_calls, ms = n, measured.edge_viewer_ms
        else:  # once per origin request, again for the secondary origin on failover
            edge_calls, ms = misses + (renders if design.stores else 0), measured.edge_origin_ms
        edge_ms = billed_ms(ms, design.edge_memory_mb)
        lines["edge_requests"] = edge_calls * prices.edge_request
        lines["edge_duration"] = (
            edge_calls * edge_ms / 1000 * design.edge_memory_mb / 1024 * prices.edge_gb_s
        )
    times = measured.render_ms if design.renderer == "pillow" else measured.sharp_render_ms
    render_ms = statistics.fmean(times)
    render_billed = statistics.fmean(billed_ms(ms, design.memory_mb) for ms in times)
    lines["renderer_requests"] = renders * prices.lambda_request
    lines["renderer_duration"] = (
        renders
        * render_billed
        / 1000
        * design.memory_mb
        / 1024
        * prices.lambda_gb_s[design.architecture]
    )
    lines["api_gateway"] = renders * prices.apigw_rest_request if design.api_gateway else 0.0
    lines["origin_shield"] = misses * prices.origin_shield_request if design.origin_shield else 0.0
    lookups = misses if design.stores else 0  # the derivatives bucket, first in the group
    lines["s3_get"] = (lookups + renders * design.s3_gets_per_render) * prices.s3_get
    lines["s3_put"] = renders * design.s3_puts_per_render * prices.s3_put
    stored = renders * design.retention_days / DAYS_PER_MONTH if design.stores else 0.0
    lines["s3_storage"] = stored * traffic.mean_bytes / GIB * prices.s3_gib_month
    edge = lines["edge_requests"] + lines["edge_duration"]
    total = sum(lines.values())
    return {
        "edge_usd": edge,
        "total_usd": total,
        "edge_share": edge / total if total else 0.0,
        "edge": design.edge,
        "edge_invocations": edge_calls,
        "edge_billed_ms": edge_ms,
        "renders": renders,
        "render_ms": render_ms,
        "render_billed_ms": render_billed,
        "renderer_memory_mb": design.memory_mb,
        "renderer_architecture": design.architecture,
        "stored_derivatives": stored,
        "lines": lines,
    }


# Measurement ---------------------------------------------------------------------------


def edge_events(uri: str, query: str) -> dict[str, dict[str, Any]]:
    """CloudFront's two request event shapes (tests/events/viewer_request.json, and the
    origin-request one, which adds the origin) for one viewer URL."""
    events_dir = Path(__file__).resolve().parent.parent / "tests" / "events"
    viewer = json.loads((events_dir / "viewer_request.json").read_text())
    request = viewer["Records"][0]["cf"]["request"]
    request["uri"], request["querystring"] = uri, query
    request["headers"]["accept"] = [{"key": "Accept", "value": "image/avif,image/webp,*/*"}]
    origin = json.loads(json.dumps(viewer))
    cf = origin["Records"][0]["cf"]
    cf["config"]["eventType"] = "origin-request"
    cf["request"]["origin"] = {
        "s3": {
            "authMethod": "origin-access-identity",
            "customHeaders": {},
            "domainName": "derivatives.s3.us-east-1.amazonaws.com",
            "path": "",
            "region": "us-east-1",
        }
    }
    return {"viewer-request": viewer, "origin-request": origin}


def time_edge(event: dict[str, Any], reps: int) -> float:
    """The median CPU milliseconds of one ``edge_router.handler`` call on a fresh copy of
    ``event`` (CloudFront hands each invocation its own)."""
    from edge_router.handler import make_handler
    from shared.config import Config

    handler = make_handler(Config())
    text = json.dumps(event)
    handler(json.loads(text), None)  # warm: imports and first-call caches
    samples = []
    for _ in range(9):
        copies = [json.loads(text) for _ in range(reps)]
        start = time.process_time()
        for copy in copies:
            handler(copy, None)
        samples.append((time.process_time() - start) / reps * 1000)
    return statistics.median(samples)


def time_renders(cases: Sequence[str], reps: int) -> dict[str, float]:
    """The median CPU milliseconds of one render per case, in this process."""
    from bench import imgedge_worker
    from bench.cases import ALL
    from tests.conftest import CORPUS

    out: dict[str, float] = {}
    for key in cases:
        case = ALL[key]
        data = (CORPUS / case.source).read_bytes()
        imgedge_worker.run(case, data, 1)  # warm
        samples = []
        for _ in range(reps):
            result = imgedge_worker.run(case, data, 1)
            samples.append(result["cpu_seconds"] * 1000)
        out[key] = statistics.median(samples)
    return out


def measure(cases: Sequence[str], reps: int) -> tuple[Measured, dict[str, Any]]:
    renders = time_renders(cases, reps)
    sharp = {key: ms * SHARP_RATIO[key] for key, ms in renders.items()}
    events = edge_events("/photos/cat.jpg", "s=256x256&f=auto&q=80")
    viewer = time_edge(events["viewer-request"], 2000)
    origin = time_edge(events["origin-request"], 2000)
    measured = Measured(
        edge_viewer_ms=viewer,
        edge_origin_ms=origin,
        render_ms=tuple(renders.values()),
        sharp_render_ms=tuple(sharp.values()),
    )
    detail = {"render_ms": renders, "sharp_render_ms": sharp}
    return measured, detail


# Output ----------------------------------------------------------------------------------


def report(
    traffic: Traffic,
    prices: Prices,
    measured: Measured,
    detail: Mapping[str, Any],
    bills: Mapping[str, Mapping[str, Any]],
    all_designs: Mapping[str, Design],
) -> str:
    lines = [
        f"traffic: {traffic.requests:,.0f} requests/month, CloudFront hit ratio "
        f"{traffic.hit_ratio:.3f}, {traffic.mean_bytes:,.0f} B mean response, "
        f"render share of misses {traffic.render_share:.2f} (stored designs; "
        "dynamic-image-transformation renders every miss)",
        f"prices: bench/prices.json, read {prices.read} (us-east-1 / US edge, first tier, "
        "no free tier)",
        f"machine: {platform.machine()} {_cpu()}, Python {platform.python_version()}",
        "",
        "measured here (CPU ms on one core, median):",
    ]
    for key, ms in detail["render_ms"].items():
        lines.append(
            f"  render {key}: imgedge {ms:.1f} ms; sharp {detail['sharp_render_ms'][key]:.1f} ms "
            f"(x{SHARP_RATIO[key]:.2f})"
        )
    lines += [
        f"  render mean: imgedge {statistics.fmean(measured.render_ms):.1f} ms, sharp "
        f"{statistics.fmean(measured.sharp_render_ms):.1f} ms ({SHARP_RATIO_SOURCE})",
        f"  edge_router.handler: viewer-request {measured.edge_viewer_ms * 1000:.0f} us, "
        f"origin-request {measured.edge_origin_ms * 1000:.0f} us",
        "",
        "billed duration = ceil(measured ms x max(1, 1769 / memory MB)), 1 ms granularity, per"
        " case, then averaged:",
    ]
    for name in DESIGNS:
        design, b = all_designs[name], bills[name]
        edge = (
            f"edge {b['edge_billed_ms']} ms at {design.edge_memory_mb} MB"
            if design.edge == "lambda@edge"
            else "edge: CloudFront Function (per invocation, no duration)"
        )
        lines.append(
            f"  {name}: {edge}; render {b['render_ms']:.1f} ms -> {b['render_billed_ms']:.1f} ms "
            f"at {design.memory_mb} MB {design.architecture}"
        )
    lines += ["", "monthly USD:"]
    items = list(next(iter(bills.values()))["lines"])
    header = f"  {'line':<22}" + "".join(f"{SHORT[name]:>26}" for name in DESIGNS)
    lines.append(header)
    for item in items:
        row = f"  {item:<22}" + "".join(f"{bills[n]['lines'][item]:>26.2f}" for n in DESIGNS)
        lines.append(row)
    lines.append(f"  {'total':<22}" + "".join(f"{bills[n]['total_usd']:>26.2f}" for n in DESIGNS))
    lines.append(
        f"  {'edge share':<22}" + "".join(f"{bills[n]['edge_share']:>25.2%} " for n in DESIGNS)
    )
    origin, samples = bills["imgedge-origin-request"], bills["aws-samples"]
    holds = origin["edge_share"] <= samples["edge_share"]
    lines += [
        "",
        f"target (origin-request edge share <= aws-samples' CloudFront Function share): "
        f"{origin['edge_share']:.2%} vs {samples['edge_share']:.2%}: "
        + ("holds" if holds else "does NOT hold"),
    ]
    return "\n".join(lines)


def _cpu() -> str:
    return cpu_model() or platform.processor() or "unknown CPU"


def main(argv: list[str] | None = None) -> None:
    args = _arguments(argv)
    traffic = Traffic(args.requests, args.hit_ratio, args.mean_bytes, args.render_share)
    prices = Prices.load()
    measured, detail = measure(args.cases.split(","), args.reps)
    all_designs = designs()
    bills = {name: bill(all_designs[name], traffic, prices, measured) for name in DESIGNS}
    print(report(traffic, prices, measured, detail, bills, all_designs))
    if args.json:
        Path(args.json).write_text(json.dumps({"designs": bills}, indent=2) + "\n")


def _arguments(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench.cost", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--requests", type=float, required=True, help="viewer requests a month")
    parser.add_argument("--hit-ratio", type=_fraction, required=True, help="CloudFront's, 0..1")
    parser.add_argument("--mean-bytes", type=float, required=True, help="mean response bytes")
    parser.add_argument(
        "--render-share",
        type=_fraction,
        default=0.2,
        help="share of CloudFront misses no stored derivative answers (default 0.2)",
    )
    parser.add_argument("--reps", type=int, default=5, help="timed renders per case")
    parser.add_argument("--cases", default="a,b,c,d,e")
    parser.add_argument("--json", help="write {designs: {name: {edge_usd, total_usd, ...}}}")
    args = parser.parse_args(argv)
    unknown = set(args.cases.split(",")) - set(SHARP_RATIO)
    if unknown:
        parser.error(f"--cases: no sharp ratio for {sorted(unknown)}")
    if args.requests < 0 or args.mean_bytes < 0 or args.reps < 1:
        parser.error("--requests and --mean-bytes must be >= 0, --reps >= 1")
    return args


def _fraction(text: str) -> float:
    value = float(text)
    if not 0 <= value <= 1:
        raise argparse.ArgumentTypeError("a fraction between 0 and 1")
    return value


if __name__ == "__main__":
    main(sys.argv[1:])
