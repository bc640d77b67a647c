"""The canonical URI escapes what CloudFront's invalidation paths must escape (non-ASCII,
RFC 1738's unsafe characters) and, for S3 and the wildcard, '?', '*' and '+'; nothing else.
The purge invalidates a '+' both ways."""

from __future__ import annotations

import pytest

from infra.local.cloudfront_api import check_paths
from regional_resizer.purge import invalidation_paths
from shared.contract import uri_of


@pytest.mark.parametrize(
    ("key", "uri"),
    [
        ("a (1)~+!'.jpg", "/a%20(1)%7E%2B!'.jpg"),
        ("ü.jpg", "/%C3%BC.jpg"),
        ("a b.jpg", "/a%20b.jpg"),
        ("256x/webp/a (1)~+!'.jpg", "/256x/webp/a%20(1)%7E%2B!'.jpg"),
        ("x/$&,;=:@.png", "/x/$&,;=:@.png"),
        ('q?s*"#%<>[\\]^`{|}.png', "/q%3Fs%2A%22%23%25%3C%3E%5B%5C%5D%5E%60%7B%7C%7D.png"),
        ("a%2B.png", "/a%252B.png"),
    ],
)
def test_uri_of_escapes_unsafe_and_non_ascii_characters_only(key: str, uri: str) -> None:
    assert uri_of(key) == uri
    check_paths([uri])  # a path CloudFront's API takes


def test_a_plus_is_invalidated_escaped_and_as_it_is() -> None:
    assert invalidation_paths("256x/webp/a+b.jpg") == (
        "/256x/webp/a%2Bb.jpg",
        "/256x/webp/a+b.jpg",
    )
    assert invalidation_paths("256x/webp/a%2Bb.jpg") == ("/256x/webp/a%252Bb.jpg",)
    assert invalidation_paths("256x/webp/a b.jpg") == ("/256x/webp/a%20b.jpg",)
