"""Which frames of an animated original an output keeps, and how they are timed.

Policy (docs/engine.md, "Animation", says the same):
- Animated GIF, APNG, WebP and AVIF sources keep every frame in ``webp`` output and in
  ``png`` output (as APNG: browsers without APNG show its first frame, which is the
  first frame). ``jpeg`` cannot animate; ``avif`` output is the first frame too, because
  libaom takes ~0.1 s per small frame even at speed 6, too slow to make on a request.
- An APNG whose default image is not part of its animation animates its other frames;
  a still output is that default image, as a viewer without APNG would show it.
- Every frame gets the same geometry, orientation and colour conversion as frame 0.
- Frames are composited (disposal, blending) by Pillow's readers, so each is a whole
  picture; the encoders then store only what changes.
- Durations and the number of plays are kept; a frame identical to the one before only
  lengthens it (as the WebP and APNG encoders would do anyway). GIF frames of 10 ms or less play for
  100 ms, as every browser plays them; GIF's loop count is repetitions after the first
  play, so it becomes one more play (a GIF without one plays once).
- A later frame that does not decode (``bad_broken_frame.gif``) gives frame 0 alone, as a
  still image: the source opened and frame 0 is intact, so this is not the viewer's error.
- More than ``MAX_OUTPUT_PIXELS`` output pixels in all frames: frame 0 alone. The input
  side is already bounded by ``max_frames`` and ``max_total_pixels``, checked on the header;
  this bounds the memory that holds the output frames until they are encoded (4 bytes a
  pixel).
"""

from __future__ import annotations

from PIL import Image, ImageChops

from regional_resizer.plan import Size
from shared import formats

MAX_OUTPUT_PIXELS = 48_000_000
"""Output pixels of all frames together (192 MB of RGBA frames awaiting the encoder)."""

GIF_MIN_DELAY_MS = 10
GIF_SLOW_DELAY_MS = 100  # what browsers show a GIF frame of GIF_MIN_DELAY_MS or less for
FOREVER = 0


def animated_frames(
    source_format: str, first: Image.Image, frames: int, fmt: str, output: Size
) -> range:
    """The indices of the source frames to encode as an animation; an empty range for a
    still output. ``first`` is the opened source at frame 0, ``frames`` its frame count
    (``source_format`` is Pillow's name of its format, ``fmt`` the output's)."""
    source, target = formats.from_pillow(source_format), formats.by_name(fmt)
    if frames < 2 or source is None or not source.animates:
        return range(0)
    if target is None or not target.keeps_animation:
        return range(0)
    start = 1 if source is formats.PNG and first.info.get("default_image") else 0
    kept = range(start, frames)
    if len(kept) < 2 or len(kept) * output[0] * output[1] > MAX_OUTPUT_PIXELS:
        return range(0)
    return kept


def duration_ms(frame: Image.Image, source_format: str) -> int:
    """How long the current frame shows, in whole milliseconds."""
    value = frame.info.get("duration")
    ms = round(value) if isinstance(value, int | float) and value > 0 else 0
    if formats.from_pillow(source_format) is formats.GIF and ms <= GIF_MIN_DELAY_MS:
        return GIF_SLOW_DELAY_MS
    return ms


def plays(first: Image.Image, source_format: str) -> int:
    """How many times the animation plays (0: forever), read at frame 0."""
    loop = first.info.get("loop")
    if formats.from_pillow(source_format) is formats.GIF:
        if not isinstance(loop, int):
            return 1  # no NETSCAPE extension: played once
        return FOREVER if loop == 0 else loop + 1
    return loop if isinstance(loop, int) and loop >= 0 else FOREVER


def merge_repeats(
    frames: list[Image.Image], durations: list[int]
) -> tuple[list[Image.Image], list[int]]:
    """Drop each frame identical to the one before, adding its duration to that one."""
    kept, times = frames[:1], durations[:1]
    for frame, duration in zip(frames[1:], durations[1:], strict=True):
        if (
            frame.mode == kept[-1].mode
            and ImageChops.difference(frame, kept[-1]).getbbox(alpha_only=False) is None
        ):
            times[-1] += duration
        else:
            kept.append(frame)
            times.append(duration)
    return kept, times
