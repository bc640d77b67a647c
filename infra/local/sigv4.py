"""AWS Signature Version 4 for the function URL's ``AWS_IAM`` auth type: CloudFront's side
signs (origin access control), the function URL's side verifies.

Both sides use botocore's ``SigV4Auth`` for the canonical request, the string to sign and
the signature, so a request signed here verifies there byte for byte, and a request signed
by any SigV4 client (boto3, awscurl) verifies as Lambda would verify it:

- "Invoking Lambda function URLs" (Lambda Developer Guide,
  https://docs.aws.amazon.com/lambda/latest/dg/urls-invocation.html): with ``AWS_IAM``
  "you must sign each HTTP request using AWS Signature Version 4 (SigV4) ... When your
  function URL receives a request, Lambda also calculates the SigV4 signature. Lambda
  processes the request only if the signatures match."
- "Restrict access to an AWS Lambda function URL origin" (CloudFront Developer Guide,
  https://docs.aws.amazon.com/AmazonCloudFront/latest/DeveloperGuide/private-content-restricting-access-to-lambda.html):
  OAC signs each origin request for the ``lambda`` service; "Lambda doesn't support
  unsigned payloads".

The verifier reads the pessimistic side wherever a detail is not documented: only the
``Authorization`` header form (no presigned query strings), ``host`` and ``x-amz-date``
must both be signed, the date must be within 15 minutes of now either way (SigV4's clock
skew), an ``x-amz-content-sha256`` header must be the body's real hash (never
``UNSIGNED-PAYLOAD``), and a session token must be the one issued with the key.
"""

from __future__ import annotations

import calendar
import hashlib
import hmac
import re
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from botocore.auth import SIGV4_TIMESTAMP, SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.compat import HTTPHeaders
from botocore.credentials import Credentials

from infra.local.events import ACCOUNT_ID

ALGORITHM = "AWS4-HMAC-SHA256"
SERVICE = "lambda"
REGION = "us-east-1"
MAX_SKEW_S = 15 * 60
EMPTY_SHA256 = hashlib.sha256(b"").hexdigest()

# Headers the signer owns: a viewer's own values never survive OAC's "always sign".
SIGNING_HEADERS = frozenset(
    {"authorization", "x-amz-date", "x-amz-security-token", "x-amz-content-sha256"}
)

_AUTHORIZATION = re.compile(
    r"AWS4-HMAC-SHA256\s+Credential=(?P<credential>[^,\s]+),\s*"
    r"SignedHeaders=(?P<signed>[^,\s]+),\s*Signature=(?P<signature>[0-9a-f]{64})"
)


@dataclass(frozen=True)
class AccessKey:
    """An IAM user's access key, and who the user is (for ``requestContext.authorizer``)."""

    access_key_id: str
    secret_access_key: str = field(repr=False)
    session_token: str | None = field(default=None, repr=False)
    account_id: str = ACCOUNT_ID
    user_name: str = "imgedge-local"

    @property
    def user_id(self) -> str:
        """A stable IAM user unique ID: ``AIDA`` and 17 characters, as AWS shapes them."""
        digest = hashlib.sha256(self.access_key_id.encode()).hexdigest()[:17].upper()
        return f"AIDA{digest}"

    @property
    def user_arn(self) -> str:
        return f"arn:aws:iam::{self.account_id}:user/{self.user_name}"

    def iam_authorizer(self) -> dict[str, Any]:
        """``requestContext.authorizer.iam`` of a request signed with this key, with the keys
        of the documented payload 2.0 example ("Invoking Lambda function URLs")."""
        return {
            "accessKey": self.access_key_id,
            "accountId": self.account_id,
            "callerId": self.user_id,
            "cognitoIdentity": None,
            "principalOrgId": None,
            "userArn": self.user_arn,
            "userId": self.user_id,
        }

    def botocore(self) -> Credentials:
        return Credentials(self.access_key_id, self.secret_access_key, self.session_token)


class SignatureRejected(Exception):
    """The request is not signed by an accepted key. ``kind`` picks the response:
    ``missing`` (no signature at all), ``unrecognized`` (an unknown key or token),
    ``invalid`` (anything else: malformed, wrong scope, stale, not matching)."""

    def __init__(self, kind: str, message: str) -> None:
        super().__init__(message)
        self.kind = kind
        self.message = message


def amz_date(now: float) -> str:
    return time.strftime(SIGV4_TIMESTAMP, time.gmtime(now))


class _Signer(SigV4Auth):  # type: ignore[misc]  # botocore ships no types
    """SigV4Auth over exactly the headers it is given (``signed``: lower-case names).

    botocore picks the headers to sign itself (all but a blacklist); a verifier must use
    the names the request lists in ``SignedHeaders`` instead, whatever they are."""

    def __init__(
        self, credentials: Credentials, region: str, signed: Sequence[str] | None = None
    ) -> None:
        super().__init__(credentials, SERVICE, region)
        self._signed = signed

    def headers_to_sign(self, request: Any) -> Any:
        if self._signed is None:
            return super().headers_to_sign(request)
        selected = HTTPHeaders()
        for name, value in request.headers.items():
            if name.lower() in self._signed:
                selected[name.lower()] = value
        return selected

    def sign(self, request: AWSRequest, timestamp: str) -> str:
        """The signature of ``request`` at ``timestamp`` (``YYYYMMDDTHHMMSSZ``)."""
        request.context["timestamp"] = timestamp
        canonical = self.canonical_request(request)
        return str(self.signature(self.string_to_sign(request, canonical), request))

    def authorization(self, request: AWSRequest, signature: str) -> str:
        signed = self.signed_headers(self.headers_to_sign(request))
        credential = self.scope(request)
        return f"{ALGORITHM} Credential={credential}, SignedHeaders={signed}, Signature={signature}"


def sign_headers(
    method: str,
    url: str,
    headers: Iterable[tuple[str, str]],
    key: AccessKey,
    *,
    body: bytes = b"",
    region: str = REGION,
    now: float | None = None,
) -> list[tuple[str, str]]:
    """``headers`` (without any signing headers of their own), plus ``Host`` if absent,
    ``X-Amz-Date``, ``X-Amz-Security-Token`` (with a session token), ``X-Amz-Content-Sha256``
    (the body's hash: CloudFront sends it, Lambda takes no unsigned payload) and
    ``Authorization``: the request as OAC sends it for service ``lambda``."""
    timestamp = amz_date(time.time() if now is None else now)
    kept = [(n, v) for n, v in headers if n.lower() not in SIGNING_HEADERS]
    if "host" not in {n.lower() for n, _ in kept}:
        kept.insert(0, ("Host", urlsplit(url).netloc))
    kept.append(("X-Amz-Date", timestamp))
    if key.session_token:
        kept.append(("X-Amz-Security-Token", key.session_token))
    kept.append(("X-Amz-Content-Sha256", hashlib.sha256(body).hexdigest()))
    request = AWSRequest(method=method.upper(), url=url, data=body)
    for name, value in kept:
        request.headers[name] = value
    signer = _Signer(key.botocore(), region)
    signature = signer.sign(request, timestamp)
    return [*kept, ("Authorization", signer.authorization(request, signature))]


def verify(
    method: str,
    target: str,
    headers: Sequence[tuple[str, str]],
    body: bytes,
    accepted: Iterable[AccessKey],
    *,
    region: str = REGION,
    now: float | None = None,
) -> AccessKey:
    """The accepted key that signed this request (``target``: the request line's path and
    query, as received), or SignatureRejected."""
    now = time.time() if now is None else now
    lower: dict[str, list[str]] = {}
    for name, value in headers:
        lower.setdefault(name.lower(), []).append(value)
    authorizations = lower.get("authorization", [])
    if not authorizations:
        raise SignatureRejected("missing", "Missing Authentication Token")
    if len(authorizations) > 1:
        raise SignatureRejected("invalid", "More than one Authorization header")
    match = _AUTHORIZATION.fullmatch(authorizations[0].strip())
    if match is None:
        raise SignatureRejected("invalid", "Authorization header is not AWS4-HMAC-SHA256")
    access_key_id, _, scope = match["credential"].partition("/")
    scope_date, _, rest = scope.partition("/")
    signed = match["signed"].split(";")
    if signed != sorted(set(signed)) or "host" not in signed or "x-amz-date" not in signed:
        raise SignatureRejected(
            "invalid", "SignedHeaders must be sorted and include host and x-amz-date"
        )
    if any(name not in lower for name in signed):
        raise SignatureRejected("invalid", "A signed header is missing from the request")
    if rest != f"{region}/{SERVICE}/aws4_request":
        raise SignatureRejected(
            "invalid", f"Credential should be scoped to {region}/{SERVICE}/aws4_request"
        )
    dates = lower["x-amz-date"]
    try:
        signed_at = calendar.timegm(time.strptime(dates[0], SIGV4_TIMESTAMP))
    except ValueError:
        raise SignatureRejected("invalid", f"Invalid X-Amz-Date {dates[0]!r}") from None
    if len(dates) > 1 or scope_date != dates[0][:8]:
        raise SignatureRejected("invalid", "Credential date does not match X-Amz-Date")
    if signed_at < now - MAX_SKEW_S:
        raise SignatureRejected(
            "invalid",
            f"Signature expired: {dates[0]} is now earlier than "
            f"{amz_date(now - MAX_SKEW_S)} ({amz_date(now)} - 15 min.)",
        )
    if signed_at > now + MAX_SKEW_S:
        raise SignatureRejected(
            "invalid",
            f"Signature not yet current: {dates[0]} is still later than "
            f"{amz_date(now + MAX_SKEW_S)} ({amz_date(now)} + 15 min.)",
        )
    content_sha256 = lower.get("x-amz-content-sha256")
    if content_sha256 is not None and content_sha256 != [hashlib.sha256(body).hexdigest()]:
        raise SignatureRejected("invalid", "X-Amz-Content-Sha256 is not the body's SHA-256")

    key = next((k for k in accepted if k.access_key_id == access_key_id), None)
    tokens = lower.get("x-amz-security-token")
    if key is None or tokens != ([key.session_token] if key.session_token else None):
        raise SignatureRejected(
            "unrecognized", "The security token included in the request is invalid."
        )

    path, _, query = target.partition("?")
    url = f"http://{lower['host'][0]}{path}?{query}"
    request = AWSRequest(method=method.upper(), url=url, data=body)
    for name, value in headers:
        if name.lower() in signed:
            request.headers[name] = value
    expected = _Signer(key.botocore(), region, signed).sign(request, dates[0])
    if not hmac.compare_digest(expected, match["signature"]):
        raise SignatureRejected(
            "invalid",
            "The request signature we calculated does not match the signature you provided. "
            "Check your AWS Secret Access Key and signing method. "
            "Consult the service documentation for details.",
        )
    return key
