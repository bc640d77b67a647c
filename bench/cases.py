"""The benchmark cases: one source, one output, said once for imgedge and once for sharp.

Encoder settings are the same on both sides (sharp's are written out, not left to its
defaults): JPEG q80, 4:2:0, baseline, optimised Huffman tables; WebP q80, effort 4 (libwebp
method 4); AVIF q50, 4:2:0, 8 bits, libaom speed 6 = sharp effort 3 (``c``), and sharp's
default effort 4 = speed 5 (variant ``c5``). sharp's AVIF default is 4:4:4; imgedge encodes
4:2:0 like its JPEG and WebP, so sharp is asked for 4:2:0 as well.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from shared.config import DEFAULT_SIZES, Config
from shared.contract import ImageRequest

SHARP_VERSION = "0.35.5"

CONFIG = Config(sizes=tuple(sorted({*DEFAULT_SIZES, 588})))
"""imgedge's defaults, plus 588 among the sizes for sharp's own 720x588 task."""

JPEG = {"quality": 80, "chromaSubsampling": "4:2:0", "optimiseCoding": True}
JPEG |= {"progressive": False, "mozjpeg": False}
WEBP = {"quality": 80, "effort": 4}
AVIF = {"quality": 50, "chromaSubsampling": "4:2:0", "bitdepth": 8}


@dataclass(frozen=True)
class Case:
    key: str
    title: str
    source: str  # a corpus file
    fmt: str
    width: int | None
    height: int | None
    fit: str  # imgedge's fit, and sharp's (cover, inside; sharp's default is cover)
    sharp_options: dict[str, Any] = field(default_factory=dict)
    avif_speed: int | None = None  # imgedge's codecs.AVIF_SPEED for this case only

    def request(self, config: Config = CONFIG) -> ImageRequest:
        return ImageRequest.canonical(
            self.source,
            fmt=self.fmt,
            width=self.width,
            height=self.height,
            fit=self.fit,
            config=config,
        )

    def sharp_spec(self) -> dict[str, Any]:
        """What the node worker needs: resize and output options in sharp's words."""
        resize: dict[str, Any] = {"width": self.width, "height": self.height, "fit": self.fit}
        return {
            "source": self.source,
            "resize": {k: v for k, v in resize.items() if v is not None},
            "format": self.fmt,
            "options": self.sharp_options,
        }


PHOTO = "large_photo_2725x2225.jpg"

CASES = {
    case.key: case
    for case in (
        Case("a", "JPEG 2725x2225 -> 720x588 JPEG", PHOTO, "jpeg", 720, 588, "cover", JPEG),
        Case("b", "JPEG 2725x2225 -> 256 box WebP", PHOTO, "webp", 256, 256, "inside", WEBP),
        Case(
            "c",
            "JPEG 2725x2225 -> 256 box AVIF",
            PHOTO,
            "avif",
            256,
            256,
            "inside",
            AVIF | {"effort": 3},
        ),
        Case(
            "d",
            "PNG RGBA 2048x1536 -> 256w WebP",
            "rgba_large_2048x1536.png",
            "webp",
            256,
            None,
            "cover",
            WEBP,
        ),
        Case(
            "e",
            "JPEG 3840x2160 ICC -> 720w JPEG",
            "ultrahdr_gainmap_3840x2160.jpg",
            "jpeg",
            720,
            None,
            "cover",
            JPEG,
        ),
    )
}

VARIANTS = {
    "c5": Case(
        "c5",
        "c at sharp's default effort 4 (speed 5)",
        PHOTO,
        "avif",
        256,
        256,
        "inside",
        AVIF | {"effort": 4},
        avif_speed=5,
    ),
}

ALL = CASES | VARIANTS
