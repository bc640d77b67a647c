"""Content-aware cover cropping (``g=smart``): where in a picture the interest lies.

The idea is libvips' ``attention`` strategy. The picture is shrunk to a grid of
``GRID`` x ``GRID`` cells (whatever its shape), and each cell is scored by:

- edges: the magnitude of the Laplacian of its luminance across neighbouring cells (large
  shapes and their outlines), plus the mean gradient magnitude of the (lightly blurred)
  pixels inside it (fine texture, which the grid alone averages away);
- colour: its chroma in CIELAB (how far from grey), however bright;
- skin: how near its colour lies to the direction of skin tones in XYZ, scaled so that a
  neutral colour still scores well above a dark one.

Colour and skin count only where the cell is not dark; transparent parts are black, so
they count for nothing. The scores are blurred as wide as a tenth of the crop window's
diagonal, and the window is centred on the highest point (on the middle of the highest
points, when several tie; so a picture without interest gives the centre).

Pillow's C operations do all the per-pixel work; Python sees only the grid (about 2 ms
for a picture of 256 pixels a side on one core).
"""

from __future__ import annotations

import math
import operator
from array import array
from functools import cache
from itertools import accumulate, chain, compress

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
_SMOOTH = ImageFilter.BoxBlur(1)
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
    cells = rgb.resize((GRID, GRID), Image.Resampling.LANCZOS, reducing_gap=2.0)
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
    """The mean gradient magnitude (0..255) of the pixels inside each cell: the
    differences to the next pixel across and down, summed, after a 3x3 box blur that
    keeps grain and noise from counting as texture."""
    width, height = luma.size
    if width < 2 or height < 2:
        return [0.0] * (GRID * GRID)
    smooth = luma.filter(_SMOOTH)
    here = smooth.crop((0, 0, width - 1, height - 1))
    across = ImageChops.difference(smooth.crop((1, 0, width, height - 1)), here)
    down = ImageChops.difference(smooth.crop((0, 1, width - 1, height)), here)
    magnitude = ImageChops.add(across, down).convert("F")
    return _floats(magnitude.resize((GRID, GRID), Image.Resampling.BOX))


def _blur(values: list[float], sigma: float) -> list[float]:
    """``values`` (a GRID x GRID grid, row by row) blurred about as a Gaussian of
    ``sigma`` cells would, the border extended: three box filters each way. Scaled by a
    constant (only where the peak lies matters)."""
    # Three boxes of width w have the variance (w * w - 1) / 4.
    radius = round((math.sqrt(4 * sigma * sigma + 1) - 1) / 2)
    if radius < 1:
        return values
    columns = _transposed(_along_rows(values, radius))
    return _transposed(_along_rows(columns, radius))


def _along_rows(values: list[float], radius: int) -> list[float]:
    """Three box filters of width 2 * radius + 1 along each row of the grid, the row's
    ends extended once by as far as the three reach."""
    reach = 3 * radius
    flat: list[float] = []
    for row in _split(values):
        flat += [row[0]] * reach
        flat += row
        flat += [row[-1]] * reach
    width = 2 * radius + 1
    for _ in range(3):  # each pass: sums of ``width`` running values, ``width - 1`` fewer
        sums = list(accumulate(flat, initial=0.0))
        flat = list(map(operator.sub, sums[width:], sums))
    return list(compress(flat, _kept(radius)))


def _transposed(values: list[float]) -> list[float]:
    return list(chain.from_iterable(zip(*_split(values), strict=True)))


def _split(values: list[float]) -> list[list[float]]:
    return [values[start : start + GRID] for start in range(0, GRID * GRID, GRID)]


@cache
def _kept(radius: int) -> tuple[bool, ...]:
    """Which of ``_along_rows``' sums are a cell's: in each padded row, the first GRID
    (the rest straddle two rows)."""
    length = GRID + 6 * radius
    return tuple(i % length < GRID for i in range(GRID * length - 6 * radius))


def _peak(values: list[float]) -> tuple[float, float]:
    """The centre of the highest cell, as fractions of the grid; the middle of those
    that tie for the highest."""
    best = max(values)
    floor = best - _TIE * max(abs(best), 1e-9)
    tied = [i for i, value in enumerate(values) if value >= floor]
    x = sum(i % GRID for i in tied) / len(tied)
    y = sum(i // GRID for i in tied) / len(tied)
    return (x + 0.5) / GRID, (y + 0.5) / GRID
