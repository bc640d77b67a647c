"""The format registry (``shared.formats``): its facts agree with each other, with Pillow
and with the corpus; the behaviour built on them (sniffing, the default output of a
source, ``f=auto``) is pinned; and no other module of the product or of its tooling (infra)
keeps such facts."""

from __future__ import annotations

import ast
import io
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from PIL import Image

from edge_router.normalize import negotiate, normalize
from regional_resizer import codecs
from regional_resizer.media_types import sniff
from shared import formats
from shared.config import DEFAULT_QUALITIES, Config
from shared.formats import FORMATS, OUTPUTS, ImageFormat, Signature
from tests.conftest import CORPUS, REPO, corpus_rows

ROWS = corpus_rows()
PRODUCT_PACKAGES = ("shared", "edge_router", "regional_resizer")
SCANNED_PACKAGES = (*PRODUCT_PACKAGES, "infra")
"""Where only the registry may name a media type or magic bytes: the product, and the
tooling that deploys, runs and inspects it (the local stack, ``imgedge ls``, the smoke
test). None of their modules needs an exception."""
REGISTRY = REPO / "shared" / "formats.py"
ALPHA_MODES = ("LA", "La", "PA", "RGBA", "RGBa")


def _ids(fmt: ImageFormat) -> str:
    return fmt.name


# The registry's own consistency.


def test_names_extensions_media_types_and_spellings_are_unique() -> None:
    names = [fmt.name for fmt in FORMATS]
    extensions = [ext for fmt in FORMATS for ext in fmt.extensions]
    media_types = [fmt.media_type for fmt in FORMATS]
    spellings = [s for fmt in OUTPUTS for s in (fmt.name, *fmt.aliases)]
    for values in (names, extensions, media_types, spellings):
        assert len(values) == len(set(values)), values
    assert all(name == name.lower() and name.isalnum() for name in names)
    assert all(re.fullmatch(r"\.[a-z0-9]+", ext) for ext in extensions), extensions
    assert all(fmt.extensions for fmt in FORMATS)
    assert not set(spellings) & (set(names) - set(formats.OUTPUT_FORMATS))


@pytest.mark.parametrize("fmt", FORMATS, ids=_ids)
def test_lookups_find_each_entry(fmt: ImageFormat) -> None:
    assert formats.by_name(fmt.name) is fmt
    assert formats.from_media_type(fmt.media_type) is fmt
    assert formats.from_media_type(fmt.media_type.upper() + "; charset=x") is fmt
    assert formats.is_image_media_type(fmt.media_type)
    for ext in fmt.extensions:
        assert formats.from_extension(ext) is fmt
        assert formats.from_extension(ext.upper()) is fmt
    assert formats.output(fmt.kept_as).kept_as == fmt.kept_as


@pytest.mark.parametrize("fmt", OUTPUTS, ids=_ids)
def test_an_output_round_trips_by_name_spelling_and_media_type(fmt: ImageFormat) -> None:
    assert formats.output(fmt.name) is fmt
    assert fmt.kept_as == fmt.name
    for spelling in (fmt.name, *fmt.aliases):
        assert formats.output_spelled(spelling) is fmt
    assert formats.from_media_type(fmt.media_type) is fmt
    assert fmt.pillow, "the resizer encodes it through Pillow"


@pytest.mark.parametrize("fmt", [f for f in FORMATS if not f.output], ids=_ids)
def test_output_facts_are_unset_on_a_format_imgedge_does_not_write(fmt: ImageFormat) -> None:
    assert (fmt.default_quality, fmt.aliases, fmt.keeps_animation) == (None, (), False)
    assert formats.output_spelled(fmt.name) is None
    with pytest.raises(ValueError, match="unknown output format"):
        formats.output(fmt.name)


def test_the_output_lists_and_orders() -> None:
    # The order is the configuration's default ``formats``, baked into the edge's zip.
    assert formats.OUTPUT_FORMATS == ("jpeg", "png", "webp", "avif")
    assert formats.LOSSY_FORMATS == ("jpeg", "webp", "avif")
    assert sorted(formats.FALLBACKS, key=OUTPUTS.index) == list(OUTPUTS)
    assert set(formats.AUTO_PREFERENCE) <= set(OUTPUTS)
    assert formats.DEFAULT_OUTPUT.output
    assert formats.DEFAULT_OUTPUT not in formats.AUTO_PREFERENCE, "every viewer decodes it"


def test_default_qualities_are_the_configurations() -> None:
    lossy = {f.name: f.default_quality for f in OUTPUTS if f.default_quality is not None}
    assert dict(Config().default_quality) == lossy
    assert set(lossy.values()) <= set(DEFAULT_QUALITIES)
    for fmt in OUTPUTS:
        assert Config().quality_for(fmt.name) == fmt.default_quality


def test_signatures_and_markers() -> None:
    for fmt in FORMATS:
        assert fmt.signatures or fmt.marker, fmt.name
        assert fmt.marker is None or fmt.marker == fmt.marker.lower()
        for signature in fmt.signatures:
            assert all(0 <= offset < formats.SNIFF_BYTES for offset, _ in signature.parts)


@pytest.mark.parametrize("fmt", FORMATS, ids=_ids)
def test_each_signature_identifies_its_own_format(fmt: ImageFormat) -> None:
    """No entry tried earlier claims the bytes of a later one's signature."""
    samples = [_smallest_file(signature) for signature in fmt.signatures]
    if fmt.marker is not None:
        samples.append(b"<?xml version='1.0'?>\n" + fmt.marker.upper() + b" />")
    for sample in samples:
        assert formats.identify(sample) is fmt, sample
    assert formats.identify(b"") is None


def _smallest_file(signature: Signature) -> bytes:
    data = bytearray(max(offset + len(magic) for offset, magic in signature.parts))
    for offset, magic in signature.parts:
        data[offset : offset + len(magic)] = magic
    return bytes(data)


def test_iso_media_brands() -> None:
    for fmt in (formats.AVIF, formats.HEIC, formats.HEIF):
        for signature in fmt.signatures:
            assert formats.ISO_BMFF.matches(_smallest_file(signature))


# Against Pillow.


@pytest.mark.parametrize("fmt", [f for f in FORMATS if f.pillow], ids=_ids)
def test_pillow_names_extensions_and_media_types_agree_with_pillows(fmt: ImageFormat) -> None:
    Image.init()
    registered = Image.registered_extensions()
    for ext in fmt.extensions:
        assert registered.get(ext, fmt.pillow[0]) in fmt.pillow, ext
    sharing = [f for f in FORMATS if f.pillow[:1] == fmt.pillow[:1]]
    assert Image.MIME.get(fmt.pillow[0], fmt.media_type) in {f.media_type for f in sharing}
    # Facts read by Pillow's name must not depend on which of them the name finds.
    assert {(f.alpha, f.animates, f.output) for f in sharing} == {
        (fmt.alpha, fmt.animates, fmt.output)
    }
    for name in fmt.pillow:
        assert formats.from_pillow(name) in sharing
        assert formats.from_pillow(name.lower()) in sharing


@pytest.mark.parametrize("fmt", OUTPUTS, ids=_ids)
def test_what_the_encoder_writes_is_identified_as_its_format(fmt: ImageFormat) -> None:
    assert set(codecs.ENCODABLE_MODES) == set(codecs.MAX_SIDE) == set(formats.OUTPUT_FORMATS)
    assert fmt.alpha == any(mode in ALPHA_MODES for mode in codecs.ENCODABLE_MODES[fmt.name])
    mode = "RGBA" if fmt.alpha else "RGB"
    frames = [Image.new(mode, (16, 12), colour) for colour in ("red", "blue")]
    body = codecs.encode(frames[0], fmt.name, fmt.default_quality)
    assert formats.identify(body) is fmt
    assert sniff(body, "") == fmt.media_type
    with Image.open(io.BytesIO(body)) as image:
        assert image.format == fmt.pillow[0]
    if fmt.keeps_animation:
        body = codecs.encode_animation(frames, [100, 100], 0, fmt.name, fmt.default_quality)
        assert formats.identify(body) is fmt
        with Image.open(io.BytesIO(body)) as image:
            assert getattr(image, "n_frames", 1) == 2
    else:
        with pytest.raises(ValueError, match="keeps no animation"):
            codecs.encode_animation(frames, [100, 100], 0, fmt.name, fmt.default_quality)


# Against the corpus (tests/corpus/MANIFEST.tsv: ``format`` is Pillow's name on open).


@pytest.mark.parametrize("row", ROWS, ids=[row["file"] for row in ROWS])
def test_magic_bytes_identify_the_corpus_images(row: dict[str, str]) -> None:
    data = (CORPUS / row["file"]).read_bytes()
    found = formats.identify(data)
    if row["format"]:
        assert found is not None and row["format"] in found.pillow, found
        assert sniff(data, "") == found.media_type
        assert (row["mode"] not in ALPHA_MODES) or found.alpha
    elif found is not None:
        # Pillow refused it (a bomb, HEIC without pillow-heif, a broken header): the bytes
        # still name a format, one Pillow calls as it calls the format the name says.
        named = formats.from_extension(Path(row["file"]).suffix)
        assert named is not None and named.pillow == found.pillow, (named, found)


def test_the_corpus_animations_are_of_formats_that_animate() -> None:
    # TIFF's pages and MPO's second image are not animations: the resizer takes image 0.
    animated = {row["format"] for row in ROWS if row["frames"] and int(row["frames"]) > 1}
    assert animated - {"TIFF", "MPO"} == {"GIF", "PNG", "WEBP", "AVIF"}
    for name in animated:
        fmt = formats.from_pillow(name)
        assert fmt is not None and fmt.animates == (name not in ("TIFF", "MPO")), name


def test_the_corpus_names_only_formats_of_the_registry() -> None:
    pillow_names = {name for fmt in FORMATS for name in fmt.pillow}
    assert {row["format"] for row in ROWS} - {""} <= pillow_names


# The behaviour built on the registry, pinned.


@pytest.mark.parametrize(
    ("head", "declared", "expected"),
    [
        (b"\xff\xd8\xff\xe0", "", "image/jpeg"),
        (b"\x89PNG\r\n\x1a\n", "", "image/png"),
        (b"GIF87a", "", "image/gif"),
        (b"GIF89a", "image/png", "image/gif"),
        (b"RIFF\x00\x00\x00\x00WEBPVP8 ", "", "image/webp"),
        (b"RIFF\x00\x00\x00\x00WAVEfmt ", "", "application/octet-stream"),
        (b"\x00\x00\x00\x18ftypavif", "", "image/avif"),
        (b"\x00\x00\x00\x18ftypavis", "", "image/avif"),
        (b"\x00\x00\x00\x18ftypheic", "", "image/heic"),
        (b"\x00\x00\x00\x18ftypheix", "", "image/heic"),
        (b"\x00\x00\x00\x18ftypmif1", "", "image/heif"),
        (b"\x00\x00\x00\x18ftypmsf1", "", "image/heif"),
        (b"\x00\x00\x00\x18ftypisom", "video/mp4", "application/octet-stream"),
        (b"\x00\x00\x00\x18ftyphevc", "image/heic", "image/heic"),
        (b"II*\x00", "", "image/tiff"),
        (b"MM\x00*", "", "image/tiff"),
        (b"BM", "", "image/bmp"),
        (b"BM<svg", "", "image/bmp"),
        (b"<?xml version='1.0'?><SVG xmlns='...'>", "", "image/svg+xml"),
        (b" " * 508 + b"<svg", "", "image/svg+xml"),
        (b" " * 509 + b"<svg", "", "application/octet-stream"),
        (b"plain text", "image/png", "image/png"),
        (b"plain text", "IMAGE/PNG", "application/octet-stream"),
        (b"plain text", "text/plain", "application/octet-stream"),
        (b"", "", "application/octet-stream"),
    ],
)
def test_sniffing(head: bytes, declared: str, expected: str) -> None:
    assert sniff(head, declared) == expected


# What Chromium sends for an <img> (its network stack's default for images, as the
# gallery's browser test sees it).
CHROMIUM_IMAGE_ACCEPT = "image/avif,image/webp,image/apng,image/svg+xml,image/*,*/*;q=0.8"


@pytest.mark.parametrize(
    ("name", "kept", "auto", "best"),
    [
        ("a.jpg", "jpeg", "jpeg", "avif"),
        ("a.JPEG", "jpeg", "jpeg", "avif"),
        # formats that can animate skip avif, whose output is a still (animation.py)
        ("a.png", "png", "png", "webp"),
        ("a.apng", "png", "png", "webp"),
        ("a.gif", "png", "png", "webp"),
        ("a.webp", "webp", "jpeg", "webp"),
        ("a.avif", "avif", "jpeg", "webp"),
        ("a.avifs", "avif", "jpeg", "webp"),
        ("a.heic", "jpeg", "jpeg", "avif"),
        ("a.tif", "jpeg", "jpeg", "avif"),
        ("a.bmp", "jpeg", "jpeg", "avif"),
        ("a.svg", "jpeg", "jpeg", "avif"),
        ("a", "jpeg", "jpeg", "avif"),
        (".png", "jpeg", "jpeg", "avif"),
        ("a.png/b", "jpeg", "jpeg", "avif"),
    ],
)
def test_the_output_of_a_source_by_its_name(name: str, kept: str, auto: str, best: str) -> None:
    config = Config()
    assert normalize(f"/p/{name}", "s=64x", None, config).format == kept
    assert negotiate("*/*", name, config) == auto
    assert negotiate("image/webp", name, config) == "webp"
    assert negotiate("image/avif,image/webp", name, config) == best
    assert negotiate(CHROMIUM_IMAGE_ACCEPT, name, config) == best


def test_disabled_outputs_fall_back_in_order() -> None:
    assert normalize("/a.png", "s=64x", None, Config(formats=("webp", "avif"))).format == "webp"
    assert normalize("/a.png", "s=64x", None, Config(formats=("avif", "png"))).format == "png"
    assert normalize("/a.gif", "s=64x", None, Config(formats=("avif", "jpeg"))).format == "jpeg"
    assert normalize("/a.webp", "s=64x", None, Config(formats=("avif",))).format == "avif"
    assert negotiate("image/avif", "a.png", Config(formats=("webp", "jpeg"))) == "jpeg"


# The registry is the only place these facts live.


def _scanned_sources() -> list[Path]:
    return [p for pkg in SCANNED_PACKAGES for p in sorted((REPO / pkg).rglob("*.py"))]


def _code_literals(path: Path) -> Iterator[tuple[int, str | bytes]]:
    """String and bytes constants of a module, prose (docstrings) aside."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    prose = {
        id(node.value)
        for node in ast.walk(tree)
        if isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant)
    }
    for node in ast.walk(tree):
        if not isinstance(node, ast.Constant) or id(node) in prose:
            continue
        if isinstance(node.value, str | bytes):
            yield node.lineno, node.value


MEDIA_TYPE = re.compile(r"(?<![\w/.-])image/")
MAGIC = {
    magic
    for fmt in FORMATS
    for magic in (
        *(part for signature in fmt.signatures for _, part in signature.parts),
        *([fmt.marker] if fmt.marker else []),
    )
} | {part for _, part in formats.ISO_BMFF.parts}


def _is_magic(value: bytes) -> bool:
    return any(
        value == magic
        or (len(magic) >= 3 and magic in value)
        or (len(value) >= 3 and value in magic)
        for magic in MAGIC
    )


def test_no_module_but_the_registry_names_a_media_type_or_magic_bytes() -> None:
    sources = _scanned_sources()
    assert REGISTRY in sources
    assert REPO / "infra" / "inventory.py" in sources
    found = [
        f"{path.relative_to(REPO)}:{line}: {value!r}"
        for path in sources
        if path != REGISTRY
        for line, value in _code_literals(path)
        if (isinstance(value, str) and MEDIA_TYPE.search(value))
        or (isinstance(value, bytes) and _is_magic(value))
    ]
    assert not found, "ask shared.formats instead:\n" + "\n".join(found)


def test_the_check_finds_what_it_looks_for(tmp_path: Path) -> None:
    module = tmp_path / "m.py"
    module.write_text(
        '"""Docs may say image/webp and b"RIFF"."""\n'
        'A = "image/webp"\n'
        'B = f"image/{A}"\n'
        'C = b"\\x89PNG"\n'
        'D = data[4:8] == b"ftyp"\n'
        'E = "application/octet-stream", b"{}", "/pass/image/x"\n',
        encoding="utf-8",
    )
    flagged = sorted(
        line
        for line, value in _code_literals(module)
        if (isinstance(value, str) and MEDIA_TYPE.search(value))
        or (isinstance(value, bytes) and _is_magic(value))
    )
    assert flagged == [2, 3, 4, 5]
