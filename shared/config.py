"""The one configuration both stages and the local stack read: allow-lists, limits, TTLs.

It is a frozen, validated value read once. A file (TOML, flat keys, any subset of the
fields below) overrides the defaults; every bad value is reported at once. Lambda@Edge has
no environment variables, so the packager bakes the configuration into both zips as
``shared/imgedge.json``: the same mapping in JSON, which a cold start reads without loading
a TOML parser. The regional function and the local stack may also name a file in
``IMGEDGE_CONFIG``: TOML, or JSON when its name ends in ``.json``.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from types import MappingProxyType
from typing import Any

from shared import formats, transforms
from shared.originals import OriginalsBuckets

OUTPUT_FORMATS = formats.OUTPUT_FORMATS
"""Every format the resizer can encode (``shared.formats``); a configuration may enable a
subset."""

MAX_DIMENSION = 8192
"""Hard limit on a requested width or height, whatever the allow-list says."""

BAKED_CONFIG = Path(__file__).with_name("imgedge.json")
CONFIG_ENV = "IMGEDGE_CONFIG"

DEFAULT_SIZES = (
    16, 32, 48, 64, 96, 128, 160, 192, 256, 320, 384, 480, 512, 640, 720, 768, 828,
    960, 1024, 1080, 1200, 1280, 1440, 1536, 1600, 1920, 2048, 2560, 3072, 3840, 4096,
)  # fmt: skip
DEFAULT_QUALITIES = (10, 20, 30, 40, 50, 60, 70, 75, 80, 85, 90, 95, 100)
MAX_THREADS = 64
"""The most threads a render may be given (libaom's own limit)."""
RESAMPLING = ("balanced", "lanczos")
"""How the resizer finishes a shrink (``regional_resizer.resampling``): "balanced" trades
a little sharpness for time where LANCZOS costs most, "lanczos" never does."""


class ConfigError(ValueError):
    """One or more configuration values are invalid; the message lists all of them."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        super().__init__("invalid imgedge configuration:\n  " + "\n  ".join(problems))


def _frozen_qualities() -> Mapping[str, int]:
    return MappingProxyType(
        {f.name: f.default_quality for f in formats.OUTPUTS if f.default_quality is not None}
    )


def _default_presets() -> Mapping[str, str]:
    return MappingProxyType(
        {"thumb": "s=256x256&f=webp", "card": "s=640x480&f=webp", "hero": "s=1920x&f=webp"}
    )


_PRESET_NAME = _KEY_ID = re.compile(r"[a-z0-9_-]{1,32}")

FALLBACK_STATUSES = (200, 404, 410)
"""What a fallback image may answer with: found, or the truth (gone or never there)."""

DEFAULT_BLUR_SIGMAS = (0.5, 1.0, 2.0, 3.0, 5.0, 10.0, 20.0)
DEFAULT_SHARPEN_SIGMAS = (0.5, 1.0, 2.0)


@dataclass(frozen=True)
class Watermark:
    """An overlay ``wm=NAME`` puts on the output: an image in the originals bucket, scaled
    to ``scale`` of the output's width (never enlarged), placed by ``gravity`` (a compass
    point or "center") ``margin`` of the output's shorter side from the edges, drawn at
    ``opacity``. Replacing the overlay purges the derivatives that carry it."""

    key: str
    gravity: str = "se"
    margin: float = 0.03
    scale: float = 0.25
    opacity: float = 1.0

    def problems(self, name: str) -> list[str]:
        where = f"watermarks.{name}"
        found: list[str] = []
        if not isinstance(self.key, str) or not self.key or self.key.startswith("/"):
            found.append(f"{where}.key: must be an originals bucket key such as 'brand/logo.png'")
        if self.gravity not in transforms.COMPASS:
            found.append(f"{where}.gravity: must be one of {sorted(transforms.COMPASS)}")
        for field_name, low, high in (("margin", 0.0, 0.5), ("scale", 0.01, 1.0),
                                      ("opacity", 0.01, 1.0)):  # fmt: skip
            value = getattr(self, field_name)
            if not _is_number(value) or not low <= value <= high:
                found.append(f"{where}.{field_name}: must be a number in {low}..{high}")
        return found


def _is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


@dataclass(frozen=True)
class Config:
    # The contract: what a URL may ask for. Sizes and qualities snap to these lists, which
    # bounds the number of derivatives (and cache keys) per original.
    sizes: tuple[int, ...] = DEFAULT_SIZES
    qualities: tuple[int, ...] = DEFAULT_QUALITIES
    formats: tuple[str, ...] = OUTPUT_FORMATS
    default_quality: Mapping[str, int] = field(default_factory=_frozen_qualities)
    # Named transforms: ``?p=thumb`` means the preset's query; precompute renders them.
    presets: Mapping[str, str] = field(default_factory=_default_presets)
    # Signed URLs (shared/signing.py): key id -> secret. A secret baked into the edge zip:
    # keep this file out of version control when it holds keys. Empty: signing is off.
    signing_keys: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))

    # The transforms beyond size and format (shared/transforms.py). Each value a viewer
    # gives snaps to these, so they bound the key space too (shared/keyspace.py); an empty
    # list turns the option off. A signed URL may also name any bg colour and a crop.
    focal_point_grid: float = 0.05  # fp=X,Y snaps to multiples of this (1/n, n even)
    blur_sigmas: tuple[float, ...] = DEFAULT_BLUR_SIGMAS
    sharpen_sigmas: tuple[float, ...] = DEFAULT_SHARPEN_SIGMAS
    background_colours: tuple[str, ...] = ("ffffff", "000000")
    watermarks: Mapping[str, Watermark] = field(default_factory=lambda: MappingProxyType({}))

    # Limits checked before a source is decoded.
    max_source_bytes: int = 50 * 1024 * 1024
    max_source_pixels: int = 64_000_000
    max_frames: int = 300
    max_total_pixels: int = 128_000_000  # frames x width x height

    # An original in the originals bucket rendered instead of one that is missing or cannot
    # be decoded, at the requested size and format, with fallback_status and error_max_age,
    # never stored ("" = off): a page shows it rather than a broken-image icon.
    fallback_image: str = ""
    fallback_status: int = 404

    # Key prefix -> the originals bucket that holds the keys under it ("products/" =
    # "acme-products"); the prefix stays part of the object key, the longest prefix wins,
    # and a key under none is in the deployment's originals bucket (shared/originals.py).
    originals_buckets: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))

    # Cache-Control max-age of stored derivatives and of error responses.
    derivative_max_age: int = 365 * 24 * 3600
    error_max_age: int = 60

    # "balanced": HAMMING over a long last step after halving or 3/8 JPEG DCT scaling (3-5x
    # shrinks), BICUBIC for a shrink under 4x that no box reduce shares, 25-50% less resize
    # time there; "lanczos": LANCZOS everywhere, as libvips, sharper on detailed photos
    # (docs/engine.md, "How the engine resamples").
    resampling: str = "balanced"
    # Threads one render may use: AVIF encoding and large resizes share them out. 0: from
    # the function's memory, 1 up to the memory that buys one vCPU, one per vCPU-worth
    # above it (codecs.threads; docs/memory.md); n: n. AVIF bytes depend on the count.
    threads: int = 0

    # Share of requests the edge starts an X-Ray trace for. X-Ray bills per trace recorded.
    trace_sampling_rate: float = 0.05
    # Whether a viewer's X-Amzn-Trace-Id may choose the trace root and force (or refuse)
    # sampling. Off: the edge ignores it and samples at trace_sampling_rate, so no viewer
    # can make imgedge record (and pay for) a trace. On only when the viewers are your own
    # instrumented clients (docs/traces.md).
    trust_viewer_trace: bool = False

    def __post_init__(self) -> None:
        problems = _problems(self)
        if problems:
            raise ConfigError(problems)

    @property
    def max_size(self) -> int:
        return self.sizes[-1]

    def originals(self, default_bucket: str) -> OriginalsBuckets:
        """Where each original is: ``originals_buckets``, else ``default_bucket``."""
        return OriginalsBuckets(default_bucket, self.originals_buckets)

    def quality_for(self, fmt: str) -> int | None:
        """The default quality of a lossy format; None for formats without one (png)."""
        return self.default_quality[fmt] if fmt in formats.LOSSY_FORMATS else None

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any]) -> Config:
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ConfigError([f"unknown key {key!r}" for key in unknown])
        values: dict[str, Any] = {}
        for key, value in data.items():
            if key == "default_quality" and isinstance(value, Mapping):
                values[key] = MappingProxyType({**_frozen_qualities(), **value})
            elif key in ("presets", "signing_keys", "originals_buckets") and isinstance(
                value, Mapping
            ):
                values[key] = MappingProxyType(dict(value))
            elif key == "watermarks" and isinstance(value, Mapping):
                values[key] = MappingProxyType(_watermarks(value))
            elif isinstance(value, list):
                values[key] = tuple(value)
            else:
                values[key] = value
        return cls(**values)

    def to_mapping(self) -> dict[str, Any]:
        """A plain, TOML/JSON-friendly view (used to bake the edge's configuration)."""
        out: dict[str, Any] = {}
        for f in fields(self):
            value = getattr(self, f.name)
            if isinstance(value, tuple):
                value = list(value)
            elif f.name == "watermarks":
                value = {name: _watermark_mapping(mark) for name, mark in value.items()}
            elif isinstance(value, Mapping):
                value = dict(value)
            out[f.name] = value
        return out


def _watermarks(tables: Mapping[str, Any]) -> dict[str, Any]:
    """``[watermarks.NAME]`` tables as Watermarks (a bad table is kept as it is, to be
    reported with the other problems)."""
    known = {f.name for f in fields(Watermark)}
    out: dict[str, Any] = {}
    for name, table in tables.items():
        if isinstance(table, Mapping) and "key" in table and set(table) <= known:
            out[name] = Watermark(**table)
        else:
            out[name] = table
    return out


def _watermark_mapping(mark: Watermark) -> dict[str, Any]:
    return {f.name: getattr(mark, f.name) for f in fields(mark)}


def _problems(config: Config) -> list[str]:
    problems: list[str] = []

    def positive_ints(name: str, values: tuple[int, ...], upper: int) -> None:
        if not values:
            problems.append(f"{name}: must not be empty")
        elif not all(isinstance(v, int) and not isinstance(v, bool) for v in values):
            problems.append(f"{name}: must be integers")
        elif list(values) != sorted(set(values)):
            problems.append(f"{name}: must be strictly increasing")
        elif values[0] < 1 or values[-1] > upper:
            problems.append(f"{name}: values must lie in 1..{upper}")

    positive_ints("sizes", config.sizes, MAX_DIMENSION)
    positive_ints("qualities", config.qualities, 100)
    bad_formats = [f for f in config.formats if f not in OUTPUT_FORMATS]
    if bad_formats or not config.formats:
        problems.append(f"formats: must be a non-empty subset of {list(OUTPUT_FORMATS)}")
    missing = [fmt for fmt in formats.LOSSY_FORMATS if fmt not in config.default_quality]
    if missing:
        problems.append(f"default_quality: missing {missing}")
    for fmt, q in config.default_quality.items():
        if fmt not in formats.LOSSY_FORMATS:
            problems.append(f"default_quality: {fmt!r} is not a lossy output format")
        elif not isinstance(q, int) or q not in config.qualities:
            problems.append(f"default_quality.{fmt}: {q!r} must be one of qualities")
    for name in (
        "max_source_bytes",
        "max_source_pixels",
        "max_frames",
        "max_total_pixels",
        "derivative_max_age",
        "error_max_age",
    ):
        value = getattr(config, name)
        if not isinstance(value, int) or isinstance(value, bool) or value < 0:
            problems.append(f"{name}: must be a non-negative integer")
    for name, query in config.presets.items():
        if not isinstance(name, str) or not _PRESET_NAME.fullmatch(name):
            problems.append(f"presets: name {name!r} must match [a-z0-9_-]{{1,32}}")
        if not isinstance(query, str) or not query.strip():
            problems.append(f"presets.{name}: must be a non-empty query such as 's=256x256&f=webp'")
    for key_id, secret in config.signing_keys.items():
        if not isinstance(key_id, str) or not _KEY_ID.fullmatch(key_id):
            problems.append(f"signing_keys: id {key_id!r} must match [a-z0-9_-]{{1,32}}")
        if not isinstance(secret, str) or len(secret) < 16:
            problems.append(f"signing_keys.{key_id}: the secret must be 16 characters or more")
    if not isinstance(config.fallback_image, str) or config.fallback_image.startswith("/"):
        problems.append("fallback_image: must be an originals bucket key such as 'missing.png'")
    if config.fallback_status not in FALLBACK_STATUSES:
        problems.append(f"fallback_status: must be one of {list(FALLBACK_STATUSES)}")
    _transform_problems(config, problems)
    _originals_buckets_problems(config.originals_buckets, problems)

    if config.resampling not in RESAMPLING:
        problems.append(f"resampling: must be one of {list(RESAMPLING)}")
    threads = config.threads
    if not isinstance(threads, int) or isinstance(threads, bool) or not 0 <= threads <= MAX_THREADS:
        problems.append(f"threads: must be an integer in 0..{MAX_THREADS} (0: from the memory)")
    rate = config.trace_sampling_rate
    if not isinstance(rate, int | float) or isinstance(rate, bool) or not 0 <= rate <= 1:
        problems.append("trace_sampling_rate: must be a number in 0..1")
    if not isinstance(config.trust_viewer_trace, bool):
        problems.append("trust_viewer_trace: must be true or false")
    return problems


def _transform_problems(config: Config, problems: list[str]) -> None:
    grid = config.focal_point_grid
    steps = 1 / grid if _is_number(grid) and grid > 0 else 0.0
    # Even n: the centre and the edges, where compass points lie, are on the grid.
    if not 2 <= round(steps) <= 1000 or abs(steps - round(steps)) > 1e-6 or round(steps) % 2:
        problems.append("focal_point_grid: must be 1/n for an even n in 2..1000, such as 0.05")
    for name in ("blur_sigmas", "sharpen_sigmas"):
        values = getattr(config, name)
        if not all(_is_number(v) for v in values):  # empty: the option is off unsigned
            problems.append(f"{name}: must be a list of numbers")
        elif list(values) != sorted(set(values)):
            problems.append(f"{name}: must be strictly increasing")
        elif not all(0 < v <= transforms.MAX_EFFECT_SIGMA and round(v, 2) == v for v in values):
            problems.append(
                f"{name}: values must lie in 0..{transforms.MAX_EFFECT_SIGMA:g}"
                " (not 0), with at most two decimals"
            )
    for colour in config.background_colours:
        if not isinstance(colour, str) or not transforms.COLOUR.fullmatch(colour):
            problems.append(f"background_colours: {colour!r} must be six lower-case hex digits")
    for name, mark in config.watermarks.items():
        if not isinstance(name, str) or not transforms.WATERMARK_NAME.fullmatch(name):
            problems.append(f"watermarks: name {name!r} must match [a-z0-9_]{{1,32}}")
        if not isinstance(mark, Watermark):
            problems.append(
                f"watermarks.{name}: must be a table with key and optionally gravity,"
                " margin, scale, opacity"
            )
        else:
            problems.extend(mark.problems(name))


BUCKET_NAME = re.compile(r"[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]")
"""S3's general purpose bucket names: 3-63 lower-case letters, digits, dots and hyphens."""


def _originals_buckets_problems(buckets: Mapping[str, str], problems: list[str]) -> None:
    """Each prefix non-empty, ending with "/", not starting with one; each bucket a bucket
    name. A prefix may extend another (the longest wins); a TOML table cannot name a key
    twice, so there are no duplicates to refuse."""
    if not isinstance(buckets, Mapping):
        problems.append('originals_buckets: must be a table of "prefix/" = "bucket"')
        return
    for prefix, bucket in buckets.items():
        if not isinstance(prefix, str) or not prefix.endswith("/") or prefix.startswith("/"):
            problems.append(
                f"originals_buckets: prefix {prefix!r} must end with '/' and not start with"
                " one, such as 'products/'"
            )
        if not isinstance(bucket, str) or not BUCKET_NAME.fullmatch(bucket):
            problems.append(f"originals_buckets.{prefix}: {bucket!r} must be an S3 bucket name")


def load_config(path: str | Path | None = None) -> Config:
    """Read the configuration: an explicit file, else $IMGEDGE_CONFIG, else the baked file,
    else the defaults."""
    if path is None:
        env = os.environ.get(CONFIG_ENV)
        if env:
            path = env
        elif BAKED_CONFIG.is_file():
            path = BAKED_CONFIG
        else:
            return Config()
    with open(path, "rb") as f:
        if Path(path).suffix == ".json":
            return Config.from_mapping(json.load(f))
        import tomllib  # only for a TOML file: the baked one is JSON

        return Config.from_mapping(tomllib.load(f))
