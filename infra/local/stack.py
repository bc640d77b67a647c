"""``imgedge serve``: the whole pipeline on one machine.

    viewer -> CloudFrontServer (HOST:PORT; cache; the distribution of infra/distribution.py)
                 -> WorkerPool (edge router, run from its built package, 128 MB / 5 s,
                                on viewer requests or, --edge-trigger origin-request,
                                on origin requests: before each origin of the group)
                 -> S3Origin (derivatives bucket)  --403/404/5xx-->  HttpOrigin
                                                                       -> FunctionUrlServer
                                                                          -> WorkerPool
                                                                             (regional resizer)
    S3: EmbeddedS3 (moto, its own process, HOST:S3PORT) or any endpoint given
    originals buckets' events -> SQS (embedded S3) or BucketWatcher (other S3) -> WorkerPool
                                (purge)
                                -> CloudFrontApiServer (CreateInvalidation on the cache)
    X-Ray: XRayDaemon (UDP on loopback, records under the data dir) or any daemon given

Start order: S3, buckets, X-Ray daemon, workers, function URL, edge package and workers,
CloudFront; then samples and ``ready``. Stop (SIGINT/SIGTERM) in reverse.

The edge router runs as Lambda@Edge runs it: from its zip (``infra.package``, the same
build ``imgedge package`` makes) extracted under the data dir, with the configuration baked
into it and no IMGEDGE_CONFIG in its environment.

Without a configuration file the local stack runs the defaults with two changes
(``default_config``): it traces every request (trace_sampling_rate 1), so that ``imgedge
traces`` shows something at once, and, with the samples, it names the sample overlay as
watermark ``logo`` (``wm=logo``). That one configuration is baked into the edge's package
and written to DIR/default-config.toml for the resizer and the purge (IMGEDGE_CONFIG), so
both stages know the same watermarks. A file is used as it is.
"""

from __future__ import annotations

import logging
import os
import shutil
import signal
import socket
import sys
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType, MappingProxyType
from typing import Any, TextIO

import boto3
from botocore.exceptions import ClientError

from infra.distribution import VIEWER_REQUEST, Distribution, describe
from infra.functions import PURGE, RESIZER
from infra.local.async_invoke import AsyncInvoker
from infra.local.cloudfront import CloudFrontServer
from infra.local.cloudfront_api import CloudFrontApiServer
from infra.local.credentials import (
    ACCESS_KEY_ID,
    DATA_DIR,
    DERIVATIVES_BUCKET,
    ORIGINALS_BUCKET,
    REGION,
    SECRET_ACCESS_KEY,
    client_settings,
)
from infra.local.events import DISTRIBUTION_ID
from infra.local.function_url import FunctionUrlServer
from infra.local.lambda_runtime import FunctionSpec, WorkerPool, extract_package
from infra.local.origins import HttpOrigin, OriginGroup, S3Origin
from infra.local.s3_events import BucketWatcher, QueueEventSource
from infra.local.s3_server import EmbeddedS3
from infra.local.samples import SAMPLE_WATERMARKS, upload_samples
from infra.local.sigv4 import AccessKey
from infra.local.state import StackState, remove_state, write_state
from infra.local.xray_daemon import XRayDaemon
from infra.package import build_edge_zip, config_toml
from regional_resizer.storage import s3_client as make_s3_client
from shared.config import CONFIG_ENV, Config, load_config

log = logging.getLogger("imgedge.local")

FAKE_ACCESS_KEY = ACCESS_KEY_ID
FAKE_SECRET_KEY = SECRET_ACCESS_KEY
# The identity CloudFront's origin access control signs requests to the function URL with.
CLOUDFRONT_OAC_KEY = AccessKey("cloudfront-oac", "cloudfront-oac", user_name="cloudfront-oac")

DEFAULT_CONFIG_FILE = "default-config.toml"  # in the data dir, when no file is given

EDGE_FUNCTION = "edge_router.handler:handler"  # inside the edge package
RESIZER_FUNCTION = "regional_resizer.handler:handler"
PURGE_FUNCTION = "regional_resizer.purge:handler"


@dataclass(frozen=True)
class StackOptions:
    host: str = "127.0.0.1"
    port: int = 8080
    s3_port: int = 9000
    s3_endpoint: str | None = None
    originals_bucket: str = ORIGINALS_BUCKET
    derivatives_bucket: str = DERIVATIVES_BUCKET
    data_dir: Path = DATA_DIR
    samples: bool = True
    config_path: Path | None = None
    # The event the edge router runs on, as the deployment setting of the same name.
    edge_trigger: str = VIEWER_REQUEST
    xray_daemon: str | None = None  # HOST:PORT of an external daemon; None: embed one
    workers: int = 2
    edge_workers: int = 4
    resizer_timeout_s: float = RESIZER.timeout_s
    resizer_memory_mb: int = RESIZER.memory_mb
    invalidation_delay_s: float | None = None  # None: cloudfront_api's default (5 s)
    edge_function: str = EDGE_FUNCTION
    resizer_function: str = RESIZER_FUNCTION
    extra_env: dict[str, str] = field(default_factory=dict)


def s3_client(endpoint: str, service: str = "s3") -> Any:
    """A client of the local endpoint (the embedded server also speaks SQS)."""
    if service == "s3":
        return make_s3_client(endpoint, **client_settings())
    return boto3.client(service, endpoint_url=endpoint, **client_settings())


def default_config(samples: bool) -> Config:
    """The configuration without a file: the defaults, every request traced, and with the
    samples the watermark ``logo`` over the sample overlay they include."""
    watermarks = SAMPLE_WATERMARKS if samples else MappingProxyType({})
    return Config(trace_sampling_rate=1.0, watermarks=watermarks)


def check_port_free(host: str, port: int) -> None:
    """Raise OSError (address in use) unless ``port`` can be bound; 0 always can."""
    if port:
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                sock.bind((host, port))
            except OSError as error:
                message = f"cannot listen on {host}:{port}: {error.strerror}"
                raise OSError(error.errno, message) from None


def ensure_bucket(s3: Any, bucket: str) -> None:
    """Create ``bucket`` unless it exists; tolerate losing a race to ourselves."""
    try:
        s3.head_bucket(Bucket=bucket)
        return
    except ClientError:
        pass
    try:
        s3.create_bucket(Bucket=bucket)
    except ClientError as error:
        if error.response.get("Error", {}).get("Code") != "BucketAlreadyOwnedByYou":
            raise


class LocalStack:
    """Every piece of the pipeline; ``start()`` brings them up, ``stop()`` takes down
    whatever was started (it is safe after a failed or interrupted start)."""

    def __init__(self, options: StackOptions, out: TextIO = sys.stdout) -> None:
        self.options = options
        self.out = out
        self.s3_server: EmbeddedS3 | None = None
        self.xray: XRayDaemon | None = None
        self.cloudfront_api: CloudFrontApiServer | None = None
        self.purge_pool: WorkerPool | None = None
        self.watcher: BucketWatcher | QueueEventSource | None = None
        self.purge_invoker: AsyncInvoker | None = None
        self.pool: WorkerPool | None = None
        self.edge_pool: WorkerPool | None = None
        self.function_url: FunctionUrlServer | None = None
        self.cloudfront: CloudFrontServer | None = None
        self.sample_urls: list[str] = []

    def _print(self, line: str) -> None:
        print(line, file=self.out, flush=True)

    @property
    def s3_endpoint(self) -> str:
        if self.options.s3_endpoint:
            return self.options.s3_endpoint
        assert self.s3_server is not None
        return self.s3_server.endpoint

    @property
    def xray_address(self) -> str:
        assert self.xray is not None
        return self.xray.address

    def start(self) -> None:
        opts = self.options
        # Fail before anything starts, and never mistake another server for our S3.
        check_port_free(opts.host, opts.port)
        if not opts.s3_endpoint:
            check_port_free(opts.host, opts.s3_port)
        opts.data_dir.mkdir(parents=True, exist_ok=True)
        # Validate before anything starts.
        config_path, config, stages_config = self._configuration()
        distribution = describe(config, opts.edge_trigger)

        if not opts.s3_endpoint:
            self.s3_server = EmbeddedS3(opts.host, opts.s3_port, log=opts.data_dir / "s3.log")
            self.s3_server.start()
        s3 = s3_client(self.s3_endpoint)
        originals = config.originals(opts.originals_bucket)  # and originals_buckets'
        for bucket in (*originals.buckets, opts.derivatives_bucket):
            ensure_bucket(s3, bucket)

        if opts.xray_daemon is None:
            self.xray = XRayDaemon(opts.data_dir, "127.0.0.1").start()
        env = {
            "AWS_XRAY_DAEMON_ADDRESS": opts.xray_daemon or self.xray_address,
            "ORIGINALS_BUCKET": opts.originals_bucket,
            "DERIVATIVES_BUCKET": opts.derivatives_bucket,
            "AWS_ENDPOINT_URL_S3": self.s3_endpoint,
            "AWS_ACCESS_KEY_ID": FAKE_ACCESS_KEY,
            "AWS_SECRET_ACCESS_KEY": FAKE_SECRET_KEY,
            "AWS_DEFAULT_REGION": REGION,
            "AWS_REGION": REGION,
            "AWS_EC2_METADATA_DISABLED": "true",
            **opts.extra_env,
        }
        env[CONFIG_ENV] = str(stages_config.resolve())
        spec = FunctionSpec(
            handler=opts.resizer_function,
            name="imgedge-regional-resizer",
            env=env,
            # Never let a developer's own AWS identity or settings reach the function.
            unset_env=("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN", CONFIG_ENV),
            memory_mb=opts.resizer_memory_mb,
            timeout_s=opts.resizer_timeout_s,
        )
        self.pool = WorkerPool(spec, size=opts.workers).start()
        # AWS_IAM, as deployed: only CloudFront's origin access control may call it.
        self.function_url = FunctionUrlServer(
            self.pool, "127.0.0.1", accepted_keys=[CLOUDFRONT_OAC_KEY]
        ).start()

        self.edge_pool = self._start_edge(config, distribution)

        origin = OriginGroup(
            S3Origin(opts.derivatives_bucket, self.s3_endpoint),
            HttpOrigin(self.function_url.url, name="function-url", signing_key=CLOUDFRONT_OAC_KEY),
            distribution.failover_statuses,
        )
        # The gallery under /_imgedge/ reads both buckets.
        from infra.inventory import Inventory
        from infra.local.gallery import Gallery

        inventory = Inventory(s3, originals, opts.derivatives_bucket)
        self.cloudfront = CloudFrontServer(
            distribution,
            self.edge_pool.invoke,
            origin,
            host=opts.host,
            port=opts.port,
            local_pages=Gallery(inventory, config).respond,
        ).start()

        # Purge on change: S3 events from the originals bucket -> the purge function, which
        # deletes derivatives and invalidates the emulator's cache through CloudFront's API.
        self.cloudfront_api = CloudFrontApiServer(
            self.cloudfront.cache, DISTRIBUTION_ID, completion_delay_s=opts.invalidation_delay_s
        ).start()
        purge_spec = FunctionSpec(
            handler=PURGE_FUNCTION,
            name="imgedge-purge",
            env={
                **env,
                "DISTRIBUTION_ID": DISTRIBUTION_ID,
                "EDGE_TRIGGER": opts.edge_trigger,
                "AWS_ENDPOINT_URL_CLOUDFRONT": self.cloudfront_api.url,
            },
            unset_env=spec.unset_env,
            memory_mb=PURGE.memory_mb,
            timeout_s=PURGE.timeout_s,
        )
        self.purge_pool = WorkerPool(purge_spec, size=1).start()
        # S3 invokes the purge asynchronously: Lambda's retries, then a dead-letter file.
        self.purge_invoker = AsyncInvoker(
            self.purge_pool, opts.data_dir / "purge-dead-letters.jsonl"
        )
        deliver = self.purge_invoker.invoke

        self._print(f"edge: {self.cloudfront.url}")
        self._print(f"s3: {self.s3_endpoint}")
        self._print(f"xray: udp://{opts.xray_daemon or self.xray_address}")
        self._print(f"edge trigger: {distribution.edge.event_type}")
        if opts.samples:
            self.sample_urls = upload_samples(s3, opts.originals_bucket, self.cloudfront.url)
            for url in self.sample_urls:
                self._print(url)
        if self.s3_server is not None:  # moto: S3 -> SQS notifications, as on AWS
            sqs = s3_client(self.s3_endpoint, "sqs")
            self.watcher = QueueEventSource(s3, sqs, originals.buckets, deliver).start()
        else:
            self.watcher = BucketWatcher(s3, originals.buckets, deliver).start()
        # Where `imgedge env`, `ls`, `precompute` and `traces` find this stack.
        state = StackState(
            pid=os.getpid(),
            edge=self.cloudfront.url,
            s3_endpoint=self.s3_endpoint,
            originals_bucket=opts.originals_bucket,
            derivatives_bucket=opts.derivatives_bucket,
            region=REGION,
            xray_daemon=opts.xray_daemon or self.xray_address,
            traces_dir=None if self.xray is None else str(opts.data_dir.resolve()),
            config=None if config_path is None else str(config_path.resolve()),
        )
        write_state(opts.data_dir, state)
        self._print("ready")

    def _configuration(self) -> tuple[Path | None, Config, Path]:
        """The file given (--config, else $IMGEDGE_CONFIG; None: none), the configuration,
        and the file the resizer and the purge read: the one given, else the default
        configuration written out whole, so that they read what is baked into the edge."""
        opts = self.options
        given = opts.config_path
        if given is None and os.environ.get(CONFIG_ENV):
            given = Path(os.environ[CONFIG_ENV])
        if given is not None:
            return given, load_config(given), given
        config = default_config(opts.samples)
        written = opts.data_dir / DEFAULT_CONFIG_FILE
        header = b"# imgedge serve's default configuration (no --config given)\n"
        written.write_bytes(header + config_toml(config))
        return None, config, written

    def _start_edge(self, config: Config, distribution: Distribution) -> WorkerPool:
        """The edge router's workers, running its package with the configuration baked in."""
        opts = self.options
        package_dir = opts.data_dir / "edge"
        shutil.rmtree(package_dir, ignore_errors=True)
        package_dir.mkdir(parents=True)
        edge_zip = build_edge_zip(config, package_dir)
        size, limit = edge_zip.stat().st_size, distribution.edge.max_package_bytes
        if size > limit:  # "Quotas on Lambda@Edge": compressed function and libraries
            raise RuntimeError(
                f"the edge package is {size} bytes, over Lambda@Edge's {limit} for "
                f"{distribution.edge.event_type} functions"
            )
        edge_spec = FunctionSpec(
            handler=opts.edge_function,
            name="imgedge-edge-router",
            unset_env=(CONFIG_ENV,),  # Lambda@Edge: no environment variables of one's own
            code_dir=str(extract_package(edge_zip, package_dir / "task").resolve()),
            memory_mb=distribution.edge.memory_mb,
            timeout_s=distribution.edge.timeout_s,
        )
        return WorkerPool(edge_spec, size=opts.edge_workers).start()

    def stop(self) -> None:
        remove_state(self.options.data_dir)
        if self.watcher is not None:
            self.watcher.stop()
            self.watcher = None
        if self.purge_invoker is not None:
            self.purge_invoker.stop()
            self.purge_invoker = None
        for server in (self.cloudfront_api, self.cloudfront, self.function_url):
            if server is not None:
                server.stop()
        self.cloudfront_api = self.cloudfront = self.function_url = None
        for pool in (self.purge_pool, self.edge_pool, self.pool):
            if pool is not None:
                pool.close()
        self.purge_pool = self.edge_pool = self.pool = None
        if self.xray is not None:
            self.xray.stop()
            self.xray = None
        if self.s3_server is not None:
            self.s3_server.stop()
            self.s3_server = None


class Interrupted(Exception):
    """SIGINT or SIGTERM arrived while the stack was starting."""


def serve(options: StackOptions, out: TextIO = sys.stdout) -> int:
    """Run the stack until SIGINT or SIGTERM; 0 on a clean stop."""
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(message)s", datefmt="%H:%M:%S", stream=sys.stderr
    )
    stopping = threading.Event()
    starting = True

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stopping.set()
        if starting:
            raise Interrupted(signal.Signals(signum).name)

    previous: dict[int, Callable[[int, FrameType | None], Any] | int | None] = {
        sig: signal.signal(sig, on_signal) for sig in (signal.SIGINT, signal.SIGTERM)
    }
    stack = LocalStack(options, out)
    try:
        try:
            stack.start()
            starting = False
        except Interrupted:
            return 0
        while not stopping.wait(1.0):
            pass
        return 0
    finally:
        starting = False
        stack.stop()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
