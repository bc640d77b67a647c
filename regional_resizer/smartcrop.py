"""Content-aware cover cropping (``g=smart``): where in a picture the interest lies.

The idea is libvips' ``attention`` strategy: a picture is interesting where it has edges,
saturated colour and skin tones, and dull where it is flat, grey, dark or transparent.
``focus`` scores a coarse grid of the picture by those three, and slides the crop window
along the one axis it can move on to the place holding the most interest.

Only Pillow's C operations touch every pixel of the (small) picture; the per-cell colour
arithmetic runs over a grid of at most ``GRID`` cells a side.
"""

from __future__ import annotations

import math

from PIL import Image, ImageChops, ImageFilter

GRID = 32  # cells along the picture's long side

# sRGB (gamma-encoded, 0..255) to linear light, 0..1.
_LINEAR = tuple(
    v / 12.92 if v <= 0.04045 else ((v + 0.055) / 1.055) ** 2.4
    for v in (i / 255 for i in range(256))
)
# Linear sRGB to CIE XYZ (D65), Y of white = 1.
_XYZ = (
    (0.4124, 0.3576, 0.1805),
    (0.2126, 0.7152, 0.0722),
    (0.0193, 0.1192, 0.9505),
)
_SKIN = (0.78, 0.57, 0.44)  # the direction of skin tones in XYZ (unit length)
_DARK = 0.05  # below this luminance (Y) neither colour nor skin counts
# A Sobel pair, offset so that the signed response fits a byte (128 = no gradient).
_SOBEL_X = ImageFilter.Kernel((3, 3), (-1, 0, 1, -2, 0, 2, -1, 0, 1), scale=8, offset=128)
_SOBEL_Y = ImageFilter.Kernel((3, 3), (-1, -2, -1, 0, 0, 0, 1, 2, 1), scale=8, offset=128)
_MAGNITUDE = tuple(abs(v - 128) * 2 for v in range(256))

# How much each measure weighs in a cell's interest.
EDGE_WEIGHT = 1.0
COLOUR_WEIGHT = 1.0
SKIN_WEIGHT = 1.0


def focus(image: Image.Image, aspect: float) -> tuple[float, float]:
    """Where to centre the largest window of width/height ``aspect`` that fits in
    ``image``, as fractions (x, y) of its width and height.

    The window spans the whole picture along one axis; along the other it goes where
    the most interest lies. A picture without interest, or one the window fills, gives
    the centre along that axis."""
    width, height = image.size
    if width < 1 or height < 1 or not aspect > 0:
        return 0.5, 0.5
    rgb, alpha = _split(image)
    scores, columns, rows = interest(rgb, alpha)
    if aspect * height < width:  # the window is narrower than the picture: choose x
        fraction = aspect * height / width
        return _place(_sums_of_columns(scores, columns, rows), fraction), 0.5
    if aspect * height > width:  # the window is shorter: choose y
        fraction = width / aspect / height
        return 0.5, _place(_sums_of_rows(scores, columns, rows), fraction)
    return 0.5, 0.5


def _split(image: Image.Image) -> tuple[Image.Image, Image.Image | None]:
    """The picture in RGB with transparent parts black (premultiplied), and its alpha."""
    alpha = image.getchannel("A") if image.mode in ("LA", "RGBA", "PA") else None
    rgb = image.convert("RGB")
    if alpha is not None:
        rgb = ImageChops.multiply(rgb, Image.merge("RGB", (alpha, alpha, alpha)))
    return rgb, alpha


def interest(rgb: Image.Image, alpha: Image.Image | None) -> tuple[list[float], int, int]:
    """Each grid cell's interest (row by row), and the grid's columns and rows."""
    width, height = rgb.size
    scale = GRID / max(width, height)
    columns = max(1, min(width, round(width * scale)))
    rows = max(1, min(height, round(height * scale)))
    grid = (columns, rows)
    edges = _edges(rgb.convert("L")).resize(grid, Image.Resampling.BOX)
    cells = rgb.resize(grid, Image.Resampling.BOX)
    opacity = (
        [1.0] * (columns * rows)
        if alpha is None
        else [a / 255 for a in alpha.resize(grid, Image.Resampling.BOX).tobytes()]
    )
    colours = cells.tobytes()
    scores = []
    for i, (edge, seen) in enumerate(zip(edges.tobytes(), opacity, strict=True)):
        r, g, b = colours[3 * i : 3 * i + 3]
        score = EDGE_WEIGHT * edge / 255
        score += _colour(_LINEAR[r], _LINEAR[g], _LINEAR[b])
        scores.append(score * seen)
    return scores, columns, rows


def _edges(luma: Image.Image) -> Image.Image:
    """Gradient magnitude of ``luma`` (a Sobel pair, summed), 0..255."""
    if min(luma.size) < 3:
        return Image.new("L", luma.size)
    gx = luma.filter(_SOBEL_X).point(_MAGNITUDE)
    gy = luma.filter(_SOBEL_Y).point(_MAGNITUDE)
    return ImageChops.add(gx, gy)


def _colour(r: float, g: float, b: float) -> float:
    """The interest of one cell's colour (linear RGB): its saturation and how near it is
    to skin; nothing for dark cells."""
    x = _XYZ[0][0] * r + _XYZ[0][1] * g + _XYZ[0][2] * b
    y = _XYZ[1][0] * r + _XYZ[1][1] * g + _XYZ[1][2] * b
    z = _XYZ[2][0] * r + _XYZ[2][1] * g + _XYZ[2][2] * b
    if y < _DARK:
        return 0.0
    top = max(r, g, b)
    saturation = (top - min(r, g, b)) / top
    length = math.sqrt(x * x + y * y + z * z)
    distance = math.dist((x / length, y / length, z / length), _SKIN)
    skin = max(0.0, 1.0 - distance / 0.2)  # within ~11 degrees of the skin direction
    return COLOUR_WEIGHT * saturation + SKIN_WEIGHT * skin


def _sums_of_columns(scores: list[float], columns: int, rows: int) -> list[float]:
    return [sum(scores[c::columns]) for c in range(columns)]


def _sums_of_rows(scores: list[float], columns: int, rows: int) -> list[float]:
    return [sum(scores[r * columns : (r + 1) * columns]) for r in range(rows)]


def _place(sums: list[float], fraction: float) -> float:
    """The centre, as a fraction of the axis, of the window ``fraction`` of the axis long
    that holds the most of ``sums`` (cell by cell along the axis). Ties go to the
    middle of the tied positions, so no interest at all gives the centre."""
    cells = len(sums)
    span = fraction * cells  # the window's length in cells, not a whole number
    if span >= cells or cells < 2:
        return 0.5
    prefix = [0.0]
    for value in sums:
        prefix.append(prefix[-1] + value)

    def covered(start: float) -> float:  # interest in [start, start + span), cells split
        return _integral(prefix, start + span) - _integral(prefix, start)

    steps = 4 * cells  # positions tried: a quarter cell apart
    room = cells - span
    held = [covered(room * i / steps) for i in range(steps + 1)]
    best = max(held)
    tolerance = 1e-9 * max(1.0, abs(best))
    tied = [i for i, value in enumerate(held) if value >= best - tolerance]
    middle = (tied[0] + tied[-1]) / 2
    return (room * middle / steps + span / 2) / cells


def _integral(prefix: list[float], at: float) -> float:
    """The sum of the cells before position ``at`` (fractional cells count in part)."""
    whole = int(at)
    if whole >= len(prefix) - 1:
        return prefix[-1]
    return prefix[whole] + (at - whole) * (prefix[whole + 1] - prefix[whole])
