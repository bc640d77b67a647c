"""A request's deadline, below the function's timeout: the resizer stops between two steps
(here: between two frames of a long animation), answers 503 with ``no-store`` and
``Retry-After``, stores nothing, and the process goes on serving.

The handler gets real function URL events and the Lambda-like context of the local
runtime (``LambdaContext``, whose remaining time runs down with the clock), against the
embedded S3 server; the last test runs it in a worker of that runtime, whose timeout would
otherwise kill the worker."""

from __future__ import annotations

import base64
import io
import time
from collections.abc import Iterator
from functools import cache
from typing import Any

import pytest
from PIL import Image, ImageDraw

from infra.local.lambda_runtime import FunctionSpec, LambdaContext, WorkerPool
from regional_resizer import codecs, pipeline
from regional_resizer import handler as resizer
from regional_resizer.derivative import DEADLINE_MARGIN_S, DEFAULT_TIMEOUT_S, Deadline
from shared.config import Config
from shared.contract import ImageRequest
from shared.errors import DeadlineExceeded
from shared.layout import index_key
from tests.conftest import Buckets, resizer_pointed_at
from tests.integration.test_resizer_handler import function_url_event, keys

pytestmark = pytest.mark.integration

FRAMES = 200
FRAME_SIZE = (800, 600)  # 200 frames: ~1 s to decode and resize to 320 wide, ~6 ms a frame
BUDGET_S = 0.3  # what the deadline leaves after the margin: enough to read and decode
# frame 0 (tens of ms), far too little for 200 frames: it trips between two of them.
KEY = "anim/big.gif"
ANIMATED = f"/320x/webp/{KEY}"


@cache
def big_gif() -> bytes:
    """An animated GIF of FRAMES different frames (a bar moving over a gradient)."""
    base = Image.linear_gradient("L").resize(FRAME_SIZE).convert("P")
    frames = []
    for i in range(FRAMES):
        frame = base.copy()
        x = (i * 7) % (FRAME_SIZE[0] - 40)
        ImageDraw.Draw(frame).rectangle((x, 10, x + 30, 60), fill=(i * 37) % 256)
        frames.append(frame)
    out = io.BytesIO()
    frames[0].save(out, "GIF", save_all=True, append_images=frames[1:], duration=40, loop=0)
    return out.getvalue()


def context(remaining_s: float) -> LambdaContext:
    return LambdaContext(
        function_name="imgedge-regional-resizer",
        memory_limit_in_mb=1769,
        aws_request_id="00000000-0000-4000-8000-000000000000",
        deadline=time.time() + remaining_s,
    )


def phases(response: dict[str, Any]) -> list[str]:
    return [part.split(";")[0] for part in response["headers"]["server-timing"].split(", ")]


@pytest.fixture
def env(
    buckets: Buckets, s3: Any, s3_endpoint: str, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Buckets]:
    with resizer_pointed_at(monkeypatch, buckets, s3_endpoint):
        s3.put_object(Bucket=buckets.originals, Key=KEY, Body=big_gif(), ContentType="image/gif")
        yield buckets


def test_deadline_trips_between_frames_answers_503_and_stores_nothing(
    env: Buckets, s3: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    loaded: list[int] = []
    real_load_frame = codecs.load_frame

    def counting_load_frame(*args: Any, **kwargs: Any) -> Any:
        loaded.append(args[1])
        return real_load_frame(*args, **kwargs)

    monkeypatch.setattr(codecs, "load_frame", counting_load_frame)
    lambda_context = context(DEADLINE_MARGIN_S + BUDGET_S)

    response = resizer.handler(function_url_event(ANIMATED), lambda_context)

    assert response["statusCode"] == 503
    headers = response["headers"]
    assert headers["cache-control"] == "no-store"
    assert headers["retry-after"] == str(resizer.RETRY_AFTER_S)
    assert headers["content-type"].startswith("text/plain")
    assert response["body"] == "rendering took too long, try again\n"
    # It stopped inside the resize phase, between two frames: some were done, not all.
    assert phases(response) == ["s3-get", "decode", "resize"]
    assert 0 < len(loaded) < FRAMES - 1, len(loaded)
    # ... and well before Lambda's own timeout (the margin, less the step in progress).
    assert lambda_context.get_remaining_time_in_millis() > DEADLINE_MARGIN_S * 500
    # No derivative. Its marker was written while the render ran, once the original had
    # decoded: a marker without its object is harmless (the next purge lists one more path).
    assert set(keys(s3, env.derivatives)) <= {index_key(ImageRequest.parse(ANIMATED[1:], Config()))}


def test_the_process_goes_on_and_a_retry_with_time_succeeds(env: Buckets, s3: Any) -> None:
    tripped = resizer.handler(function_url_event(ANIMATED), context(DEADLINE_MARGIN_S))
    assert tripped["statusCode"] == 503
    assert phases(tripped) == ["s3-get"]  # no time at all: stopped after reading

    still = resizer.handler(function_url_event(f"/64x/jpeg/{KEY}"), context(25))
    assert still["statusCode"] == 200
    retry = resizer.handler(function_url_event(ANIMATED), context(25))
    assert retry["statusCode"] == 200
    assert retry["headers"]["cache-control"] == "public, max-age=31536000, immutable"
    image = Image.open(io.BytesIO(base64.b64decode(retry["body"])))
    assert (image.format, image.size, getattr(image, "n_frames", 1)) == ("WEBP", (320, 240), FRAMES)
    assert f"320x/webp/{KEY}" in keys(s3, env.derivatives)


def test_the_deadline_comes_from_the_context_or_the_default() -> None:
    margin = DEADLINE_MARGIN_S
    before = time.monotonic()
    with_context = Deadline.of(context(10)).at
    without = Deadline.of(None).at
    after = time.monotonic()
    assert before + 10 - margin - 0.1 < with_context <= after + 10 - margin
    assert before + DEFAULT_TIMEOUT_S - margin <= without
    assert without <= after + DEFAULT_TIMEOUT_S - margin
    Deadline.of(context(margin + 5)).check()  # time left: nothing happens
    with pytest.raises(DeadlineExceeded) as raised:
        Deadline.of(context(margin - 0.1)).check()
    assert raised.value.status == 503


def test_render_checks_between_phases_and_frames() -> None:
    calls: list[float] = []

    def check() -> None:
        calls.append(time.monotonic())

    config = Config()
    still = io.BytesIO()
    Image.new("RGB", (64, 48), "red").save(still, "PNG")
    request = ImageRequest.canonical("a.png", fmt="webp", width=32, config=config)
    assert pipeline.render(still.getvalue(), request, config).width == 32  # as before
    pipeline.render(still.getvalue(), request, config, check_deadline=check)
    assert len(calls) == 2  # after decode, before encode

    calls.clear()
    frames = [Image.new("RGB", (64, 48), colour) for colour in ("red", "lime", "blue", "white")]
    animated = io.BytesIO()
    frames[0].save(animated, "GIF", save_all=True, append_images=frames[1:], duration=50)
    rendition = pipeline.render(animated.getvalue(), request, config, check_deadline=check)
    assert rendition.frames == 4
    assert len(calls) == 2 + 3  # and before each frame after the first

    def expire_at_third_call() -> None:
        check()
        if len(calls) == 3:
            raise DeadlineExceeded()

    calls.clear()
    with pytest.raises(DeadlineExceeded):
        pipeline.render(animated.getvalue(), request, config, check_deadline=expire_at_third_call)
    assert len(calls) == 3


def test_in_a_lambda_like_worker_the_deadline_beats_the_timeout(
    env: Buckets, s3: Any, s3_endpoint: str
) -> None:
    """With a 2.3 s function timeout, the runtime would kill the worker (a 502, and a cold
    start next time); the deadline answers 503 first, and the same worker goes on."""
    spec = FunctionSpec(
        handler="regional_resizer.handler:handler",
        name="imgedge-regional-resizer",
        env={
            "ORIGINALS_BUCKET": env.originals,
            "DERIVATIVES_BUCKET": env.derivatives,
            "AWS_ENDPOINT_URL_S3": s3_endpoint,
        },
        unset_env=("IMGEDGE_CONFIG",),
        timeout_s=DEADLINE_MARGIN_S + BUDGET_S,
    )
    pool = WorkerPool(spec, size=1).start()
    try:
        workers = {worker.process.pid for worker in pool._workers}
        tripped = pool.invoke(function_url_event(ANIMATED))
        assert tripped.outcome == "ok", tripped.error
        assert tripped.result["statusCode"] == 503
        assert tripped.result["headers"]["retry-after"] == str(resizer.RETRY_AFTER_S)
        following = pool.invoke(function_url_event(f"/64x/jpeg/{KEY}"))
        assert following.outcome == "ok", following.error
        assert following.result["statusCode"] == 200
        assert {worker.process.pid for worker in pool._workers} == workers  # not replaced
    finally:
        pool.close()
    stored = keys(s3, env.derivatives)
    assert f"64x/jpeg/{KEY}" in stored
    assert f"320x/webp/{KEY}" not in stored
