"""The error tree: each outcome's HTTP status and the text a viewer sees."""

from __future__ import annotations

import pytest

from shared import errors
from shared.errors import ImgedgeError

TABLE: list[tuple[type[ImgedgeError], int, str]] = [
    (errors.InvalidRequest, 400, "invalid request"),
    (errors.SignatureInvalid, 403, "invalid signature"),
    (errors.MethodNotAllowed, 405, "method not allowed"),
    (errors.SourceNotFound, 404, "image not found"),
    (errors.SourceTooLarge, 415, "source image too large"),
    (errors.UnsupportedImage, 415, "unsupported image format"),
    (errors.TooManyPixels, 415, "image dimensions exceed the limits"),
    (errors.CorruptImage, 415, "image data is corrupt or truncated"),
    (errors.UpstreamError, 502, "storage unavailable"),
    (errors.DeadlineExceeded, 503, "rendering took too long, try again"),
    (errors.InternalError, 500, "internal error"),
    (errors.ImgedgeError, 500, "internal error"),
]


@pytest.mark.parametrize(("cls", "status", "message"), TABLE)
def test_each_error_has_its_status_and_public_message(
    cls: type[ImgedgeError], status: int, message: str
) -> None:
    error = cls()
    assert (error.status, error.message, str(error)) == (status, message, message)
    assert error.detail is None
    assert error.is_client_error is (status < 500)
    detailed = cls("the detail")
    assert detailed.message == str(detailed) == f"{message}: the detail"
    assert detailed.detail == "the detail"
    assert cls("").message == message  # an empty detail adds nothing


def test_the_client_error_range_is_400_to_499() -> None:
    class Teapot(ImgedgeError):
        status = 418

    class Redirect(ImgedgeError):
        status = 399

    class Edge(ImgedgeError):
        status = 499

    class Server(ImgedgeError):
        status = 500

    assert Teapot().is_client_error and Edge().is_client_error
    assert not Redirect().is_client_error and not Server().is_client_error


def test_every_error_is_in_the_table() -> None:
    defined = {
        value
        for value in vars(errors).values()
        if isinstance(value, type) and issubclass(value, ImgedgeError)
    }
    assert defined == {cls for cls, _, _ in TABLE}
