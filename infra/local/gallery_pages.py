"""The gallery's HTML: plain values in, one page out. Everything from the buckets (keys
above all) is escaped; the pages hold no script and only inline styles, so they work under
the distribution's ``Content-Security-Policy: default-src 'none'; img-src 'self';
style-src 'unsafe-inline'``."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from html import escape
from pathlib import PurePosixPath
from urllib.parse import urlencode

from infra.inventory import DerivativeInfo, OriginalInfo, request_path
from shared import formats

GALLERY_ROOT = "/_imgedge/"

STYLE = """
body { font: 15px/1.45 system-ui, sans-serif; margin: 0 auto; max-width: 1400px;
       padding: 1rem 2rem; color: #1d2329; background: #fafbfc; }
h1 { font-size: 1.5rem; margin: .5rem 0 1rem; }
h1 a, nav a { color: inherit; }
nav { margin-bottom: 1rem; color: #5a6570; }
table { border-collapse: collapse; }
th, td { text-align: left; padding: .3rem .8rem .3rem 0; border-bottom: 1px solid #e3e7eb; }
td.n, th.n { text-align: right; }
code { font: 13px ui-monospace, monospace; word-break: break-all; }
h1 code { font-size: 1.3rem; }
.grid { display: flex; flex-wrap: wrap; gap: 1rem; align-items: flex-start; }
figure { margin: 0; padding: .6rem; background: #fff; border: 1px solid #dde2e7;
         border-radius: 6px; max-width: 340px; }
figure img { display: block; max-width: 320px; max-height: 320px; width: auto; height: auto;
             background: repeating-conic-gradient(#eee 0 25%, #fff 0 50%) 0 0 / 16px 16px; }
figcaption { margin-top: .5rem; font-size: 13px; }
figure img.thumb { width: 256px; height: 256px; object-fit: contain; }
.cards figure { width: 256px; }
figcaption div { margin: .15rem 0; }
.missing { color: #a3281c; }
.demo { width: 50vw; }  /* as the demo's sizes attribute says */
.demo img { width: 100%; height: auto; display: block; }
@media (max-width: 600px) { .demo { width: auto; } }
.muted { color: #5a6570; }
.transforms figure { width: 320px; }
"""


@dataclass(frozen=True)
class DemoCandidate:
    """One ``srcset`` candidate and the canonical key ``f=auto`` resolves to per Accept."""

    width: int
    url: str
    keys: Sequence[tuple[str, str]]  # (what the viewer accepts, the canonical key)


@dataclass(frozen=True)
class TransformDemo:
    """One transform on the demo's original: its viewer URL and the canonical key it maps
    to; no URL: ``about`` says why there is no picture."""

    parameter: str  # "g=north", "wm=logo", ...
    about: str  # what the picture shows, or why there is none
    url: str = ""  # the viewer's path and query
    key: str = ""
    shares: str = ""  # another viewer URL with the same key
    max_width: int | None = None  # CSS pixels the picture is shown at, at most


def original_link(key: str) -> str:
    return f"{GALLERY_ROOT}original?{urlencode({'key': key})}"


def demo_link(key: str) -> str:
    return f"{GALLERY_ROOT}demo?{urlencode({'key': key})}"


def page(title: str, body: str) -> bytes:
    return (
        "<!DOCTYPE html>\n<html lang=en><head><meta charset=utf-8>"
        '<meta name=viewport content="width=device-width, initial-scale=1">'
        f"<title>{escape(title)} - imgedge</title><style>{STYLE}</style></head>\n"
        f'<body><nav><a href="{GALLERY_ROOT}">imgedge gallery</a></nav>\n{body}\n</body></html>\n'
    ).encode()


def index_page(
    originals: Sequence[tuple[OriginalInfo, int]], truncated: bool, thumbnail_query: str
) -> bytes:
    """A card per original: its thumbnail, asked of the edge like any viewer's request
    (``thumbnail_query``), for keys whose extension names an image format."""
    cards = "\n".join(_card(o, count, thumbnail_query) for o, count in originals)
    more = f"<p class=muted>Only the first {len(originals)} are listed.</p>" if truncated else ""
    body = (
        f'<div class="grid cards">\n{cards}\n</div>'
        if originals
        else ("<p>The originals bucket is empty.</p>")
    )
    return page("originals", f"<h1>Originals</h1>\n{body}{more}")


def _card(original: OriginalInfo, count: int, thumbnail_query: str) -> str:
    link = escape(original_link(original.key))
    if formats.from_extension(PurePosixPath(original.key).suffix) is not None:
        thumbnail = f"/{request_path(original.key)}?{thumbnail_query}"
        picture = f'<a href="{link}"><img class=thumb src="{escape(thumbnail)}" alt=""></a>'
    else:
        picture = "<div class=muted>not an image format</div>"
    return (
        f"<figure>{picture}<figcaption>"
        f'<div><a href="{link}"><code>{escape(original.key)}</code></a></div>'
        f"<div>{original.bytes:,} bytes, {original.last_modified:%Y-%m-%d %H:%M:%S}</div>"
        f'<div>{count} derivatives - <a href="{escape(demo_link(original.key))}">demo</a></div>'
        "</figcaption></figure>"
    )


def original_page(
    key: str,
    original: OriginalInfo | None,
    derivatives: Sequence[tuple[DerivativeInfo, str, Sequence[str]]],
) -> bytes:
    """``derivatives``: each stored object with the viewer URL that names it ("" if none)
    and the presets that name it."""
    if original is None:
        about = "<p class=missing>The original is gone; these derivatives remain.</p>"
    else:
        about = (
            f"<p>{original.bytes:,} bytes, {escape(original.content_type or 'no content type')}"
            f", last modified {original.last_modified:%Y-%m-%d %H:%M:%S}. "
            f'<a href="/{escape(request_path(key))}">the original</a> - '
            f'<a href="{escape(demo_link(key))}">responsive demo</a></p>'
        )
    original_bytes = original.bytes if original else None
    figures = "\n".join(
        _figure(d, url, presets, key, original_bytes) for d, url, presets in derivatives
    )
    listing = (
        f"<div class=grid>\n{figures}\n</div>"
        if derivatives
        else "<p>No derivatives are stored yet: ask for one, or run "
        "<code>imgedge precompute</code>.</p>"
    )
    count = f"<h2>{len(derivatives)} stored</h2>"
    return page(key, f"<h1><code>{escape(key)}</code></h1>\n{about}\n{count}\n{listing}")


def _figure(
    d: DerivativeInfo, url: str, presets: Sequence[str], source: str, original_bytes: int | None
) -> str:
    path = "/" + request_path(source)
    caption = [
        f"<div>{escape(d.format or '?')} "
        + (f"{d.width}x{d.height}" if d.width and d.height else "")
        + (f", {d.bytes:,} bytes" if d.bytes is not None else "")
        + _saving(d, original_bytes)
        + "</div>",
        f"<div>URL <code>{escape(url)}</code></div>" if url else "",
        f"<div>key <code>{escape(d.key)}</code></div>",
        *(f"<div>preset <code>{escape(f'{path}?p={name}')}</code></div>" for name in presets),
    ]
    if d.missing:
        picture = "<div class=missing>(missing: a marker without its object)</div>"
    elif url and formats.is_image_media_type(d.content_type):
        size = f" width={d.width} height={d.height}" if d.width and d.height else ""
        picture = f'<a href="{escape(url)}"><img src="{escape(url)}"{size} alt=""></a>'
    else:
        picture = f"<div class=muted>{escape(d.content_type or 'not an image')}</div>"
    return f"<figure>{picture}<figcaption>{''.join(caption)}</figcaption></figure>"


def _saving(d: DerivativeInfo, original_bytes: int | None) -> str:
    saving = d.saving(original_bytes)
    if saving is None:
        return ""
    return f" ({saving:.0f}% smaller)" if saving >= 0 else f" ({-saving:.0f}% larger)"


def demo_page(
    key: str,
    candidates: Sequence[DemoCandidate],
    sizes: str,
    transforms: Sequence[TransformDemo] = (),
) -> bytes:
    srcset = ", ".join(f"{c.url} {c.width}w" for c in candidates)
    fallback = candidates[len(candidates) // 2].url
    image = (
        f'<img src="{escape(fallback)}" srcset="{escape(srcset)}" sizes="{escape(sizes)}" '
        'alt="the responsive demo image">'
    )
    rows = "\n".join(
        f"<tr><td class=n>{c.width}w</td><td><code>{escape(c.url)}</code></td>"
        + "".join(f"<td><code>{escape(k)}</code></td>" for _, k in c.keys)
        + "</tr>"
        for c in candidates
    )
    heads = "".join(f"<th>Accept {escape(label)}</th>" for label, _ in candidates[0].keys)
    preference = ", else ".join(fmt.name for fmt in formats.AUTO_PREFERENCE)
    body = (
        f"<h1>Responsive demo: <code>{escape(key)}</code></h1>\n"
        "<p>The browser picks one candidate of the <code>srcset</code> for the width the "
        "image has on screen (<code>sizes</code>) and its pixel density, and names the formats "
        f"it decodes in its <code>Accept</code> header; <code>f=auto</code> makes that {preference}"
        ", else the source's own family, and each outcome is a cache key of its own. "
        "Resize the window and watch the network panel.</p>\n"
        f"<div class=demo>{image}</div>\n"
        f"<h2>Candidates</h2>\n<table><thead><tr><th class=n>width</th><th>URL</th>{heads}"
        f"</tr></thead><tbody>\n{rows}\n</tbody></table>\n"
        f'<p><a href="{escape(original_link(key))}">stored derivatives</a></p>'
        + (_transforms_section(transforms) if transforms else "")
    )
    return page(f"demo {key}", body)


def _transforms_section(transforms: Sequence[TransformDemo]) -> str:
    figures = "\n".join(_transform_figure(t) for t in transforms if t.url)
    notes = "".join(
        f"<p class=muted><code>{escape(t.parameter)}</code>: {escape(t.about)}</p>\n"
        for t in transforms
        if not t.url
    )
    return (
        "\n<section class=transforms><h2>Transforms</h2>\n"
        "<p>Each parameter on this original, rendered when first asked for like any "
        "viewer's request, with the canonical key the edge maps it to: spellings that make "
        "the same picture share one key.</p>\n"
        f"<div class=grid>\n{figures}\n</div>\n{notes}</section>"
    )


def _transform_figure(t: TransformDemo) -> str:
    url = escape(t.url)
    style = f' style="max-width: {t.max_width}px"' if t.max_width else ""
    caption = [
        f"<div><strong>{escape(t.parameter)}</strong>: {escape(t.about)}</div>",
        f'<div>URL <a href="{url}"><code>{url}</code></a></div>',
        f"<div>key <code>{escape(t.key)}</code></div>",
    ]
    if t.shares:
        caption.append(f"<div>the key of <code>{escape(t.shares)}</code> too</div>")
    return (
        f'<figure><a href="{url}"><img src="{url}"{style} alt="{escape(t.parameter)}"></a>'
        f"<figcaption>{''.join(caption)}</figcaption></figure>"
    )


def error_page(status: int, message: str) -> bytes:
    return page(str(status), f"<h1>{status}</h1>\n<p>{escape(message)}</p>")
