"""One error tree for both stages.

Each class carries the HTTP status it maps to and a public message that is safe to show a
viewer. An instance may add a more specific public detail (written by imgedge itself, never
copied from a library's exception text). Only the handlers catch these and turn them into
responses; library errors are translated into them once, at the boundary.
"""

from __future__ import annotations

from typing import ClassVar


class ImgedgeError(Exception):
    """Base class: an outcome with an HTTP status and a public message."""

    status: ClassVar[int] = 500
    public_message: ClassVar[str] = "internal error"

    def __init__(self, detail: str | None = None) -> None:
        self.detail = detail
        super().__init__(self.message)

    @property
    def message(self) -> str:
        """The text a viewer sees: the class message, refined by the detail if any."""
        if self.detail:
            return f"{self.public_message}: {self.detail}"
        return self.public_message

    @property
    def is_client_error(self) -> bool:
        return 400 <= self.status < 500


# --- the viewer's mistakes (4xx) -----------------------------------------------------------


class InvalidRequest(ImgedgeError):
    """A URL, parameter or key that the contract does not accept."""

    status = 400
    public_message = "invalid request"


class SignatureInvalid(ImgedgeError):
    """A ``sig`` parameter that does not verify (unknown key id, wrong or malformed MAC)."""

    status = 403
    public_message = "invalid signature"


class MethodNotAllowed(ImgedgeError):
    status = 405
    public_message = "method not allowed"


class SourceNotFound(ImgedgeError):
    """The original does not exist in the originals bucket."""

    status = 404
    public_message = "image not found"


class SourceTooLarge(ImgedgeError):
    """The original has more bytes than the source byte limit. 415, not 413: CloudFront
    caches a 415 that carries a max-age and never caches a 413, so a repeat within the
    error TTL does not reach the resizer (docs/contract.md, "Statuses")."""

    status = 415
    public_message = "source image too large"


class UnsupportedImage(ImgedgeError):
    """Not an image, or an image format imgedge does not decode."""

    status = 415
    public_message = "unsupported image format"


class TooManyPixels(ImgedgeError):
    """Declared dimensions (times frames) exceed the pixel limits: refused before decoding.
    415, not 422, which CloudFront never caches (as ``SourceTooLarge``)."""

    status = 415
    public_message = "image dimensions exceed the limits"


class CorruptImage(ImgedgeError):
    """A recognised format whose data cannot be decoded (truncated, broken). 415, not 422,
    which CloudFront never caches (as ``SourceTooLarge``)."""

    status = 415
    public_message = "image data is corrupt or truncated"


# --- imgedge's or the platform's failures (5xx, never cached) ------------------------------


class UpstreamError(ImgedgeError):
    """S3 (or another dependency) failed after retries."""

    status = 502
    public_message = "storage unavailable"


class DeadlineExceeded(ImgedgeError):
    """The request's time budget (the function's timeout less a safety margin) ran out
    between two steps of a render: stopped, nothing stored. 503, never cached: the same
    request may well succeed on a retry, on a warm, less busy instance."""

    status = 503
    public_message = "rendering took too long, try again"


class InternalError(ImgedgeError):
    status = 500
    public_message = "internal error"
