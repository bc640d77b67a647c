"""The demo page's transforms section: one picture per transform parameter on the
original, each with its viewer URL (a link) and the canonical key the edge maps it to; a
line instead of a picture when the configuration has no watermark, no signing key, or
turns an option off. And the local stack's default configuration, which names the sample
overlay as a watermark so that the section shows one."""

from __future__ import annotations

import io
from dataclasses import dataclass, field, replace
from html.parser import HTMLParser
from types import MappingProxyType

import pytest
from PIL import Image

from edge_router.normalize import normalize
from infra.local.gallery import DEMO_TRANSFORMS, Gallery
from infra.local.samples import SAMPLE_WATERMARKS, WATERMARK
from infra.local.stack import default_config
from shared.config import Config, Watermark
from shared.errors import SignatureInvalid
from tests.unit.test_gallery import CATALOGUE, HOSTILE, assert_safe

SOURCE = "/photos/cat.jpg"
SECRETS = {"old": "old-secret-0123456789", "new": "new-secret-0123456789"}
CONFIG = Config(
    signing_keys=SECRETS,
    watermarks={
        "logo": Watermark(key="brand/logo.png"),
        "draft": Watermark(key="brand/draft.png", gravity="center", scale=0.5),
    },
)


@dataclass
class Figure:
    src: str = ""
    links: list[str] = field(default_factory=list)
    text: str = ""
    style: str | None = None


class Section(HTMLParser):
    """The transforms section of a demo page: its figures (picture, links, caption text)
    and its note lines (each <p class=muted>)."""

    def __init__(self, html: str) -> None:
        super().__init__()
        self.inside = False
        self.figures: list[Figure] = []
        self.notes: list[str] = []
        self._figure: Figure | None = None
        self._note: list[str] | None = None
        self.feed(html)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = dict(attrs)
        if tag == "section" and found.get("class") == "transforms":
            self.inside = True
        if not self.inside:
            return
        if tag == "figure":
            self._figure = Figure()
            self.figures.append(self._figure)
        elif tag == "img" and self._figure is not None:
            self._figure.src, self._figure.style = found["src"] or "", found.get("style")
        elif tag == "a" and self._figure is not None:
            self._figure.links.append(found["href"] or "")
        elif tag == "p" and found.get("class") == "muted":
            self._note = []

    def handle_endtag(self, tag: str) -> None:
        if tag == "section":
            self.inside = False
        elif tag == "figure":
            self._figure = None
        elif tag == "p" and self._note is not None:
            self.notes.append("".join(self._note))
            self._note = None

    def handle_data(self, data: str) -> None:
        if self._figure is not None:
            self._figure.text += data
        if self._note is not None:
            self._note.append(data)

    def figure(self, url: str) -> Figure:
        (found,) = [f for f in self.figures if f.src == url]
        return found


def section(config: Config, key: str = "photos/cat.jpg") -> Section:
    status, _, body = Gallery(CATALOGUE, config).respond(
        "/_imgedge/demo", "key=" + key.replace("&", "%26"), []
    )
    assert status == 200
    html = body.decode()
    assert_safe(html)
    return Section(html)


def urls(page: Section) -> list[str]:
    return [f.src for f in page.figures]


def test_every_parameter_is_a_picture_linked_with_its_url_and_key() -> None:
    page = section(CONFIG)
    for name, query, _ in DEMO_TRANSFORMS:
        url = f"{SOURCE}?{query}"
        figure = page.figure(url)
        assert url in figure.links, name
        assert f"URL {url}" in figure.text, name
        assert f"key {normalize(SOURCE, query, None, CONFIG).key}" in figure.text, name
        assert figure.text.startswith(f"{name}: "), figure.text
    shown = urls(page)
    for name in ("g=smart", "g=north", "g=east", "fp=", "dpr=2", "r=90", "flip=h", "flip=v",
                 "blur=5", "sharpen=2", "fit=contain&bg=000000", "wm=logo", "wm=draft",
                 "crop="):  # fmt: skip
        assert any(name in url for url in shown), name
    assert len(shown) == len(DEMO_TRANSFORMS) + 3  # two watermarks and the crop
    assert page.notes == []
    # The pictures are told apart by their keys: no two transforms share one.
    keys = [normalize(SOURCE, url.split("?", 1)[1], None, CONFIG).key for url in shown]
    assert len(set(keys)) == len(keys)


@pytest.mark.parametrize(
    ("query", "key"),
    [
        ("s=320x320", "320x320/jpeg/photos/cat.jpg"),
        ("s=320x320&g=smart", "320x320-gsmart/jpeg/photos/cat.jpg"),
        ("s=320x320&g=north", "320x320-fp0.5,0/jpeg/photos/cat.jpg"),
        ("s=320x320&g=east", "320x320-fp1,0.5/jpeg/photos/cat.jpg"),
        ("s=320x320&fp=0.3,0.25", "320x320-fp0.3,0.25/jpeg/photos/cat.jpg"),
        ("s=160x&dpr=2", "320x/jpeg/photos/cat.jpg"),
        ("s=320x&r=90", "320x-r90/jpeg/photos/cat.jpg"),
        ("s=320x&flip=h", "320x-fliph/jpeg/photos/cat.jpg"),
        ("s=320x&flip=v", "320x-r180-fliph/jpeg/photos/cat.jpg"),
        ("s=320x&blur=5", "320x-blur5/jpeg/photos/cat.jpg"),
        ("s=320x&sharpen=2", "320x-sharpen2/jpeg/photos/cat.jpg"),
        ("s=320x160&fit=contain&bg=000000", "320x160-contain-bg000000/jpeg/photos/cat.jpg"),
        ("s=320x&wm=logo", "320x-wmlogo/jpeg/photos/cat.jpg"),
        ("s=320x&wm=draft", "320x-wmdraft/jpeg/photos/cat.jpg"),
    ],
)
def test_each_caption_names_the_key(query: str, key: str) -> None:
    assert f"key {key}" in section(CONFIG).figure(f"{SOURCE}?{query}").text


def test_dpr_2_shares_the_key_of_twice_the_size_and_shows_half_as_wide() -> None:
    figure = section(CONFIG).figure(f"{SOURCE}?s=160x&dpr=2")
    assert figure.style == "max-width: 160px"
    assert f"the key of {SOURCE}?s=320x too" in figure.text
    assert normalize(SOURCE, "s=320x", None, CONFIG).key == "320x/jpeg/photos/cat.jpg"
    others = [f for f in section(CONFIG).figures if f.src != f"{SOURCE}?s=160x&dpr=2"]
    assert all(f.style is None and "the key of" not in f.text for f in others)


def test_a_picture_per_watermark() -> None:
    page = section(CONFIG)
    assert [url for url in urls(page) if "wm=" in url] == [
        f"{SOURCE}?s=320x&wm=logo",
        f"{SOURCE}?s=320x&wm=draft",
    ]
    assert "brand/draft.png" in page.figure(f"{SOURCE}?s=320x&wm=draft").text


def test_the_crop_is_signed_with_the_last_key_id_and_verifies() -> None:
    page = section(CONFIG)
    (crop,) = [url for url in urls(page) if "crop=" in url]
    path, query = crop.split("?", 1)
    assert path == SOURCE
    assert "crop=0,0,800,600" in query and "&sig=new." in query
    request = normalize(path, query, None, CONFIG)  # raises unless the signature verifies
    assert request.key == "320x-crop0,0,800,600/jpeg/photos/cat.jpg"
    figure = page.figure(crop)
    assert f"key {request.key}" in figure.text and crop in figure.links
    tampered = query.replace("crop=0,0,800,600", "crop=0,0,800,601")
    with pytest.raises(SignatureInvalid):
        normalize(path, tampered, None, CONFIG)
    # With one key, that one signs: the same output, another signature.
    old_only = Config(signing_keys={"old": SECRETS["old"]})
    (crop_old,) = [url for url in urls(section(old_only)) if "crop=" in url]
    assert "&sig=old." in crop_old
    assert normalize(path, crop_old.split("?", 1)[1], None, old_only).key == request.key


def test_without_watermarks_or_signing_keys_one_line_each_says_so() -> None:
    page = section(Config())
    assert [url.split("?", 1)[1] for url in urls(page)] == [q for _, q, _ in DEMO_TRANSFORMS]
    assert page.notes == [
        "wm: No watermark is configured ([watermarks.NAME]).",
        "crop: No signing key is configured (signing_keys): a crop needs a signed URL.",
    ]


def test_an_option_the_configuration_turns_off_is_a_line_with_the_edges_answer() -> None:
    page = section(Config(blur_sigmas=(), background_colours=()))
    assert not [url for url in urls(page) if "blur=" in url or "bg=" in url]
    assert len(page.figures) == len(DEMO_TRANSFORMS) - 2
    blur, contain = page.notes[:2]
    assert blur.startswith("blur=5: not shown: the edge answers 400 (invalid request: ")
    assert contain.startswith("fit=contain&bg=000000: not shown: the edge answers 400")


def test_a_hostile_key_stays_text_in_the_transforms_section() -> None:
    page = section(CONFIG, HOSTILE)
    assert len(page.figures) == len(DEMO_TRANSFORMS) + 3
    assert all(url.startswith("/photos/%3Cscript%3E") for url in urls(page))
    assert all(HOSTILE[:10] in f.text for f in page.figures)  # each key, as text


def test_the_local_stacks_default_configuration_names_the_sample_overlay() -> None:
    config = default_config(samples=True)
    assert dict(config.watermarks) == {"logo": Watermark(key=WATERMARK.key)}
    assert config.watermarks == SAMPLE_WATERMARKS
    # Nothing else differs from the defaults but the tracing of every request.
    assert default_config(samples=False) == Config(trace_sampling_rate=1.0)
    assert replace(config, watermarks=MappingProxyType({})) == Config(trace_sampling_rate=1.0)
    # And the demo shows it.
    assert "wm=logo" in section(config).figure(f"{SOURCE}?s=320x&wm=logo").text


def test_the_sample_overlay_is_a_semi_transparent_png() -> None:
    with Image.open(io.BytesIO(WATERMARK.draw())) as mark:
        assert (mark.format, mark.mode) == ("PNG", "RGBA")
        alphas = set(mark.getchannel("A").tobytes())
    assert 0 in alphas and max(alphas) < 255 and len(alphas) > 2
    assert WATERMARK.key.startswith("_imgedge-samples/") and WATERMARK.key.endswith(".png")
