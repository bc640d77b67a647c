"""Colour: convert from an embedded ICC profile to sRGB, the only space imgedge writes.

CMYK without a profile is converted naively; a profile that is broken or does not match
the pixels is ignored; an sRGB profile (phones and cameras embed one) is not applied at
all, since converting would only cost time.
"""

from __future__ import annotations

import io
from functools import cache, lru_cache
from typing import TYPE_CHECKING

from PIL import Image, ImageChops

if TYPE_CHECKING:  # LittleCMS is loaded by the first original with a profile, not at init
    from PIL import ImageCms

# (ICC colour space, image mode) -> the mode LittleCMS writes in sRGB.
_SRGB_MODE = {
    ("RGB ", "RGB"): "RGB",
    ("RGB ", "RGBA"): "RGBA",
    ("GRAY", "L"): "RGB",
    ("CMYK", "CMYK"): "RGB",
}


def to_srgb(image: Image.Image, profile: bytes | None) -> Image.Image:
    """Convert from the embedded ICC profile to sRGB; CMYK without one, naively. A profile
    that is broken or does not match the pixels is ignored."""
    if image.mode == "LA" and profile:  # LittleCMS misreads Pillow's LA layout: split
        gray = to_srgb(image.getchannel("L"), profile)
        gray.putalpha(image.getchannel("A"))
        return gray
    transform = _srgb_transform(profile, image.mode) if profile else None
    if transform is None:
        return image.convert("RGB") if image.mode == "CMYK" else image
    converted = transform.apply(image)
    if image.mode == "L":  # LittleCMS writes gray in sRGB as R = G = B
        converted = converted.convert("L")
    return converted


@cache
def _srgb() -> ImageCms.ImageCmsProfile:
    from PIL import ImageCms

    return ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB"))


@lru_cache(maxsize=32)
def _srgb_transform(profile: bytes, mode: str) -> ImageCms.ImageCmsTransform | None:
    """The transform to sRGB; None for a profile that is broken, does not match the mode,
    or is sRGB already (cameras and phones embed one: converting would only cost time)."""
    from PIL import ImageCms

    try:
        source = ImageCms.ImageCmsProfile(io.BytesIO(profile))
        out_mode = _SRGB_MODE.get((source.profile.xcolor_space, mode))
        if out_mode is None:
            return None
        transform = ImageCms.buildTransform(source, _srgb(), mode, out_mode)
    except (ImageCms.PyCMSError, OSError, ValueError, TypeError):
        return None
    return None if _is_identity(transform, mode) else transform


def _is_identity(transform: ImageCms.ImageCmsTransform, mode: str) -> bool:
    """Whether ``transform`` moves no colour of a 17-level grid (every gray level for L)
    by more than one level: the profile is sRGB, give or take rounding."""
    if mode not in ("RGB", "RGBA", "L"):
        return False
    probe = _identity_probe(mode)
    converted = transform.apply(probe).convert("RGB")
    difference = ImageChops.difference(converted, probe.convert("RGB"))
    return difference.point(lambda level: 255 if level > 1 else 0).getbbox() is None


@lru_cache(maxsize=3)
def _identity_probe(mode: str) -> Image.Image:
    if mode == "L":
        return Image.frombytes("L", (256, 1), bytes(range(256)))
    levels = [round(i * 255 / 16) for i in range(17)]
    probe = Image.new("RGB", (17**3, 1))
    probe.putdata([(r, g, b) for r in levels for g in levels for b in levels])
    return probe.convert(mode)
