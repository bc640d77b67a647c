"""How many derivatives an unsigned viewer can make of one original: the bound the
allow-lists put on the key space (and on what an attacker can make you render and store).

Every option multiplies it, so each allow-list is a lever: fewer sizes, qualities, blur or
sharpen sigmas, bg colours or a coarser focal point grid shrink it; a signed URL is not
bounded by it (whoever holds a signing key is trusted).
"""

from __future__ import annotations

from shared import formats
from shared.config import Config


def unsigned_variants(config: Config) -> int:
    """Distinct canonical keys an unsigned viewer can reach for one original, the original
    itself and its description (``f=json``) included."""
    sides = len(config.sizes)
    # The centre (or the stored focal point), smart, and the grid's points (compass points
    # among them).
    placements = 2 + (round(1 / config.focal_point_grid) + 1) ** 2
    # One side or none (cover only, nothing to place), or both with each fit.
    geometries = (1 + 2 * sides) + sides * sides * (placements + 2)
    turns = 8  # four rotations, each mirrored or not
    effects = (1 + len(config.blur_sigmas)) * (1 + len(config.sharpen_sigmas))
    watermarks = 1 + len(config.watermarks)
    per_format = 0
    for name in config.formats:
        output = formats.output(name)
        qualities = len(config.qualities) if output.takes_quality else 1
        colours = 1 + sum(
            1 for c in config.background_colours if output.alpha or c != "ffffff"
        )  # jpeg's white is its default: no key of its own
        per_format += qualities * colours
    # The original itself, and its description (f=json).
    return 2 + geometries * turns * effects * watermarks * per_format
