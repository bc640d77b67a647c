"""SSIM (Wang, Bovik, Sheikh, Simoncelli 2004) with numpy, which only the benchmark uses.

The usual constants: an 11x11 Gaussian window of sigma 1.5, K1 = 0.01, K2 = 0.03, L = 255,
averaged over every window position that fits inside the image, then over the channels.
Channels are R, G and B; an image with alpha adds A as a fourth channel and has its colour
flattened on white first, so invisible colour under transparent pixels does not count.
"""

from __future__ import annotations

from typing import Any

import numpy as np  # type: ignore[import-not-found, unused-ignore]
from PIL import Image

WINDOW = 11
SIGMA = 1.5
C1 = (0.01 * 255) ** 2
C2 = (0.03 * 255) ** 2


def _gaussian() -> Any:
    x = np.arange(WINDOW) - WINDOW // 2
    kernel = np.exp(-(x * x) / (2 * SIGMA * SIGMA))
    return kernel / kernel.sum()


_KERNEL = _gaussian()


def _blur(plane: Any) -> Any:
    """The separable Gaussian over every window that fits ("valid" positions only)."""
    windows = np.lib.stride_tricks.sliding_window_view
    rows = windows(plane, WINDOW, axis=0) @ _KERNEL
    return windows(rows, WINDOW, axis=1) @ _KERNEL


def _ssim_plane(x: Any, y: Any) -> float:
    mx, my = _blur(x), _blur(y)
    vx = _blur(x * x) - mx * mx
    vy = _blur(y * y) - my * my
    cov = _blur(x * y) - mx * my
    num = (2 * mx * my + C1) * (2 * cov + C2)
    den = (mx * mx + my * my + C1) * (vx + vy + C2)
    return float((num / den).mean())


def planes(image: Image.Image, alpha: bool) -> list[Any]:
    """The channels SSIM compares, as float arrays."""
    rgba = image.convert("RGBA")
    if not alpha:
        colour = np.asarray(rgba.convert("RGB"), dtype=np.float64)
        return [colour[..., i] for i in range(3)]
    white = Image.new("RGB", rgba.size, "white")
    white.paste(rgba.convert("RGB"), mask=rgba.getchannel("A"))
    colour = np.asarray(white, dtype=np.float64)
    return [colour[..., i] for i in range(3)] + [np.asarray(rgba.getchannel("A"), np.float64)]


def ssim(image: Image.Image, reference: Image.Image) -> float:
    """Mean SSIM of ``image`` against ``reference`` (same size; alpha if either has it)."""
    if image.size != reference.size:
        raise ValueError(f"sizes differ: {image.size} and {reference.size}")
    if min(image.size) < WINDOW:
        raise ValueError(f"smaller than the {WINDOW}-pixel window")
    alpha = "A" in image.getbands() or "A" in reference.getbands()
    pairs = zip(planes(image, alpha), planes(reference, alpha), strict=True)
    scores = [_ssim_plane(x, y) for x, y in pairs]
    return sum(scores) / len(scores)
