"""Signed URLs: a valid signature unlocks exact sizes within the hard limit; anything else
about a signature is a 403; unsigned requests keep the allow-list."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from edge_router.normalize import normalize
from shared.config import Config
from shared.contract import ImageRequest
from shared.errors import InvalidRequest, SignatureInvalid
from shared.signing import signature

CONFIG = Config(signing_keys={"k1": "first-secret-0123456789", "k2": "second-secret-0123456789"})


def signed_query(query: str, key: str, key_id: str = "k1") -> str:
    return f"{query}&sig={signature(key, key_id, dict(CONFIG.signing_keys)[key_id])}"


def test_a_signature_unlocks_an_exact_size() -> None:
    assert normalize("/a.jpg", "s=300x200&f=webp", None, CONFIG).key == "320x256/webp/a.jpg"
    query = signed_query("s=300x200&f=webp", "300x200/webp/a.jpg")
    request = normalize("/a.jpg", query, None, CONFIG)
    assert request.key == "300x200/webp/a.jpg"
    # the resizer takes that key; the edge, given it directly, does not
    assert ImageRequest.parse(request.key, CONFIG, signed=True) == request
    with pytest.raises(InvalidRequest):
        ImageRequest.parse(request.key, CONFIG)
    assert normalize(request.uri, "", None, CONFIG).key == "original/300x200/webp/a.jpg"


def test_spelling_does_not_matter_but_the_output_does() -> None:
    query = signed_query("s=300x200&f=webp", "300x200/webp/a.jpg")
    shuffled = "F=WEBP&" + query.replace("&f=webp", "").upper().replace("SIG=K1.", "sig=k1.")
    assert normalize("/a.jpg", shuffled.lower(), None, CONFIG).key == "300x200/webp/a.jpg"
    for other in ("s=300x201&f=webp", "s=300x200&f=avif"):
        with pytest.raises(SignatureInvalid):
            normalize("/a.jpg", other + "&" + query.split("&")[-1], None, CONFIG)
    with pytest.raises(SignatureInvalid):
        normalize("/b.jpg", query, None, CONFIG)


def test_key_rotation_and_refusals() -> None:
    key = "300x200/webp/a.jpg"
    assert normalize("/a.jpg", signed_query("s=300x200&f=webp", key, "k2"), None, CONFIG)
    for bad in ("k3.0123456789abcdef0123456789abcdef", "k1.zz", "k1", "", "k1." + "0" * 32):
        with pytest.raises(SignatureInvalid) as raised:
            normalize("/a.jpg", f"s=300x200&f=webp&sig={bad}", None, CONFIG)
        assert raised.value.status == 403
    with pytest.raises(InvalidRequest):  # a signature over nothing
        normalize("/a.jpg", "sig=k1." + "0" * 32, None, CONFIG)
    with pytest.raises(InvalidRequest):  # beyond the hard limit, signed or not
        normalize("/a.jpg", signed_query("s=9000x&f=webp", "9000x/webp/a.jpg"), None, CONFIG)


def test_without_keys_every_signature_is_refused() -> None:
    with pytest.raises(SignatureInvalid):
        normalize("/a.jpg", "s=300x&sig=k1." + "0" * 32, None, Config())


@given(st.text(max_size=64))
def test_any_signature_text_is_a_403_or_a_400(value: str) -> None:
    try:
        normalize("/a.jpg", "s=300x200&sig=" + value, None, CONFIG)
    except (SignatureInvalid, InvalidRequest):
        return
    raise AssertionError("an arbitrary signature verified")


# Key ids: whatever the configuration allows (1 to 32 of a-z, 0-9, '_' and '-') signs.
KEY_IDS = ["a" * 32, "z", "0", "9", "_", "-", "a", "k-1_z9", "0123456789abcdefghijklmnopqrstuv"]


@pytest.mark.parametrize("key_id", KEY_IDS)
def test_every_key_id_the_configuration_allows_signs(key_id: str) -> None:
    secret = "a-secret-of-16-chars-at-least"
    config = Config(signing_keys={key_id: secret})
    key = "300x200/webp/a.jpg"
    query = f"s=300x200&f=webp&sig={signature(key, key_id, secret)}"
    assert normalize("/a.jpg", query, None, config).key == key


@pytest.mark.parametrize("size", ["1x8192", "8192x1", "1x", "x8192", "8192x8192", "1x1"])
def test_signed_sizes_reach_both_hard_limits(size: str) -> None:
    key = f"{size}/png/a.jpg"
    request = normalize("/a.jpg", signed_query(f"s={size}&f=png", key), None, CONFIG)
    assert request.key == key
    assert ImageRequest.parse(key, CONFIG, signed=True) == request


@pytest.mark.parametrize("size", ["8193x1", "1x8193", "x8193", "0x1", "1x0"])
def test_signed_sizes_beyond_them_are_refused(size: str) -> None:
    query = signed_query(f"s={size}&f=png", f"{size}/png/a.jpg")
    with pytest.raises(InvalidRequest):
        normalize("/a.jpg", query, None, CONFIG)


def test_a_mac_of_any_hex_digits_verifies() -> None:
    # MACs with each of 0-9 and a-f between them: no hex digit is left out of the grammar
    keys = ["1x8192/png/a.jpg", "x8192/png/a.jpg", "8192x1/png/a.jpg", "300x200/webp/a.jpg"]
    secret = dict(CONFIG.signing_keys)["k1"]
    digits = "".join(signature(key, "k1", secret).split(".")[1] for key in keys)
    assert set(digits) == set("0123456789abcdef")
    for key in keys:
        size, fmt = key.split("/")[:2]
        assert normalize("/a.jpg", signed_query(f"s={size}&f={fmt}", key), None, CONFIG).key == key
