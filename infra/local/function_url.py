"""A Lambda function URL on 127.0.0.1: HTTP request -> payload 2.0 event -> worker -> HTTP.

The response mapping follows the Lambda Developer Guide ("Invoking Lambda function URLs"):
a dict with ``statusCode`` is taken as is (``headers``, ``cookies`` as Set-Cookie,
``body`` base64-decoded when ``isBase64Encoded``); any other return value becomes a 200
``application/json`` response with the value as JSON. An error, a timeout, a crashed worker,
a worker over its memory or a response over the 6 MB buffered limit answer 502, as function
URLs do; no idle worker within the wait answers 429.

Auth type ``AWS_IAM`` (the default, as deployed: CloudFront's origin access control signs
every origin request) takes only requests signed with SigV4 for service ``lambda`` by one of
the accepted keys (``infra.local.sigv4``); the function then sees the ``AWS_IAM`` event, with
``requestContext.authorizer.iam``. Anything else is a 403 and no invocation, with the body
and ``x-amzn-ErrorType`` function URLs send:

- no signature: ``AccessDeniedException``, ``{"Message":"Forbidden. For troubleshooting
  Function URL authorization issues, see: https://docs.aws.amazon.com/lambda/latest/dg/urls-auth.html"}``
  (as an unsigned call answers, reported against "Control access to Lambda function URLs":
  github.com/awsdocs/aws-lambda-developer-guide issue 494);
- a signature that does not verify (or is stale): ``InvalidSignatureException``,
  ``{"message":"The request signature we calculated does not match ..."}`` (AWS re:Post,
  "POST request to presigned AWS Lambda Function URL with unsigned payload");
- an access key or token the server does not know: ``UnrecognizedClientException``,
  ``{"message":"The security token included in the request is invalid."}`` (SigV4's answer
  to an unknown key; Lambda's own documentation names no other).

``NONE`` invokes for any request, with the ``NONE`` event (``accountId`` "anonymous").

Trace: every invocation runs in a trace of its own, a fresh root whatever the request
carries, set where Lambda sets it: ``_X_AMZN_TRACE_ID`` in the worker for that invocation
(Lambda Developer Guide, "Defined runtime environment variables",
https://docs.aws.amazon.com/lambda/latest/dg/configuration-envvars.html#configuration-envvars-runtime)
and the event's ``x-amzn-trace-id`` header (replacing any incoming one). No AWS document
says a function URL adopts an incoming ``X-Amzn-Trace-Id`` as the invocation's trace, so
this is the pessimistic reading, and what the local stack's tests prove imgedge's tracing
against. ``adopt_trace_header=True`` is the optimistic one: an incoming header that parses
becomes the invocation's trace.
"""

from __future__ import annotations

import base64
import json
import logging
import uuid
from collections.abc import Iterable
from http.server import BaseHTTPRequestHandler
from typing import Any, Literal

from infra.local.events import ACCOUNT_ID
from infra.local.events import function_url_event as build_event
from infra.local.http_server import BackgroundHTTPServer, reason_phrase
from infra.local.lambda_runtime import Invocation, WorkerPool
from infra.local.sigv4 import REGION, AccessKey, SignatureRejected, verify
from shared.trace_context import AWS_TRACE_HEADER, TraceHeader, new_segment_id, new_trace_root

log = logging.getLogger("imgedge.local")


MAX_RESPONSE_BYTES = 6 * 1024 * 1024  # buffered response payload limit
MAX_REQUEST_BYTES = 6 * 1024 * 1024

AuthType = Literal["AWS_IAM", "NONE"]
AUTH_TYPES: tuple[AuthType, ...] = ("AWS_IAM", "NONE")
FORBIDDEN_MESSAGE = (
    "Forbidden. For troubleshooting Function URL authorization issues, see: "
    "https://docs.aws.amazon.com/lambda/latest/dg/urls-auth.html"
)
# SignatureRejected.kind -> x-amzn-ErrorType and the JSON body's key
_REJECTIONS = {
    "missing": ("AccessDeniedException", "Message"),
    "invalid": ("InvalidSignatureException", "message"),
    "unrecognized": ("UnrecognizedClientException", "message"),
}


class ResponseError(ValueError):
    """The function's return value is not a valid function URL response."""


def payload_bytes(result: Any) -> int:
    """The length of ``result`` serialized as JSON, what the 6 MB limit is held against.
    A string ``body`` that JSON writes as it is (printable ASCII without a quote or a
    backslash: a base64 body always) is counted rather than serialized again: its JSON is
    itself in quotes."""
    body = result.get("body") if isinstance(result, dict) else None
    if (
        isinstance(body, str)
        and body.isascii()
        and body.isprintable()
        and '"' not in body
        and "\\" not in body
    ):
        return len(json.dumps({**result, "body": ""}, default=str)) + len(body)
    return len(json.dumps(result, default=str))


def http_response(result: Any) -> tuple[int, list[tuple[str, str]], bytes]:
    """Status, headers and body for a handler's return value."""
    if payload_bytes(result) > MAX_RESPONSE_BYTES:
        raise ResponseError("response payload larger than 6 MB")
    if not (isinstance(result, dict) and "statusCode" in result):
        return 200, [("Content-Type", "application/json")], json.dumps(result).encode()
    status = result["statusCode"]
    if isinstance(status, bool) or not isinstance(status, int) or not 100 <= status <= 599:
        raise ResponseError(f"invalid statusCode {status!r}")
    headers = result.get("headers") or {}
    cookies = result.get("cookies") or []
    if not isinstance(headers, dict) or not isinstance(cookies, list):
        raise ResponseError("headers must be an object and cookies a list")
    pairs = [(str(name), str(value)) for name, value in headers.items()]
    pairs += [("Set-Cookie", str(cookie)) for cookie in cookies]
    body = result.get("body")
    if body is None:
        data = b""
    elif not isinstance(body, str):
        data = json.dumps(body).encode()
    elif result.get("isBase64Encoded"):
        try:
            data = base64.b64decode(body, validate=True)
        except ValueError as error:
            raise ResponseError("body is not valid base64") from error
    else:
        data = body.encode("utf-8")
    return status, pairs, data


class _Handler(BaseHTTPRequestHandler):
    # Headers and body go out in separate writes: without this, small responses wait
    # for the peer's delayed ACK (40 ms).
    disable_nagle_algorithm = True
    server: FunctionUrlServer
    protocol_version = "HTTP/1.1"

    def version_string(self) -> str:
        return "imgedge-function-url"

    def log_message(self, format: str, *args: Any) -> None:
        pass  # one REPORT line per invocation instead

    def _handle(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        if length > MAX_REQUEST_BYTES:
            self._send(413, [("Content-Type", "application/json")], b'{"message":"Too large"}')
            return
        body = self.rfile.read(length) if length else b""
        raw_path, _, raw_query = self.path.partition("?")
        client_ip = self.client_address[0]
        headers = [(n, v) for n, v in self.headers.items() if n.lower() != "x-forwarded-for"]
        forwarded_for = self.headers.get("X-Forwarded-For")
        headers.append(
            ("x-forwarded-for", f"{forwarded_for}, {client_ip}" if forwarded_for else client_ip)
        )
        headers += [("x-forwarded-proto", "http"), ("x-forwarded-port", str(self.server.port))]
        trace = self.server.invocation_trace(self.headers.get(AWS_TRACE_HEADER))
        headers = [(n, v) for n, v in headers if n.lower() != AWS_TRACE_HEADER]
        headers.append((AWS_TRACE_HEADER, trace.format()))

        iam = None
        if self.server.auth_type == "AWS_IAM":
            try:
                key = verify(
                    self.command,
                    self.path,
                    list(self.headers.items()),
                    body,
                    self.server.accepted_keys,
                    region=self.server.region,
                )
            except SignatureRejected as rejected:
                self._reject(rejected)
                return
            iam = key.iam_authorizer()
        event = build_event(
            method=self.command,
            raw_path=raw_path,
            raw_query=raw_query,
            headers=headers,
            body=body,
            source_ip=client_ip,
            domain_name=self.server.domain_name,
            iam=iam,
            account_id=self.server.account_id,
        )
        request_id = event["requestContext"]["requestId"]
        # Lambda's _X_AMZN_TRACE_ID names its own segment for the invocation as Parent.
        lambda_trace = TraceHeader(trace.root, new_segment_id(), trace.sampled is not False)
        invocation = self.server.pool.invoke(event, request_id, lambda_trace.format())
        self._answer(invocation, request_id)

    def _reject(self, rejected: SignatureRejected) -> None:
        """403 without invoking: the request is not signed by an accepted key."""
        error_type, key = _REJECTIONS[rejected.kind]
        message = FORBIDDEN_MESSAGE if rejected.kind == "missing" else rejected.message
        log.info("%s %s: 403 %s (%s)", self.command, self.path, error_type, rejected.message)
        self._send(
            403,
            [
                ("Content-Type", "application/json"),
                ("x-amzn-RequestId", str(uuid.uuid4())),
                ("x-amzn-ErrorType", error_type),
            ],
            json.dumps({key: message}, separators=(",", ":")).encode(),
        )

    def _answer(self, invocation: Invocation, request_id: str) -> None:
        peak = invocation.max_memory_used_mb
        log.info(
            "REPORT %s RequestId: %s Duration: %.1f ms Memory Size: %d MB "
            "Max Memory Used: %s MB %s %s",
            self.server.pool.spec.name,
            request_id,
            invocation.duration_ms,
            self.server.pool.spec.memory_mb,
            "?" if peak is None else f"{peak:.0f}",
            invocation.outcome,
            self.path,
        )
        extra = [("x-amzn-RequestId", request_id)]
        if invocation.outcome == "throttled":
            self._send(
                429, [("Content-Type", "application/json"), *extra], b'{"Message":"Rate Exceeded."}'
            )
            return
        if invocation.ok:
            try:
                status, headers, body = http_response(invocation.result)
            except ResponseError as error:
                log.error("invalid response from %s: %s", self.server.pool.spec.name, error)
            else:
                self._send(status, headers + extra, body)
                return
        elif invocation.error:
            log.error("%s %s: %s", self.server.pool.spec.name, invocation.outcome, invocation.error)
        self._send(
            502,
            [("Content-Type", "application/json"), *extra],
            b'{"Message":"Internal Server Error"}',
        )

    def _send(self, status: int, headers: list[tuple[str, str]], body: bytes) -> None:
        self.send_response(status, reason_phrase(status))
        for name, value in headers:
            if name.lower() not in ("content-length", "connection", "transfer-encoding"):
                self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    do_GET = do_HEAD = do_POST = do_PUT = do_PATCH = do_DELETE = do_OPTIONS = _handle  # noqa: N815


class FunctionUrlServer(BackgroundHTTPServer):
    """The function URL of ``pool``'s function, on ``host`` and a free port.

    ``auth_type`` "AWS_IAM" (the default) takes only requests SigV4-signed for service
    ``lambda`` in ``region`` by one of ``accepted_keys`` (none: every request is a 403);
    "NONE" takes any request. ``account_id`` owns the function (``requestContext.accountId``
    of the AWS_IAM event). ``adopt_trace_header``: an incoming X-Amzn-Trace-Id becomes the
    invocation's trace (default: never, a fresh root for every invocation)."""

    thread_name = "function-url"

    def __init__(
        self,
        pool: WorkerPool,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        auth_type: AuthType = "AWS_IAM",
        accepted_keys: Iterable[AccessKey] = (),
        region: str = REGION,
        account_id: str = ACCOUNT_ID,
        adopt_trace_header: bool = False,
    ) -> None:
        if auth_type not in AUTH_TYPES:
            raise ValueError(f"auth_type must be one of {AUTH_TYPES}, got {auth_type!r}")
        super().__init__(host, port, _Handler)
        self.pool = pool
        self.auth_type = auth_type
        self.accepted_keys = tuple(accepted_keys)
        self.region = region
        self.account_id = account_id
        self.adopt_trace_header = adopt_trace_header
        # What Lambda would call it: <url-id>.lambda-url.<region>.on.aws
        self.domain_name = f"{pool.spec.name}.lambda-url.{region}.on.aws"

    def invocation_trace(self, incoming: str | None) -> TraceHeader:
        """The trace an invocation runs in: a fresh root, or the incoming header's trace
        when this URL adopts one."""
        adopted = TraceHeader.parse(incoming) if self.adopt_trace_header else None
        return adopted or TraceHeader(root=new_trace_root())
