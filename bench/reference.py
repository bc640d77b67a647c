"""The full-quality reference each output is compared with: the source decoded in full (no
DCT scaling), turned upright, converted to sRGB with its ICC profile, then resized in one
LANCZOS step (no reducing gap) from full resolution, with the geometry imgedge plans."""

from __future__ import annotations

import io
from pathlib import Path

from PIL import Image, ImageCms, ImageOps

from bench.cases import Case
from regional_resizer.plan import plan

_SRGB = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB"))


def reference(case: Case, corpus: Path) -> Image.Image:
    with Image.open(corpus / case.source) as opened:
        profile = opened.info.get("icc_profile")
        image = ImageOps.exif_transpose(opened)
    if image.mode not in ("RGB", "RGBA"):
        image = image.convert("RGBA" if image.has_transparency_data else "RGB")
    if profile:
        converted = ImageCms.profileToProfile(
            image, io.BytesIO(profile), _SRGB, outputMode=image.mode
        )
        assert converted is not None
        image = converted
    geometry = plan(*image.size, case.request())
    return image.resize(
        geometry.size, Image.Resampling.LANCZOS, box=geometry.box, reducing_gap=None
    )
