"""``imgedge ls``: the originals, or one original's derivatives (``infra/inventory.py``).

    imgedge ls                      every original: key, bytes, last modified, derivatives
    imgedge ls photos/cat.jpg       its derivatives: key, format, WxH, bytes, saving

Exit 1 for an original that is neither in the originals bucket nor has derivatives (one
with derivatives only is listed, and said to be missing on stderr).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Sequence
from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING, Any

from infra.cli.command import CommandError
from infra.cli.discovery import (
    LOCAL_STACK_EPILOG,
    add_bucket_arguments,
    add_data_dir,
    defer_bucket_defaults,
    use_local_s3,
)

if TYPE_CHECKING:
    from infra.cli.command import Commands
    from infra.inventory import DerivativeInfo, Inventory, OriginalInfo


def register(commands: Commands) -> None:
    ls = commands.add_parser(
        "ls",
        help="list originals, or one original's derivatives",
        description="Without a key, list the originals with their number of stored "
        "derivatives; with a key, list that original's derivatives (from the marker index "
        "of the derivatives bucket) with format, dimensions, bytes and the saving against "
        "the original.",
    )
    ls.add_argument("key", nargs="?", metavar="ORIGINAL_KEY", help="an original's key")
    add_bucket_arguments(ls)
    ls.add_argument("--json", action="store_true", help="print JSON instead of a table")
    ls.add_argument(
        "--config",
        type=Path,
        metavar="FILE",
        help="an imgedge configuration file, for its originals_buckets "
        "(default: the local stack's, else $IMGEDGE_CONFIG)",
    )
    add_data_dir(ls)
    defer_bucket_defaults(ls)
    ls.epilog = LOCAL_STACK_EPILOG
    ls.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from infra.inventory import Inventory, s3_client
    from shared.config import CONFIG_ENV, ConfigError, load_config

    stack = use_local_s3(args, "ls")
    # The originals buckets of the stack's own configuration, unless another one is named.
    if stack is not None and stack.config and not (args.config or os.environ.get(CONFIG_ENV)):
        args.config = Path(stack.config)
    try:
        config = load_config(args.config)
    except (OSError, ConfigError) as error:
        raise CommandError(str(error)) from error
    inventory = Inventory(
        s3_client(args.s3_endpoint),
        config.originals(args.originals_bucket),
        args.derivatives_bucket,
    )
    if args.key is None:
        list_originals(inventory, as_json=args.json)
    else:
        list_derivatives(inventory, args.key, as_json=args.json)
    return 0


def list_originals(inventory: Inventory, *, as_json: bool) -> None:
    rows = [(o, inventory.count_derivatives(o.key)) for o in inventory.originals()]
    if as_json:
        listing = [{**_original_json(o), "derivatives": count} for o, count in rows]
        print(json.dumps(listing, indent=2))
        return
    table = [
        (o.key, str(o.bytes), o.last_modified.strftime("%Y-%m-%d %H:%M:%S"), str(count))
        for o, count in rows
    ]
    print(render_table(("key", "bytes", "last modified", "derivatives"), table, right=(1, 3)))


def list_derivatives(inventory: Inventory, key: str, *, as_json: bool) -> None:
    original = inventory.original(key)
    derivatives = inventory.derivatives(key)
    if original is None:
        missing = f"no original {key!r} in {inventory.originals_buckets.bucket_of(key)}"
        if not derivatives:
            raise CommandError(missing)
        print(f"imgedge ls: {missing}", file=sys.stderr)
    original_bytes = original.bytes if original else None
    if as_json:
        found = {
            "original": None if original is None else _original_json(original),
            "derivatives": [_derivative_json(d, original_bytes) for d in derivatives],
        }
        print(json.dumps(found, indent=2))
        return
    table = [_derivative_row(d, original_bytes) for d in derivatives]
    print(render_table(("key", "format", "WxH", "bytes", "saving"), table, right=(2, 3, 4)))


def _original_json(original: OriginalInfo) -> dict[str, Any]:
    return {**asdict(original), "last_modified": original.last_modified.isoformat()}


def _derivative_json(d: DerivativeInfo, original_bytes: int | None) -> dict[str, Any]:
    saving = d.saving(original_bytes)
    return {
        **asdict(d),
        "missing": d.missing,
        "saving_percent": None if saving is None else round(saving, 1),
    }


def _derivative_row(d: DerivativeInfo, original_bytes: int | None) -> tuple[str, ...]:
    if d.missing:
        return (d.key, d.format, "", "(missing)", "")
    size = f"{d.width}x{d.height}" if d.width and d.height else "?"
    saving = d.saving(original_bytes)
    return (d.key, d.format, size, str(d.bytes), "" if saving is None else f"{saving:.1f}%")


def render_table(
    header: Sequence[str], rows: Sequence[Sequence[str]], right: Sequence[int] = ()
) -> str:
    """Columns padded to their widest cell; ``right`` names right-aligned columns."""
    widths = [max(len(str(row[i])) for row in (header, *rows)) for i in range(len(header))]

    def line(cells: Sequence[str]) -> str:
        padded = (
            cell.rjust(width) if i in right else cell.ljust(width)
            for i, (cell, width) in enumerate(zip(cells, widths, strict=True))
        )
        return "  ".join(padded).rstrip()

    return "\n".join(line(row) for row in (header, *rows))
