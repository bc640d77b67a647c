"""S3 event notifications for the local stack, delivered to a function (the purge).

Both watch every originals bucket (the default one and those ``originals_buckets`` names).

- ``QueueEventSource`` (the embedded S3): each originals bucket notifies an SQS queue, both
  inside the embedded server (moto emits S3's own event documents, and a queue is the
  destination it delivers to), and a thread long-polls the queue and delivers each message.
  On AWS, S3 invokes the purge function directly and asynchronously; the stack delivers
  through ``async_invoke.AsyncInvoker``, which does what Lambda does with such events.
- ``BucketWatcher`` (any other ``--s3-endpoint``, which may have no SQS): polls listings
  and writes the event documents S3 would (ObjectCreated:Put, ObjectRemoved:Delete, 2.1):
  a new or changed ETag is a creation, a vanished key a removal. An object created and
  deleted between two polls (0.5 s) goes unseen: a limit of polling, said in docs/derivatives.md.
"""

from __future__ import annotations

import json
import logging
import secrets
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any, Self
from urllib.parse import quote_plus

from infra.local.background import BackgroundLoop

log = logging.getLogger("imgedge.s3-events")

POLL_INTERVAL_S = 0.5
CONFIGURATION_ID = "imgedge-purge"
QUEUE_NAME = "imgedge-originals-events"
PURGE_EVENTS = ["s3:ObjectCreated:*", "s3:ObjectRemoved:*"]

Listing = dict[str, tuple[str, int]]  # key -> (ETag, size)
Deliver = Callable[[dict[str, Any]], None]


def event_record(bucket: str, key: str, event_name: str, etag: str = "", size: int = 0) -> Any:
    """One record of an S3 event notification, as S3 writes it (keys form-encoded)."""
    obj: dict[str, Any] = {"key": quote_plus(key, safe="/"), "sequencer": f"{time.time_ns():X}"}
    if event_name.startswith("ObjectCreated"):
        obj |= {"size": size, "eTag": etag.strip('"')}
    return {
        "eventVersion": "2.1",
        "eventSource": "aws:s3",
        "awsRegion": "us-east-1",
        "eventTime": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z",
        "eventName": event_name,
        "userIdentity": {"principalId": "AWS:IMGEDGELOCAL"},
        "requestParameters": {"sourceIPAddress": "127.0.0.1"},
        "responseElements": {
            "x-amz-request-id": secrets.token_hex(8).upper(),
            "x-amz-id-2": secrets.token_urlsafe(48),
        },
        "s3": {
            "s3SchemaVersion": "1.0",
            "configurationId": CONFIGURATION_ID,
            "bucket": {
                "name": bucket,
                "ownerIdentity": {"principalId": "IMGEDGELOCAL"},
                "arn": f"arn:aws:s3:::{bucket}",
            },
            "object": obj,
        },
    }


def changes(bucket: str, before: Listing, after: Listing) -> list[Any]:
    """The event records that turn listing ``before`` into ``after``."""
    records = [
        event_record(bucket, key, "ObjectCreated:Put", etag, size)
        for key, (etag, size) in after.items()
        if before.get(key, ("", 0))[0] != etag
    ]
    records += [
        event_record(bucket, key, "ObjectRemoved:Delete") for key in before if key not in after
    ]
    return records


def _buckets(buckets: str | Sequence[str]) -> tuple[str, ...]:
    return (buckets,) if isinstance(buckets, str) else tuple(buckets)


class BucketWatcher(BackgroundLoop):
    """Polls ``buckets`` and delivers one notification per change until ``stop()``."""

    thread_name = "s3-events"
    pause_s = POLL_INTERVAL_S

    def __init__(self, s3: Any, buckets: str | Sequence[str], deliver: Deliver) -> None:
        super().__init__()
        self.s3, self.buckets, self.deliver = s3, _buckets(buckets), deliver
        self._listings: dict[str, Listing] = {}

    def start(self) -> Self:
        # What exists at start is not news.
        self._listings = {bucket: self.list(bucket) for bucket in self.buckets}
        return super().start()

    def list(self, bucket: str) -> Listing:
        listing: Listing = {}
        for page in self.s3.get_paginator("list_objects_v2").paginate(Bucket=bucket):
            for item in page.get("Contents", []):
                listing[item["Key"]] = (item["ETag"], int(item["Size"]))
        return listing

    def poll(self) -> int:
        """One round: deliver what changed since the last; how many records."""
        delivered = 0
        for bucket in self.buckets:
            current = self.list(bucket)
            records = changes(bucket, self._listings.get(bucket, {}), current)
            self._listings[bucket] = current
            for record in records:  # S3 sends one record per notification
                self.deliver({"Records": [record]})
            delivered += len(records)
        return delivered

    def step(self) -> None:
        self.poll()


class QueueEventSource(BackgroundLoop):
    """Wires each of ``buckets`` -> one SQS queue on the same endpoint, then delivers every
    event message to ``deliver`` until ``stop()``. A message is deleted once delivered."""

    thread_name = "s3-events"

    def __init__(self, s3: Any, sqs: Any, buckets: str | Sequence[str], deliver: Deliver) -> None:
        super().__init__()
        self.s3, self.sqs, self.buckets, self.deliver = s3, sqs, _buckets(buckets), deliver
        self.queue_url = ""

    def start(self) -> Self:
        self.queue_url = self.sqs.create_queue(QueueName=QUEUE_NAME)["QueueUrl"]
        arn = self.sqs.get_queue_attributes(QueueUrl=self.queue_url, AttributeNames=["QueueArn"])
        for bucket in self.buckets:
            self.s3.put_bucket_notification_configuration(
                Bucket=bucket,
                NotificationConfiguration={
                    "QueueConfigurations": [
                        {
                            "Id": CONFIGURATION_ID,
                            "QueueArn": arn["Attributes"]["QueueArn"],
                            "Events": PURGE_EVENTS,
                        }
                    ]
                },
            )
        return super().start()

    def step(self) -> None:
        self.poll()

    def poll(self) -> int:
        """One long poll (up to 1 s): deliver what arrived; how many event documents."""
        response = self.sqs.receive_message(
            QueueUrl=self.queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=1
        )
        delivered = 0
        for message in response.get("Messages", []):
            event = json.loads(message["Body"])
            if "Records" in event:  # not S3's s3:TestEvent
                self.deliver(event)
                delivered += 1
            self.sqs.delete_message(QueueUrl=self.queue_url, ReceiptHandle=message["ReceiptHandle"])
        return delivered
