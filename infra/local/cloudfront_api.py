"""The part of CloudFront's control API the purge uses: CreateInvalidation, over its real
REST-XML protocol, so the purge handler's boto3 ``create_invalidation`` call runs unchanged
against the local stack (``AWS_ENDPOINT_URL_CLOUDFRONT``). Invalidations complete at once.
"""

from __future__ import annotations

import logging
import re
import secrets
import time
import xml.etree.ElementTree as ET
from http.server import BaseHTTPRequestHandler
from xml.sax.saxutils import escape

from infra.local.cache import ResponseCache
from infra.local.http_server import BackgroundHTTPServer

log = logging.getLogger("imgedge.cloudfront-api")

API_VERSION = "2020-05-31"
NAMESPACE = f"http://cloudfront.amazonaws.com/doc/{API_VERSION}/"
_CREATE = re.compile(rf"/{API_VERSION}/distribution/([A-Za-z0-9]+)/invalidation")


def parse_batch(body: bytes) -> tuple[list[str], str]:
    """The paths and caller reference of an InvalidationBatch document."""
    root = ET.fromstring(body)
    paths = [el.text or "" for el in root.iter() if el.tag.rsplit("}", 1)[-1] == "Path"]
    reference = next(
        (el.text or "" for el in root.iter() if el.tag.rsplit("}", 1)[-1] == "CallerReference"),
        "",
    )
    return paths, reference


def invalidation_xml(invalidation_id: str, paths: list[str], reference: str) -> bytes:
    items = "".join(f"<Path>{escape(p)}</Path>" for p in paths)
    created = time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime())
    return (
        f'<?xml version="1.0" encoding="UTF-8"?><Invalidation xmlns="{NAMESPACE}">'
        f"<Id>{invalidation_id}</Id><Status>Completed</Status><CreateTime>{created}</CreateTime>"
        f"<InvalidationBatch><Paths><Quantity>{len(paths)}</Quantity><Items>{items}</Items>"
        f"</Paths><CallerReference>{escape(reference)}</CallerReference></InvalidationBatch>"
        "</Invalidation>"
    ).encode()


class _Handler(BaseHTTPRequestHandler):
    server: CloudFrontApiServer
    protocol_version = "HTTP/1.1"

    def do_POST(self) -> None:
        match = _CREATE.fullmatch(self.path)
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        if match is None or match[1] != self.server.distribution_id:
            self._reply(404, b"<ErrorResponse><Error><Code>NoSuchDistribution</Code></Error>"
                        b"</ErrorResponse>")  # fmt: skip
            return
        try:
            paths, reference = parse_batch(body)
        except ET.ParseError:
            self._reply(400, b"<ErrorResponse><Error><Code>MalformedXML</Code></Error>"
                        b"</ErrorResponse>")  # fmt: skip
            return
        removed = self.server.cache.invalidate(paths)
        self.log_message("invalidation of %d paths removed %d cached objects", len(paths), removed)
        invalidation_id = "I" + secrets.token_hex(6).upper()
        self._reply(
            201,
            invalidation_xml(invalidation_id, paths, reference),
            location=f"{self.server.url}/{API_VERSION}/distribution/"
            f"{self.server.distribution_id}/invalidation/{invalidation_id}",
        )

    def _reply(self, status: int, body: bytes, location: str | None = None) -> None:
        self.send_response(status)
        self.send_header("Content-Type", "text/xml")
        self.send_header("Content-Length", str(len(body)))
        if location:
            self.send_header("Location", location)
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        import logging

        logging.getLogger("imgedge.cloudfront-api").info(format, *args)


class CloudFrontApiServer(BackgroundHTTPServer):
    """The control API of one distribution, acting on the emulator's cache."""

    thread_name = "cloudfront-api"

    def __init__(self, cache: ResponseCache, distribution_id: str, host: str = "127.0.0.1") -> None:
        super().__init__(host, 0, _Handler)
        self.cache = cache
        self.distribution_id = distribution_id
