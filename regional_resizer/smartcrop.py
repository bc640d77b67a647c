"""Content-aware cover cropping (``g=smart``): where in a picture the interest lies.

The idea is libvips' ``attention`` strategy. The picture is shrunk to a grid of
``GRID`` x ``GRID`` cells (whatever its shape), and each cell is scored by:

- edges: the magnitude of the Laplacian of its luminance across neighbouring cells (large
  shapes and their outlines), plus the mean gradient magnitude of the pixels inside it
  (fine texture, which the grid alone averages away);
- colour: its chroma in CIELAB (how far from grey), however bright;
- skin: how near its colour lies to the direction of skin tones in XYZ, scaled so that a
  neutral colour still scores well above a dark one.

Colour and skin count only where the cell is not dark; transparent parts are black, so
they count for nothing. The scores are blurred as wide as a tenth of the crop window's
diagonal, and the window is centred on the highest point (on the middle of the highest
points, when several tie; so a picture without interest gives the centre).

Pillow's C operations do all the per-pixel work; Python sees only the grid.
"""

from __future__ import annotations

import math
from array import array
from itertools import accumulate

from PIL import Image, ImageChops, ImageFilter, ImageMath

GRID = 32  # cells a side: the precision with which the window is placed

EDGE_WEIGHT = 5.0  # per unit of |Laplacian| of Y (0..100) between cells
TEXTURE_WEIGHT = 2.0  # per unit of mean gradient magnitude (0..255) inside a cell
CHROMA_WEIGHT = 1.0  # per unit of CIELAB chroma
SKIN_WEIGHT = 100.0  # at the skin direction; 100 - 100 * distance from it
DARK = 5.0  # Y (0..100) at or below which colour and skin count for nothing
BLUR = 10.0  # the blur's sigma is the window's diagonal (in cells) over this

_SKIN = (0.78, 0.57, 0.44)  # the direction of skin tones in XYZ (unit length)
# Linear sRGB to CIE XYZ (D65), scaled so that white has Y = 1.
_XYZ = (
    (0.4124, 0.3576, 0.1805),
    (0.2126, 0.7152, 0.0722),
    (0.0193, 0.1192, 0.9505),
)
_WHITE = (0.9505, 1.0, 1.089)  # D65's XYZ
# A Sobel pair, offset so that the signed response fits a byte (128: no gradient); the
# table turns a response into its magnitude.
_SOBEL_X = ImageFilter.Kernel((3, 3), (-1, 0, 1, -2, 0, 2, -1, 0, 1), scale=8, offset=128)
_SOBEL_Y = ImageFilter.Kernel((3, 3), (-1, -2, -1, 0, 0, 0, 1, 2, 1), scale=8, offset=128)
_MAGNITUDE = tuple(abs(level - 128) * 2 for level in range(256))
_TIE = 1e-6  # scores within this fraction of the best tie with it


def focus(image: Image.Image, aspect: float) -> tuple[float, float]:
    """Where to centre the largest window of width/height ``aspect`` that fits in
    ``image``, as fractions (x, y) of its width and height, each within 0..1.

    ``image`` is small (a long side of a few hundred pixels at most), upright, in mode
    L, LA, RGB, RGBA or CMYK; alpha makes its transparent parts uninteresting. A picture
    without interest gives the centre."""
    width, height = image.size
    if width < 1 or height < 1 or not aspect > 0:
        return 0.5, 0.5
    rgb = _premultiplied(image)
    scores = interest(rgb)
    # The window in cells: it spans the grid along one axis.
    window_width = min(1.0, aspect * height / width) * GRID
    window_height = min(1.0, width / aspect / height) * GRID
    sigma = max(1.0, math.hypot(window_width, window_height) / BLUR)
    return _peak(_blur(scores, sigma))


def _premultiplied(image: Image.Image) -> Image.Image:
    """The picture in RGB, its transparent parts black."""
    rgb = image.convert("RGB")
    if image.mode in ("LA", "RGBA", "PA"):
        alpha = image.getchannel("A")
        rgb = ImageChops.multiply(rgb, Image.merge("RGB", (alpha, alpha, alpha)))
    return rgb


def interest(rgb: Image.Image) -> list[float]:
    """The interest of each cell of the ``GRID`` x ``GRID`` grid over ``rgb``, row by row."""
    cells = rgb.resize((GRID, GRID), Image.Resampling.LANCZOS)
    r, g, b = (_linear(band) for band in cells.split())
    x, y, z = (_mix(row, r, g, b) for row in _XYZ)
    colour = ImageMath.lambda_eval(lambda v: _colour_score(v["x"], v["y"], v["z"]), x=x, y=y, z=z)
    assert isinstance(colour, Image.Image)
    luminance = _floats(y)
    edges = _laplacian([100.0 * v for v in luminance])
    texture = _texture(rgb.convert("L"))
    return [
        EDGE_WEIGHT * edge + TEXTURE_WEIGHT * fine + other
        for edge, fine, other in zip(edges, texture, _floats(colour), strict=True)
    ]


def _linear(band: Image.Image) -> Image.Image:
    """An sRGB band (0..255) as linear light (0..1), in mode F."""
    result = ImageMath.lambda_eval(
        lambda v: ((v["c"] / 255.0 + 0.055) / 1.055) ** 2.4, c=band.convert("F")
    )
    assert isinstance(result, Image.Image)
    return result


def _mix(row: tuple[float, float, float], *bands: Image.Image) -> Image.Image:
    result = ImageMath.lambda_eval(
        lambda v: v["r"] * row[0] + v["g"] * row[1] + v["b"] * row[2],
        r=bands[0],
        g=bands[1],
        b=bands[2],
    )
    assert isinstance(result, Image.Image)
    return result


def _colour_score(x: ImageMath._Operand, y: ImageMath._Operand, z: ImageMath._Operand) -> object:
    """Chroma plus skin of each cell, nothing where it is dark (ImageMath operands)."""
    # CIELAB's chroma; the cube root is exact above the darkness the mask drops.
    fx, fy, fz = ((v / white) ** (1 / 3) for v, white in zip((x, y, z), _WHITE, strict=True))
    a, b = 500.0 * (fx - fy), 200.0 * (fy - fz)
    chroma = (a * a + b * b) ** 0.5
    length = (x * x + y * y + z * z) ** 0.5 + 1e-12
    distance = (
        (x / length - _SKIN[0]) ** 2 + (y / length - _SKIN[1]) ** 2 + (z / length - _SKIN[2]) ** 2
    ) ** 0.5
    skin = SKIN_WEIGHT * (1.0 - distance)
    lit = y * 100.0 > DARK
    return (CHROMA_WEIGHT * chroma + skin) * lit


def _floats(image: Image.Image) -> array[float]:
    values = array("f")
    values.frombytes(image.tobytes())
    return values


def _laplacian(values: list[float]) -> list[float]:
    """|4 v - its four neighbours| of each cell of the grid, the border extended."""
    n = GRID
    out: list[float] = []
    for row in range(n):
        here = values[row * n : (row + 1) * n]
        above = values[max(row - 1, 0) * n : max(row - 1, 0) * n + n]
        below = values[min(row + 1, n - 1) * n : min(row + 1, n - 1) * n + n]
        left = [here[0], *here[:-1]]
        right = [*here[1:], here[-1]]
        out.extend(
            abs(4 * c - u - d - le - ri)
            for c, u, d, le, ri in zip(here, above, below, left, right, strict=True)
        )
    return out


def _texture(luma: Image.Image) -> array[float] | list[float]:
    """The mean gradient magnitude (0..255) of the pixels inside each cell."""
    width, height = luma.size
    if width < 3 or height < 3:
        return [0.0] * (GRID * GRID)
    magnitude = ImageChops.add(
        luma.filter(_SOBEL_X).point(_MAGNITUDE), luma.filter(_SOBEL_Y).point(_MAGNITUDE)
    )
    # Pillow leaves a filter's border pixels as they were: only the inside is a gradient.
    inside = (1, 1, width - 1, height - 1)
    cells = magnitude.convert("F").resize((GRID, GRID), Image.Resampling.BOX, box=inside)
    return _floats(cells)


def _blur(values: list[float], sigma: float) -> list[float]:
    """``values`` (a GRID x GRID grid) blurred about as a Gaussian of ``sigma`` cells
    would: three box filters each way, the border extended."""
    # Three boxes of width w have the variance (w * w - 1) / 4.
    radius = max(0, round((math.sqrt(4 * sigma * sigma + 1) - 1) / 2))
    n = GRID
    rows = [values[i * n : (i + 1) * n] for i in range(n)]
    for _ in range(3):
        rows = [_box(row, radius) for row in rows]
    columns = [list(column) for column in zip(*rows, strict=True)]
    for _ in range(3):
        columns = [_box(column, radius) for column in columns]
    return [value for row in zip(*columns, strict=True) for value in row]


def _box(line: list[float], radius: int) -> list[float]:
    """The mean of each value's 2 * radius + 1 neighbours along ``line``, ends extended."""
    if radius == 0:
        return line
    padded = [line[0]] * (radius + 1) + line + [line[-1]] * radius
    sums = list(accumulate(padded))
    width = 2 * radius + 1
    return [(sums[i + width] - sums[i]) / width for i in range(len(line))]


def _peak(values: list[float]) -> tuple[float, float]:
    """The centre of the highest cell, as fractions of the grid; the middle of those
    that tie for the highest."""
    best = max(values)
    floor = best - _TIE * max(abs(best), 1e-9)
    tied = [i for i, value in enumerate(values) if value >= floor]
    x = sum(i % GRID for i in tied) / len(tied)
    y = sum(i // GRID for i in tied) / len(tied)
    return (x + 0.5) / GRID, (y + 0.5) / GRID
