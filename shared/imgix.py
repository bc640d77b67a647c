"""imgix's URL parameters, read as imgedge's: a team leaving imgix changes only the host.

A query that names any parameter only imgix has (``w``, ``h``, ``fm``, ``auto``, ``fp-x``,
``sharp``, ``rot``, ``rect``, ...; ``IMGIX_ONLY``) is read in imgix's dialect and
translated to imgedge's parameters, so it reaches the same canonical key as imgedge's own
spelling (``?w=256&h=256&fit=crop&fm=webp`` is ``?s=256x256&f=webp``). What imgedge cannot
honour is a 400 naming the parameter, never silently ignored; a query that mixes the two
dialects is refused. docs/switching.md has the mapping table. The meanings follow imgix's
Rendering API reference (https://docs.imgix.com/apis/rendering).
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from shared.errors import InvalidRequest

SUPPORTED = (
    "w", "h", "fit", "fm", "q", "auto", "dpr", "crop", "fp-x", "fp-y", "blur", "sharp",
    "bg", "rot", "flip", "rect", "fill", "fill-color",
)  # fmt: skip
"""imgix parameters imgedge translates (some only for some of their values)."""

UNSUPPORTED = (
    # adjustment, stylize, noise, trim, text, watermark, blending, border and padding,
    # masks, face detection, palette and metadata, animation, format details, sizing
    "bri", "con", "exp", "gam", "high", "hue", "invert", "sat", "shad", "usm", "usmrad",
    "vib", "blend", "blend-mode", "blend-align", "blend-alpha", "blend-color", "blend-crop",
    "blend-fit", "blend-h", "blend-w", "blend-x", "blend-y", "blend-pad", "blend-size",
    "ba", "balph", "bc", "bf", "bh", "bm", "bp", "bs", "bw", "bx", "by",
    "mark", "mark-align", "mark-alpha", "mark-base", "mark-fit", "mark-h", "mark-pad",
    "mark-rot", "mark-scale", "mark-tile", "mark-w", "mark-x", "mark-y", "markalign",
    "markalpha", "markbase", "markfit", "markh", "markpad", "markscale", "markw", "markx",
    "marky", "txt", "txt-align", "txt-clip", "txt-color", "txt-fit", "txt-font",
    "txt-lead", "txt-line", "txt-line-color", "txt-pad", "txt-shad", "txt-size",
    "txt-track", "txt-width", "txt-x", "txt-y", "txtalign", "txtclip", "txtclr", "txtfit",
    "txtfont", "txtlead", "txtline", "txtlineclr", "txtpad", "txtshad", "txtsize",
    "txttrack", "txtwidth", "border", "border-bottom", "border-left", "border-radius",
    "border-radius-inner", "border-right", "border-top", "pad", "pad-bottom", "pad-left",
    "pad-right", "pad-top", "mask", "mask-bg", "corner-radius", "faceindex", "facepad",
    "faces", "fp-z", "fp-debug", "ar", "min-h", "min-w", "max-h", "max-w", "ch",
    "chromasub", "colorquant", "cs", "dl", "dpi", "lossless", "fill-gen-fallback",
    "fill-gen-pos", "fill-gen-prompt", "fill-gen-seed", "trim", "trim-color", "trim-md",
    "trim-pad", "trim-sd", "trim-tol", "htn", "mono", "monochrome", "sepia", "px", "nr",
    "nrs", "duotone", "duotone-alpha", "palette", "prefix", "colors", "frame", "reverse",
    "loop", "fps", "skip", "interval", "page", "orient", "or", "expires",
    "bg-remove", "bg-replace", "upscale", "enhance", "rt", "fm-fallback",
)  # fmt: skip
"""imgix parameters imgedge has no equivalent for: a 400 that names them."""

GENERIC = frozenset((
    "page", "frame", "loop", "reverse", "skip", "interval", "expires", "or", "orient",
    "prefix", "colors", "rt", "dl", "cs", "ch", "fps", "enhance", "upscale", "faces", "fill",
    "mask", "border", "pad", "trim", "palette", "mono", "blend", "mark", "txt",
))  # fmt: skip
"""imgix names common enough elsewhere (a site's own ``?page=2``) that they alone do not
make a query imgix's; in one that is, they are refused like the rest."""
IGNORED = ("ixlib",)
"""imgix names that do not change the image (its client libraries' version tag)."""
IMGIX_ONLY = frozenset(
    {"w", "h", "fm", "auto", "fp-x", "fp-y", "sharp", "rot", "rect", "fill-color", *IGNORED}
    | (set(UNSUPPORTED) - GENERIC)
)
"""Names that only imgix gives a meaning: any of them makes a query imgix's."""
IMGEDGE_ONLY = frozenset(("s", "f", "g", "fp", "sharpen", "r", "p", "wm"))
"""imgedge's names that imgix does not share (imgix's ``s`` is its signature)."""

_FITS = {"crop": "cover", "clip": "inside", "max": "inside", "fill": "contain",
         "fillmax": "contain"}  # fmt: skip
_FORMATS = {"jpg": "jpeg", "jpeg": "jpeg", "png": "png", "webp": "webp", "avif": "avif"}
_CROP_SIDES = {"top": "n", "bottom": "s", "left": "w", "right": "e"}
AUTO_COMPRESS_QUALITY = "45"  # imgix's quality for auto=compress when q is not given
_WHOLE = re.compile(r"[1-9][0-9]{0,4}")
_NUMBER = re.compile(r"[0-9]{1,4}(?:\.[0-9]{1,2})?")
_HEX = re.compile(r"[0-9a-f]{3,8}")


def is_imgix(names: set[str]) -> bool:
    """Whether a query naming ``names`` is in imgix's dialect (refused if it mixes)."""
    theirs = sorted(names & IMGIX_ONLY)
    if not theirs:
        return False
    ours = sorted(names & IMGEDGE_ONLY)
    if ours:
        raise InvalidRequest(
            f"mixes imgix parameters ({', '.join(theirs)}) with imgedge's ({', '.join(ours)});"
            " imgix's s= signature is not read: sign with sig="
        )
    return True


def translate(given: Mapping[str, str]) -> dict[str, str]:
    """imgedge's parameters for imgix's ``given`` (lower-cased names and values)."""
    unsupported = sorted(set(given) & set(UNSUPPORTED))
    if unsupported:
        raise InvalidRequest(f"imgix parameter not supported here: {', '.join(unsupported)}")
    out: dict[str, str] = {}
    width, height = _side(given, "w"), _side(given, "h")
    if width or height:
        out["s"] = f"{width}x{height}"
    fit = given.get("fit", "clip")
    if fit not in _FITS:
        raise InvalidRequest(f"imgix fit={fit} is not supported (crop, clip, max, fill, fillmax)")
    if width and height:  # fit applies to both sides only, as imgedge's does
        out["fit"] = _FITS[fit]
    out |= _format(given)
    out |= _crop(given) if fit == "crop" else {}
    for name, value in given.items():
        if name in ("q", "dpr", "flip"):
            out[name] = value
    if "rot" in given:
        if given["rot"] not in ("0", "90", "180", "270"):
            raise InvalidRequest("imgix rot is supported for 0, 90, 180 and 270 only")
        out["r"] = given["rot"]
    if "blur" in given:  # imgix 0..2000; imgedge's sigma is a tenth of it
        out["blur"] = _decimal(_amount(given, "blur", 2000) / 10)
    if "sharp" in given:  # imgix 0..100; imgedge's unsharp sigma is a fiftieth of it
        out["sharpen"] = _decimal(_amount(given, "sharp", 100) / 50)
    colour = given.get("fill-color") if fit in ("fill", "fillmax") else None
    if given.get("fill", "solid") != "solid":
        raise InvalidRequest("imgix fill is supported as solid only")
    if colour or "bg" in given:
        out["bg"] = _colour(colour or given["bg"])
    if "rect" in given:
        out["crop"] = given["rect"]
    return out


def _side(given: Mapping[str, str], name: str) -> str:
    value = given.get(name)
    if value is None:
        return ""
    if not _WHOLE.fullmatch(value):
        raise InvalidRequest(f"imgix {name} is supported in whole pixels only")
    return value


def _format(given: Mapping[str, str]) -> dict[str, str]:
    automatic = [a for a in given.get("auto", "").split(",") if a]
    for choice in automatic:
        if choice not in ("format", "compress"):
            raise InvalidRequest(f"imgix auto={choice} is not supported (format, compress)")
    out: dict[str, str] = {}
    if "fm" in given:
        if given["fm"] not in _FORMATS:
            raise InvalidRequest(f"imgix fm={given['fm']} is not an output imgedge writes")
        out["f"] = _FORMATS[given["fm"]]
    elif "format" in automatic:
        out["f"] = "auto"
    if "compress" in automatic and "q" not in given:
        out["q"] = AUTO_COMPRESS_QUALITY
    return out


def _crop(given: Mapping[str, str]) -> dict[str, str]:
    modes = set(filter(None, given.get("crop", "").split(",")))
    if not modes:
        return {}
    if modes == {"focalpoint"}:
        x, y = given.get("fp-x", "0.5"), given.get("fp-y", "0.5")
        return {"fp": f"{x},{y}"}
    if modes <= {"entropy", "edges"}:
        return {"g": "smart"}
    if modes <= set(_CROP_SIDES) | {"center"}:
        vertical = "".join(_CROP_SIDES[m] for m in ("top", "bottom") if m in modes)
        horizontal = "".join(_CROP_SIDES[m] for m in ("left", "right") if m in modes)
        if len(vertical) > 1 or len(horizontal) > 1:
            raise InvalidRequest("imgix crop names opposite sides")
        return {"g": (vertical + horizontal) or "center"}
    raise InvalidRequest(f"imgix crop={given['crop']} is not supported")


def _amount(given: Mapping[str, str], name: str, top: int) -> float:
    value = given[name]
    if not _NUMBER.fullmatch(value) or float(value) > top:
        raise InvalidRequest(f"imgix {name} must be a number in 0..{top}")
    return float(value)


def _decimal(value: float) -> str:
    return f"{value:.2f}".rstrip("0").rstrip(".") or "0"


def _colour(value: str) -> str:
    """imgix's RGB, ARGB, RRGGBB or AARRGGBB as imgedge's opaque RRGGBB."""
    if not _HEX.fullmatch(value) or len(value) not in (3, 4, 6, 8):
        raise InvalidRequest("imgix bg must be 3, 4, 6 or 8 hex digits")
    if len(value) in (3, 4):
        value = "".join(c * 2 for c in value)
    if len(value) == 8:
        alpha, value = value[:2], value[2:]
        if alpha != "ff":
            raise InvalidRequest("imgix bg with transparency is not supported (opaque only)")
    return value
