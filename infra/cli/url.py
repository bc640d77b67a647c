"""``imgedge url``: the canonical viewer URL of an original (``shared/urls.py``).

    imgedge url photos/cat.jpg --s 256x256 --f webp --g smart
    imgedge url photos/cat.jpg --s 300x200 --crop 10,20,300,200 --sign k1 --base https://img.example.com

Each viewer parameter is an option of the same name. The URL alone is printed on stdout,
so that ``$(imgedge url ...)`` is the URL; a bad parameter, an unknown signing key or a bad
configuration is reported on stderr with exit status 2.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING

from infra.cli.command import CommandError
from shared.viewer_query import TRANSFORM_PARAMS

if TYPE_CHECKING:
    from infra.cli.command import Commands

EXIT_USAGE = 2  # as argparse's: nothing to print but the complaint

HELP = {
    "s": ("WxH", "size: WxH, Wx or xH (snapped to the allow-list unless signed)"),
    "f": ("FORMAT", "format: webp, avif, jpeg, png or auto (default: the source's own)"),
    "q": ("Q", "quality 1..100 (snapped to the allow-list)"),
    "fit": ("FIT", "cover (default), contain or inside"),
    "p": ("NAME", "a preset of the configuration, alone"),
    "r": ("DEG", "clockwise rotation: 0, 90, 180 or 270"),
    "flip": ("AXES", "mirror after r: h, v or hv"),
    "blur": ("SIGMA", "blur sigma (snapped to the allow-list)"),
    "sharpen": ("SIGMA", "sharpen sigma (snapped to the allow-list)"),
    "bg": ("RRGGBB", "padding and flattening colour (allow-list; any if signed)"),
    "crop": ("X,Y,W,H", "a region of the upright original, in pixels (signed only)"),
    "wm": ("NAME", "a watermark of the configuration"),
    "g": ("GRAVITY", "where a cover crop sits: center, n, ne, ..., smart"),
    "fp": ("X,Y", "a focal point, fractions of the upright original"),
    "dpr": ("RATIO", "device pixel ratio 1..4, folded into s"),
}


def register(commands: Commands) -> None:
    parser = commands.add_parser(
        "url",
        help="print the canonical viewer URL of an original",
        description="Print the one canonical viewer URL the edge reads as the given "
        "parameters: snapped, in one order, defaults dropped (docs/page-builders.md).",
        allow_abbrev=False,
    )
    parser.add_argument("key", metavar="KEY", help="the original's key, such as photos/cat.jpg")
    params = parser.add_argument_group("viewer parameters (as in the URL)")
    for name in TRANSFORM_PARAMS:
        metavar, text = HELP[name]
        params.add_argument(f"--{name}", metavar=metavar, help=text)
    parser.add_argument("--sign", metavar="KEYID", help="sign with this key of signing_keys")
    parser.add_argument(
        "--base", default="", metavar="URL", help="scheme and host to put first (default: none)"
    )
    parser.add_argument(
        "--config",
        type=Path,
        metavar="FILE",
        help="an imgedge configuration file (default: $IMGEDGE_CONFIG, else the defaults)",
    )
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from shared.config import ConfigError, load_config
    from shared.errors import InvalidRequest
    from shared.urls import image_url

    params = {name: getattr(args, name) for name in TRANSFORM_PARAMS}
    try:
        config = load_config(args.config)
        url = image_url(args.key, base=args.base, config=config, sign=args.sign, **params)
    except (OSError, ConfigError, InvalidRequest, LookupError) as error:
        raise CommandError(str(error), EXIT_USAGE) from error
    print(url)
    return 0
