"""The per-pixel transforms after the resize: blur, sharpen, a background, the turn.

Each takes and returns an image in a working mode (L, LA, RGB, RGBA) of the output's size,
so sigmas are in output pixels, and each leaves its input untouched.
"""

from __future__ import annotations

from PIL import Image

SHARPEN_PERCENT = 100
"""The unsharp mask adds the whole difference from the blurred image once: ``sharpen`` is
a single sigma, and on a downscaled image more than that rings visibly at sigma 2."""

_PREMULTIPLIED = {"RGBA": "RGBa", "LA": "La"}

# r (clockwise) and the mirror after it as the one exact transpose that does both.
_TURNS = {
    (90, False): Image.Transpose.ROTATE_270,  # Pillow's rotations are anticlockwise
    (180, False): Image.Transpose.ROTATE_180,
    (270, False): Image.Transpose.ROTATE_90,
    (0, True): Image.Transpose.FLIP_LEFT_RIGHT,
    (90, True): Image.Transpose.TRANSPOSE,
    (180, True): Image.Transpose.FLIP_TOP_BOTTOM,
    (270, True): Image.Transpose.TRANSVERSE,
}


def blur(image: Image.Image, sigma: float) -> Image.Image:
    """A Gaussian blur of standard deviation ``sigma``. With alpha, blurred premultiplied,
    so that the hidden colour of transparent pixels does not bleed into visible ones."""
    from PIL import ImageFilter  # loaded by the first request that asks, not at init

    premultiplied = _PREMULTIPLIED.get(image.mode)
    if premultiplied is None:
        return image.filter(ImageFilter.GaussianBlur(sigma))
    blurred = image.convert(premultiplied).filter(ImageFilter.GaussianBlur(sigma))
    return blurred.convert(image.mode)


def sharpen(image: Image.Image, sigma: float) -> Image.Image:
    """An unsharp mask of radius ``sigma``, ``SHARPEN_PERCENT``, no threshold. Alpha is
    kept as it is: sharpening it would draw halos of opacity around shapes."""
    from PIL import ImageFilter

    mask = ImageFilter.UnsharpMask(radius=sigma, percent=SHARPEN_PERCENT, threshold=0)
    if image.mode not in _PREMULTIPLIED:
        return image.filter(mask)
    sharpened = image.convert(image.mode[:-1]).filter(mask)
    sharpened.putalpha(image.getchannel("A"))
    return sharpened


def on_background(image: Image.Image, colour: str, canvas: tuple[int, int] | None) -> Image.Image:
    """The image flattened on an opaque ``colour`` ("rrggbb") and, with a ``canvas``,
    centred on a canvas of that colour: no alpha is left. Gray stays gray on a gray
    colour; anything else becomes RGB."""
    fill = (int(colour[0:2], 16), int(colour[2:4], 16), int(colour[4:6], 16))
    gray = image.mode in ("L", "LA") and fill[0] == fill[1] == fill[2]
    mode = "L" if gray else "RGB"
    size = canvas or image.size
    background = Image.new(mode, size, fill[0] if gray else fill)
    offset = ((size[0] - image.width) // 2, (size[1] - image.height) // 2)
    alpha = image.getchannel("A") if image.mode in _PREMULTIPLIED else None
    background.paste(image.convert(mode), offset, mask=alpha)
    return background


def turn(image: Image.Image, rotate: int, mirror: bool) -> Image.Image:
    """Rotate ``rotate`` degrees clockwise, then mirror left-right if ``mirror``."""
    method = _TURNS.get((rotate, mirror))
    return image if method is None else image.transpose(method)
