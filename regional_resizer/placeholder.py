"""What ``f=json`` says of an original's pixels: its dominant colour and a placeholder,
a tiny blurred image a page shows while the real one loads (next/image's
``blurDataURL``, a CSS background), as a ``data:`` URI of at most ``MAX_PLACEHOLDER_BYTES``.
"""

from __future__ import annotations

import base64
import io

from PIL import Image, ImageFilter

from shared import formats

SAMPLE_SIDE = 32
"""The side the caller shrinks the upright, sRGB, opaque original to (inside a square)."""
PLACEHOLDER_SIDES = (16, 12, 8)
"""The placeholder's longer side: the first whose data URI fits ``MAX_PLACEHOLDER_BYTES``."""
MAX_PLACEHOLDER_BYTES = 1024
PLACEHOLDER_QUALITY = 40  # WebP: the blur hides what a low quality loses
DOMINANT_COLOURS = 16  # few enough to merge shades, enough that edges form their own
PLACEHOLDER_BLUR = 0.8  # sigma in placeholder pixels: smooth when a page scales it up


def dominant_colour(sample: Image.Image) -> str:
    """The most common of the colours the sample quantizes to, as "#rrggbb"."""
    rgb = sample.convert("RGB")
    palette_image = rgb.quantize(colors=DOMINANT_COLOURS, method=Image.Quantize.MEDIANCUT)
    counts = palette_image.getcolors() or [(1, 0)]
    _, entry = max(counts)
    index = entry if isinstance(entry, int) else 0  # a "P" image counts palette indexes
    palette = palette_image.getpalette() or [0, 0, 0]
    r, g, b = palette[3 * index : 3 * index + 3]
    return f"#{r:02x}{g:02x}{b:02x}"


def placeholder(sample: Image.Image) -> str:
    """A blurred WebP of the sample, as a ``data:`` URI (base64) that fits
    ``MAX_PLACEHOLDER_BYTES``."""
    rgb = sample.convert("RGB")
    for side in PLACEHOLDER_SIDES:
        small = rgb.copy()
        small.thumbnail((side, side), Image.Resampling.LANCZOS)
        small = small.filter(ImageFilter.GaussianBlur(PLACEHOLDER_BLUR))
        out = io.BytesIO()
        small.save(out, formats.WEBP.pillow[0], quality=PLACEHOLDER_QUALITY, method=6)
        encoded = base64.b64encode(out.getvalue()).decode("ascii")
        uri = f"data:{formats.WEBP.media_type};base64,{encoded}"
        if len(uri) <= MAX_PLACEHOLDER_BYTES:
            return uri
    raise AssertionError("an 8-pixel WebP always fits")  # pragma: no cover
