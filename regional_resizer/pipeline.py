"""Render one derivative from the bytes of an original: a short recipe of small steps.

    decode: open (header only, limits) -> shrink on load (JPEG DCT scaling, ``resampling``)
            -> load frame 0 -> working mode
    resize: orient -> resize (the planned box) -> sRGB -> blur -> sharpen
            -> pad / flatten on bg -> turn (r, mirror) -> watermark -> output mode
            (each kept frame alike; ``effects`` and ``watermark`` have the steps after sRGB)
    encode: one image, or the frames of an animation (``animation`` has the policy)

Each of the three runs inside ``phase(name)``, a context manager the caller may pass to
time or trace it (``NO_PHASES`` does nothing); later frames of an animation are decoded in
"resize", one at a time, so that only one source frame is in memory. ``check_deadline()``
is called between the phases and before each later frame of an animation: the caller's
way to stop a render that would outlast its time budget (it raises ``DeadlineExceeded``;
``NO_DEADLINE`` never does). A step that has started runs to its end: decoding frame 0,
one frame's resize, and encoding are each one step.

Geometry is planned once, on the oriented source size (``plan``), with the crop's region,
and the focal point a cover crop centres on when the request names no place: for
``g=smart`` the one ``smartcrop.focus`` finds on a small copy of frame 0's region
(``SMART_SIDE``), else the one stored with the original (``render``'s ``focal_point``).
Later frames of an animation get the same geometry. The order is chosen for
speed without losing correctness: modes that cannot be resampled (P, 1, 16-bit) are
converted before the resize, everything per-pixel that can wait (ICC conversion, padding,
flattening) runs on the small, resized image. Resampling in the source's own encoding and
then converting to sRGB differs from the reverse order by under one level on average, and
is much faster on large sources that JPEG DCT scaling cannot shrink (AVIF, HEIF, PNG);
docs/engine.md has the measurements. sRGB profiles, which
phones and cameras embed, are not applied at all.

Multi-page TIFF and MPO give page/frame 0, HEIF its primary image. Every frame counts
against ``max_frames`` and ``max_total_pixels``: the limits are checked on the header,
before anything is decoded.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
from functools import partial
from typing import NamedTuple

from PIL import Image, ImageMath

from regional_resizer import animation, codecs, colour, effects, resampling, watermark
from regional_resizer.plan import Box, Plan, Size, framed, oriented, plan, region, scaled_origin
from shared import formats, transforms
from shared.config import Config
from shared.contract import METADATA, ImageRequest, Point
from shared.errors import CorruptImage

Phase = Callable[[str], AbstractContextManager[object]]
"""Called as ``with phase("decode"):``, ``phase("resize")`` and ``phase("encode")``."""


def _no_phases(name: str) -> AbstractContextManager[object]:
    return nullcontext()


NO_PHASES: Phase = _no_phases

DeadlineCheck = Callable[[], None]
"""Called between phases and between frames; raises to stop the render there."""


def _no_deadline() -> None:
    return None


NO_DEADLINE: DeadlineCheck = _no_deadline

_TRANSPOSE = {
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_270,
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_90,
}
# Modes that resample as they are, and what the others become (plus alpha if they have it).
_WORKING_MODES = frozenset(("L", "LA", "RGB", "RGBA", "CMYK"))
_BASE_MODE = {"1": "L", "L": "L", "P": "RGB", "PA": "RGB", "La": "L", "RGB": "RGB"}
_BASE_MODE |= {"RGBa": "RGB", "RGBX": "RGB", "YCbCr": "RGB"}
_WIDE_MODES = frozenset(("I", "I;16", "I;16L", "I;16B", "I;16N"))

Step = Callable[[Image.Image], Image.Image]

SMART_SIDE = 256
"""The long side of the copy of the region ``smartcrop.focus`` scores: enough for its grid,
and cheap next to the render."""


class Rendition(NamedTuple):
    """An encoded derivative and what the response (and a trace) needs to describe it."""

    body: bytes
    content_type: str
    format: str
    width: int
    height: int
    source_format: str  # Pillow's name, lower case: "jpeg", "png", "gif", "heif", ...
    source_width: int  # the source at full resolution, upright (EXIF orientation applied)
    source_height: int
    frames: int  # frames in the output: 1, or those of an animation


class Frames(NamedTuple):
    """The output's pixels before encoding: one image, or the frames of an animation
    (all of one size and mode) with their durations in ms and the number of plays."""

    images: tuple[Image.Image, ...]
    durations: tuple[int, ...]
    plays: int
    source_format: str
    source_size: Size
    source_frames: int = 1  # frames in the source, counted from its header


class _Decoded(NamedTuple):
    """Frame 0 in its working mode, and what the other steps need to know about it."""

    source: codecs.Source
    image: Image.Image
    scale: float  # how many times the decoder shrank each side (1: not at all)
    orientation: int
    profile: bytes | None
    size: Size  # the source at full resolution, upright
    origin: tuple[float, float]  # where it starts in the upright decode (``scaled_origin``)


def render(
    data: bytes,
    request: ImageRequest,
    config: Config,
    phase: Phase = NO_PHASES,
    check_deadline: DeadlineCheck = NO_DEADLINE,
    *,
    focal_point: Point | None = None,
    overlay: watermark.Overlay | None = None,
) -> Rendition:
    """Decode ``data`` within the limits of ``config``, transform and encode it as
    ``request`` asks. ``focal_point``: the one stored with the original (fractions of the
    upright original), for a cover crop that names no place; ``overlay``: the decoded
    overlay of the request's watermark, which a request with one must be given. Raises
    only ``ImgedgeError``s for bad input, and whatever ``check_deadline`` raises."""
    if request.format == METADATA:
        return describe(data, request, config, phase)
    fmt = _output_format(request)
    frames = transform(
        data, request, config, phase, check_deadline, focal_point=focal_point, overlay=overlay
    )
    check_deadline()
    quality = request.quality if request.quality is not None else config.quality_for(fmt)
    with phase("encode"):
        if len(frames.images) > 1:
            body = codecs.encode_animation(
                frames.images, frames.durations, frames.plays, fmt, quality
            )
        else:
            body = codecs.encode(frames.images[0], fmt, quality, codecs.threads(config.threads))
    width, height = frames.images[0].size
    return Rendition(
        body,
        formats.output(fmt).media_type,
        fmt,
        width,
        height,
        frames.source_format,
        *frames.source_size,
        len(frames.images),
    )


def describe(
    data: bytes, request: ImageRequest, config: Config, phase: Phase = NO_PHASES
) -> Rendition:
    """``f=json``: the original's upright size, format, whether it animates, its dominant
    colour and a placeholder, as JSON. The pixels come from the pipeline itself (a small
    opaque sRGB sample of frame 0), within the same limits as any render."""
    from regional_resizer import placeholder  # what only f=json needs is loaded by it

    sample_request = ImageRequest(
        request.source, "jpeg", placeholder.SAMPLE_SIDE, placeholder.SAMPLE_SIDE, "inside"
    )  # jpeg: flattened on white, one frame
    frames = transform(data, sample_request, config, phase)
    with phase("encode"):
        sample = frames.images[0]
        source = formats.identify(data)  # by its bytes: HEIC and HEIF are one to Pillow
        width, height = frames.source_size
        described = {
            "width": width,
            "height": height,
            "format": source.name if source else frames.source_format,
            "animated": frames.source_frames > 1 and source is not None and source.animates,
            "dominant_colour": placeholder.dominant_colour(sample),
            "placeholder": placeholder.placeholder(sample),
        }
        body = json.dumps(described, separators=(",", ":")).encode()
    return Rendition(
        body,
        formats.METADATA_MEDIA_TYPE,
        METADATA,
        width,
        height,
        frames.source_format,
        width,
        height,
        1,
    )


def transform(
    data: bytes,
    request: ImageRequest,
    config: Config,
    phase: Phase = NO_PHASES,
    check_deadline: DeadlineCheck = NO_DEADLINE,
    *,
    focal_point: Point | None = None,
    overlay: watermark.Overlay | None = None,
) -> Frames:
    """Everything ``render`` does but encoding: the pixels the encoder gets."""
    fmt = _output_format(request)
    if (request.watermark is None) != (overlay is None):
        raise ValueError("a watermarked request needs its overlay, and only such a request")
    with phase("decode"):
        decoded = decode(data, request, config)
    check_deadline()
    with phase("resize"):
        return _resize_frames(decoded, request, config, fmt, check_deadline, focal_point, overlay)


def decode(data: bytes, request: ImageRequest, config: Config) -> _Decoded:
    """Open within the limits, shrink on load, decode frame 0 into its working mode."""
    source = codecs.open_image(data, config)
    full_size = source.image.size
    scale = resampling.shrink_on_load(source, request)
    image = codecs.load(source.image, config)
    if scale == 1:  # decoders may settle the size on load (TIFF even applies orientation)
        full_size = image.size
    profile = image.info.get("icc_profile")
    orientation = codecs.exif_orientation(image)
    return _Decoded(
        source,
        to_working_mode(image),
        scale,
        orientation,
        profile if isinstance(profile, bytes) and profile else None,
        oriented(full_size, orientation),
        scaled_origin(full_size, image.size, scale, orientation),
    )


def _resize_frames(
    decoded: _Decoded,
    request: ImageRequest,
    config: Config,
    fmt: str,
    check_deadline: DeadlineCheck = NO_DEADLINE,
    focal_point: Point | None = None,
    overlay: watermark.Overlay | None = None,
) -> Frames:
    upright = orient(decoded.image, decoded.orientation)
    centre = _centre_of_cover(request, decoded, upright, focal_point)
    geometry = plan(*decoded.size, request, centre)
    steps = _steps_after_orient(decoded, request, config, fmt, geometry, overlay)
    source, source_format = decoded.source, decoded.source.format
    first = _apply(steps, upright)
    steps = (partial(orient, orientation=decoded.orientation), *steps)  # later frames
    kept = animation.animated_frames(
        source_format, source.image, source.frames, fmt, geometry.output
    )
    if kept:  # later frames are decoded into the same object: keep none of it
        first = first.copy() if first is source.image else first
    still = Frames((first,), (0,), animation.FOREVER, source_format, decoded.size, source.frames)
    if not kept:
        return still
    plays = animation.plays(source.image, source_format)
    images: list[Image.Image] = []
    durations: list[int] = []
    for index in kept:
        if index == 0:
            images.append(first)
        else:
            check_deadline()  # may stop here, between two frames: those done are dropped
            try:
                frame = codecs.load_frame(source.image, index, config)
            except CorruptImage:
                return still  # a broken later frame: frame 0 alone (see animation)
            if frame is None:  # fewer frames than counted: animate those there are
                break
            output = _apply(steps, to_working_mode(frame))
            images.append(output.copy() if output is source.image else output)
        durations.append(animation.duration_ms(source.image, source_format))
    images, durations = animation.merge_repeats(same_mode(images), durations)
    if len(images) < 2:
        return still
    return Frames(
        tuple(images), tuple(durations), plays, source_format, decoded.size, source.frames
    )


def _steps_after_orient(
    decoded: _Decoded,
    request: ImageRequest,
    config: Config,
    fmt: str,
    geometry: Plan,
    overlay: watermark.Overlay | None,
) -> tuple[Step, ...]:
    """Each frame's steps once it is upright, in the order the module's docstring gives."""
    steps: list[Step] = [
        partial(
            resize,
            geometry=geometry,
            scale=decoded.scale,
            origin=decoded.origin,
            balanced=config.resampling == "balanced",
            threads=codecs.threads(config.threads),
        ),
        partial(colour.to_srgb, profile=decoded.profile),
    ]
    if request.blur is not None:
        steps.append(partial(effects.blur, sigma=request.blur))
    if request.sharpen is not None:
        steps.append(partial(effects.sharpen, sigma=request.sharpen))
    steps.append(partial(pad, geometry=geometry, fmt=fmt, background=request.background))
    if request.rotate or request.mirror:
        steps.append(partial(effects.turn, rotate=request.rotate, mirror=request.mirror))
    if overlay is not None:
        output = geometry.output
        turned = (output[1], output[0]) if request.quarter_turned else output
        steps.append(partial(watermark.stamp, on=watermark.fit(overlay, turned)))
    steps.append(partial(to_output_mode, fmt=fmt))
    return tuple(steps)


def _centre_of_cover(
    request: ImageRequest, decoded: _Decoded, upright: Image.Image, stored: Point | None
) -> Point | None:
    """The focal point ``plan`` centres a cover crop on when the request names no place:
    the smart crop's for ``g=smart``, else the one stored with the original."""
    if not request.is_cover_crop or request.focus is not None:
        return None
    if request.gravity == transforms.SMART:
        return smart_focus(upright, decoded, request)
    return stored if request.gravity is None else None


def smart_focus(upright: Image.Image, decoded: _Decoded, request: ImageRequest) -> Point:
    """``smartcrop.focus`` on a small copy of the region frame 0 samples, as fractions of
    the upright original."""
    src_w, src_h = decoded.size
    left, top, right, bottom = region(src_w, src_h, request)
    (x, y), scale = decoded.origin, decoded.scale
    box = ((left + x) / scale, (top + y) / scale, (right + x) / scale, (bottom + y) / scale)
    width, height = framed(request)
    assert width is not None and height is not None  # a cover crop has both
    from regional_resizer import smartcrop  # loaded by the first g=smart, not at init

    fx, fy = smartcrop.focus(_small_copy(upright, box, SMART_SIDE), width / height)
    return (left + fx * (right - left)) / src_w, (top + fy * (bottom - top)) / src_h


def _small_copy(image: Image.Image, box: Box, side: int) -> Image.Image:
    """``box`` of ``image`` with its long side at most ``side``. Four nearest samples per
    pixel, averaged: enough to score, at a cost that does not grow with the source (a
    filtered shrink of a large decode would cost more than the smart crop is allowed)."""
    width, height = box[2] - box[0], box[3] - box[1]
    k = min(1.0, side / max(width, height))
    size = (max(1, round(width * k)), max(1, round(height * k)))
    if k > 0.5:  # a short shrink: one filtered step
        return image.resize(size, Image.Resampling.BILINEAR, box=box)
    doubled = (2 * size[0], 2 * size[1])
    return image.resize(doubled, Image.Resampling.NEAREST, box=box).reduce(2)


def _apply(steps: tuple[Step, ...], image: Image.Image) -> Image.Image:
    for step in steps:
        image = step(image)
    return image


def _output_format(request: ImageRequest) -> str:
    if request.format is None:
        raise ValueError("render makes derivatives; the original is served as it is")
    return request.format


def to_working_mode(image: Image.Image) -> Image.Image:
    """8 bits per channel, alpha only when the source has transparency; never resample a
    palette, bilevel or 16-bit image as it is."""
    alpha = image.has_transparency_data
    if image.mode in _WORKING_MODES and not (alpha and image.mode in ("L", "RGB")):
        return image
    if image.mode in _WIDE_MODES:
        return _wide_to_l(image, alpha)
    return image.convert(_BASE_MODE[image.mode] + ("A" if alpha else ""))


def _wide_to_l(image: Image.Image, alpha: bool) -> Image.Image:
    """16/32-bit gray to 8 bits by scaling (0..65535 -> 0..255), not clipping."""
    wide = image.convert("I")
    gray = wide.point(lambda v: v / 257 + 0.5).convert("L")
    if not alpha:
        return gray
    # tRNS: one 16-bit gray value is transparent (Pillow's LA conversion clips it first).
    key = image.info["transparency"]
    mask = ImageMath.lambda_eval(lambda args: (args["wide"] != key) * 255, wide=wide)
    assert isinstance(mask, Image.Image)
    gray.putalpha(mask.convert("L"))
    return gray


def decode_overlay(data: bytes, config: Config) -> Image.Image:
    """A watermark's overlay: frame 0 within the limits, upright, in sRGB, as LA (gray) or
    RGBA. Raises the ``ImgedgeError`` a source would (the caller says whose mistake)."""
    source = codecs.open_image(data, config)
    image = codecs.load(source.image, config)
    profile = image.info.get("icc_profile")
    upright = orient(to_working_mode(image), codecs.exif_orientation(image))
    srgb = colour.to_srgb(upright, profile if isinstance(profile, bytes) and profile else None)
    return srgb.convert("LA" if srgb.mode in ("L", "LA") else "RGBA")


def orient(image: Image.Image, orientation: int) -> Image.Image:
    """Apply an EXIF orientation, as ``ImageOps.exif_transpose`` does."""
    method = _TRANSPOSE.get(orientation)
    return image if method is None else image.transpose(method)


def resize(
    image: Image.Image,
    geometry: Plan,
    scale: float,
    origin: tuple[float, float] = (0.0, 0.0),
    balanced: bool = True,
    threads: int = 1,
) -> Image.Image:
    """Resample the planned region (scaled down as much as the decoder already did, and
    starting at ``origin`` of the decoded image, in source pixels); ``balanced``: see
    ``resampling.choose``; ``threads``: ``resampling.resize_image``'s."""
    x, y = origin
    box = (
        (geometry.box[0] + x) / scale,
        (geometry.box[1] + y) / scale,
        (geometry.box[2] + x) / scale,
        (geometry.box[3] + y) / scale,
    )
    if image.size == geometry.size and box == (0, 0, *image.size):
        return image
    if (box[2] - box[0], box[3] - box[1]) == geometry.size and all(v.is_integer() for v in box):
        return image.crop((int(box[0]), int(box[1]), int(box[2]), int(box[3])))  # scale 1
    kernel, gap = resampling.choose(box, geometry.size, scale, balanced)
    return resampling.resize_image(image, geometry.size, kernel, box, gap, threads)


def pad(image: Image.Image, geometry: Plan, fmt: str, background: str | None = None) -> Image.Image:
    """Centre the image on the planned canvas: white for a format without alpha (JPEG),
    transparent otherwise. With a ``background`` ("rrggbb"), on that opaque colour, and any
    alpha is flattened on it too, whatever the format."""
    if background is not None:
        return effects.on_background(image, background, geometry.canvas)
    if geometry.canvas is None:
        return image
    if not formats.output(fmt).alpha:
        mode, fill = image.mode, "white"
    else:
        mode, fill = _with_alpha(image.mode), "#00000000"
    canvas = Image.new(mode, geometry.canvas, fill)
    left = (geometry.canvas[0] - image.width) // 2
    top = (geometry.canvas[1] - image.height) // 2
    canvas.paste(image.convert(mode), (left, top))
    return canvas


def to_output_mode(image: Image.Image, fmt: str) -> Image.Image:
    """JPEG (no alpha): alpha flattened on white; WebP and AVIF: RGB(A); PNG stores L, LA,
    RGB(A)."""
    if image.mode in codecs.ENCODABLE_MODES[fmt]:
        return image
    if not formats.output(fmt).alpha:
        return _flatten(image)
    return image.convert("RGBA" if image.mode.endswith("A") else "RGB")


def same_mode(frames: list[Image.Image]) -> list[Image.Image]:
    """Frames of an animation in one mode: with alpha if any frame has it (a GIF's first
    frame may be opaque and a later one not), colour if any frame is colour."""
    modes = {frame.mode for frame in frames}
    if len(modes) == 1:
        return frames
    alpha = any(mode.endswith("A") for mode in modes)
    colour = any(mode.startswith("RGB") for mode in modes)
    mode = ("RGB" if colour else "L") + ("A" if alpha else "")
    return [frame if frame.mode == mode else frame.convert(mode) for frame in frames]


def _flatten(image: Image.Image) -> Image.Image:
    base = image.mode.removesuffix("A")
    background = Image.new(base, image.size, "white")
    background.paste(image.convert(base), mask=image.getchannel("A"))
    return background


def _with_alpha(mode: str) -> str:
    return mode if mode.endswith("A") else mode + "A"
