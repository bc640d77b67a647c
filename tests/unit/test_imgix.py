"""imgix's parameters: each maps to the key imgedge's own spelling reaches, and whatever
imgedge cannot honour is a 400 that names it."""

from __future__ import annotations

import pytest

from edge_router.normalize import normalize
from shared.config import Config
from shared.errors import InvalidRequest

CONFIG = Config()
CHROME = "image/avif,image/webp,image/apng,image/svg+xml,image/*,*/*;q=0.8"


@pytest.mark.parametrize(
    ("imgix", "imgedge"),
    [
        ("w=256&h=256&fit=crop&fm=webp", "s=256x256&f=webp"),
        ("w=256&h=256", "s=256x256&fit=inside"),  # imgix's default fit is clip
        ("w=256&h=256&fit=max", "s=256x256&fit=inside"),
        ("w=256&h=256&fit=fill", "s=256x256&fit=contain"),
        ("w=256&h=256&fit=fill&fill-color=000000", "s=256x256&fit=contain&bg=000000"),
        ("w=256&h=256&fit=fillmax&bg=000", "s=256x256&fit=contain&bg=000000"),
        ("w=640", "s=640x"),
        ("h=480&fm=jpg", "s=x480&f=jpeg"),
        ("w=640&fm=png&q=61", "s=640x&f=png&q=61"),
        ("w=640&auto=format", "s=640x&f=auto"),
        ("w=640&auto=format&fm=webp", "s=640x&f=webp"),  # fm wins over auto=format
        ("w=640&auto=format,compress", "s=640x&f=auto&q=45"),
        ("w=640&auto=compress&q=80", "s=640x&q=80"),
        ("w=320&dpr=2", "s=320x&dpr=2"),
        ("w=640&h=360&fit=crop&crop=focalpoint&fp-x=0.3&fp-y=0.2", "s=640x360&fp=0.3,0.2"),
        ("w=640&h=360&fit=crop&crop=focalpoint", "s=640x360&fp=0.5,0.5"),
        ("w=640&h=360&fit=crop&crop=entropy", "s=640x360&g=smart"),
        ("w=640&h=360&fit=crop&crop=top,left", "s=640x360&g=nw"),
        ("w=640&h=360&fit=crop&crop=bottom", "s=640x360&g=s"),
        ("w=640&h=360&crop=entropy", "s=640x360&fit=inside"),  # crop needs fit=crop
        ("w=640&blur=200", "s=640x&blur=20"),
        ("w=640&sharp=50", "s=640x&sharpen=1"),
        ("w=640&rot=90&flip=v", "s=640x&r=90&flip=v"),
        ("w=640&bg=ff000000", "s=640x&bg=000000"),
        ("ixlib=js-3.8.0&w=640", "s=640x"),
        ("W=640&FM=WEBP", "s=640x&f=webp"),
    ],
)
def test_an_imgix_query_reaches_the_key_of_its_imgedge_spelling(imgix: str, imgedge: str) -> None:
    theirs = normalize("/p/cat.jpg", imgix, CHROME, CONFIG)
    assert theirs == normalize("/p/cat.jpg", imgedge, CHROME, CONFIG)
    assert not theirs.is_original


@pytest.mark.parametrize(
    ("query", "named"),
    [
        ("w=640&sat=20", "not supported here: sat"),
        ("w=640&txt=hello&mark=x.png", "not supported here: mark, txt"),
        ("sat=20", "not supported here: sat"),
        ("w=640&fit=scale", "fit=scale is not supported"),
        ("w=640&fit=facearea", "fit=facearea is not supported"),
        ("w=640&fm=gif", "fm=gif is not an output"),
        ("w=640&fm=mp4", "fm=mp4 is not an output"),
        ("w=640&auto=enhance", "auto=enhance is not supported"),
        ("w=640&h=360&fit=crop&crop=faces", "crop=faces is not supported"),
        ("w=640&h=360&fit=crop&crop=top,bottom", "opposite sides"),
        ("w=0.5", "whole pixels only"),
        ("w=640&rot=45", "rot is supported for 0, 90, 180 and 270 only"),
        ("w=640&blur=3000", "blur must be a number in 0..2000"),
        ("w=640&bg=80336699", "transparency is not supported"),
        ("w=640&bg=12345", "3, 4, 6 or 8 hex digits"),
        ("w=640&fill=blur&fit=fill&h=10", "fill is supported as solid only"),
        ("w=640&s=0123abcd", "mixes imgix parameters (w) with imgedge's (s)"),
        ("w=640&page=2", "not supported here: page"),
        ("w=640&rect=0,0,10,10", "crop needs a signed URL"),
    ],
)
def test_what_imgedge_cannot_honour_is_a_400_naming_it(query: str, named: str) -> None:
    with pytest.raises(InvalidRequest) as raised:
        normalize("/p/cat.jpg", query, CHROME, CONFIG)
    assert named in raised.value.message
    assert raised.value.status == 400


def test_a_site_s_own_generic_parameters_do_not_switch_dialect() -> None:
    assert normalize("/a.jpg", "s=256x&page=2&loop=1", None, CONFIG).key == "256x/jpeg/a.jpg"
    assert normalize("/a.jpg", "page=2", None, CONFIG).is_original
