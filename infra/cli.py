"""The ``imgedge`` command. One subcommand per job; each is a ``_cmd_*`` function that gets
the parsed arguments and returns the exit status."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from botocore.exceptions import BotoCoreError, ClientError

from shared.config import ConfigError


def _port(value: str) -> int:
    port = int(value)
    if not 0 <= port <= 65535:
        raise argparse.ArgumentTypeError("a port is 0..65535 (0: any free port)")
    return port


def _add_serve(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    serve = subparsers.add_parser(
        "serve",
        help="run the whole pipeline on this machine",
        description="Run the whole pipeline locally: an embedded S3 server (or --s3-endpoint), "
        "a CloudFront emulator with the edge router, and the regional resizer behind a "
        "function URL emulator. Stops on Ctrl-C or SIGTERM.",
    )
    serve.add_argument("--host", default="127.0.0.1", help="address to listen on")
    serve.add_argument(
        "--port", type=_port, default=8080, metavar="PORT", help="edge port (0: any free port)"
    )
    serve.add_argument(
        "--s3-port",
        type=_port,
        default=9000,
        metavar="S3PORT",
        help="embedded S3 port (0: any free port)",
    )
    serve.add_argument(
        "--s3-endpoint", metavar="URL", help="use this S3 endpoint instead of an embedded one"
    )
    serve.add_argument("--originals-bucket", default="originals", metavar="NAME")
    serve.add_argument("--derivatives-bucket", default="derivatives", metavar="NAME")
    serve.add_argument(
        "--data-dir",
        type=Path,
        default=Path(".imgedge"),
        metavar="DIR",
        help="where logs go (created if missing)",
    )
    serve.add_argument(
        "--no-samples", dest="samples", action="store_false", help="upload no sample images"
    )
    serve.add_argument(
        "--config",
        type=Path,
        metavar="FILE",
        help="an imgedge configuration file (default: $IMGEDGE_CONFIG)",
    )
    serve.add_argument(
        "--xray-daemon",
        metavar="HOST:PORT",
        help="send traces to this X-Ray daemon (UDP) instead of an embedded one",
    )
    serve.set_defaults(func=_cmd_serve)


def _add_traces(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    traces = subparsers.add_parser(
        "traces",
        help="show the traces the local stack recorded",
        description="Print the recent X-Ray traces recorded by `imgedge serve`'s embedded "
        "daemon, as a waterfall (default) or as JSON.",
    )
    traces.add_argument("--data-dir", type=Path, default=Path(".imgedge"), metavar="DIR")
    traces.add_argument("--json", action="store_true", help="print a JSON array of traces")
    traces.add_argument(
        "--limit", type=int, default=10, metavar="N", help="the last N traces (0: all)"
    )
    traces.set_defaults(func=_cmd_traces)


def _cmd_traces(args: argparse.Namespace) -> int:
    import json

    from infra.local.traces import read_traces, waterfall

    traces = read_traces(args.data_dir, args.limit or None)
    if args.json:
        print(json.dumps(traces, indent=2))
    elif not traces:
        print(f"no traces recorded under {args.data_dir}")
    else:
        print("\n\n".join(waterfall(trace) for trace in traces))
    return 0


def _cmd_serve(args: argparse.Namespace) -> int:
    from infra.local.stack import StackOptions, serve

    options = StackOptions(
        host=args.host,
        port=args.port,
        s3_port=args.s3_port,
        s3_endpoint=args.s3_endpoint,
        originals_bucket=args.originals_bucket,
        derivatives_bucket=args.derivatives_bucket,
        data_dir=args.data_dir,
        samples=args.samples,
        config_path=args.config,
        xray_daemon=args.xray_daemon,
    )
    try:
        return serve(options)
    except (OSError, RuntimeError, ImportError, ConfigError, ClientError, BotoCoreError) as error:
        print(f"imgedge serve: {error}", file=sys.stderr, flush=True)
        return 1


# --- AWS: package, synth, bootstrap, deploy, smoke -----------------------------------------


def _add_deployment_files(parser: argparse.ArgumentParser, *, dist: bool = True) -> None:
    """The options every AWS subcommand shares: what to build, with what, where."""
    parser.add_argument(
        "--config",
        type=Path,
        metavar="FILE",
        help="the imgedge configuration, as `imgedge serve --config` reads it "
        "(default: $IMGEDGE_CONFIG, else the defaults); baked into both zips",
    )
    parser.add_argument(
        "--settings",
        type=Path,
        metavar="FILE",
        help="the deployment settings (region, memory, buckets...; see infra/aws/settings.py)",
    )
    if dist:
        parser.add_argument(
            "--dist",
            type=Path,
            default=Path("dist"),
            metavar="DIR",
            help="where `imgedge package` puts the zips (default: dist)",
        )
        parser.add_argument(
            "--no-package",
            dest="package",
            action="store_false",
            help="use the zips already in --dist instead of packaging first",
        )
    parser.add_argument(
        "--cache-dir", type=Path, metavar="DIR", help="the wheel cache (default: ~/.cache/imgedge)"
    )


def _package_for(args: argparse.Namespace, out: Path, arch: str | None, python: str | None) -> None:
    from infra.aws.settings import load_settings
    from infra.package import Target, package
    from shared.config import load_config

    config = load_config(args.config)
    settings = load_settings(args.settings)
    target = Target(arch or settings.resizer_architecture, python or settings.python)
    package(config, target, out, args.cache_dir, refresh=getattr(args, "refresh", False))


def _aws_errors() -> tuple[type[Exception], ...]:
    from infra.aws.settings import SettingsError
    from infra.package import PackageError

    return (OSError, ConfigError, SettingsError, PackageError)


def _add_package(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    package = subparsers.add_parser(
        "package",
        help="build the two Lambda zips",
        description="Build edge_router.zip (stdlib and project code, the configuration "
        "baked in) and regional_resizer.zip (project code, configuration, and manylinux "
        "wheels for the target Python and architecture, without boto3), without Docker. "
        "Needs PyPI the first time for a target; later builds reuse the cache.",
    )
    package.add_argument(
        "--arch",
        choices=("x86_64", "arm64"),
        help="the resizer's architecture (default: the settings', arm64)",
    )
    package.add_argument(
        "--python", metavar="X.Y", help="the Lambda Python (default: the settings', 3.12)"
    )
    package.add_argument(
        "--out", type=Path, default=Path("dist"), metavar="DIR", help="default: dist"
    )
    _add_deployment_files(package, dist=False)
    package.add_argument(
        "--refresh", action="store_true", help="resolve the dependencies again (newer wheels)"
    )
    package.set_defaults(func=_cmd_package)


def _cmd_package(args: argparse.Namespace) -> int:
    try:
        _package_for(args, args.out, args.arch, args.python)
    except _aws_errors() as error:
        print(f"imgedge package: {error}", file=sys.stderr)
        return 1
    return 0


def _add_synth(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    synth = subparsers.add_parser(
        "synth",
        help="write the CloudFormation templates (offline)",
        description="Package (unless --no-package), then synthesize the CDK app: the main "
        "stack and the edge function's stack (us-east-1) as CloudFormation templates in "
        "--out, with cdk-nag's AWS Solutions and Serverless checks. Needs no AWS "
        "credentials, no Docker and no CDK CLI (Node.js runs aws-cdk-lib).",
    )
    _add_deployment_files(synth)
    synth.add_argument(
        "--out", type=Path, default=Path("cdk.out"), metavar="DIR", help="default: cdk.out"
    )
    synth.set_defaults(func=_cmd_synth)


def _cmd_synth(args: argparse.Namespace) -> int:
    from infra.aws.settings import load_settings
    from shared.config import load_config

    try:
        if args.package:
            _package_for(args, args.dist, None, None)
        config, settings = load_config(args.config), load_settings(args.settings)
    except _aws_errors() as error:
        print(f"imgedge synth: {error}", file=sys.stderr)
        return 1
    from aws_cdk import App

    from infra.aws.app import build

    try:
        app = App(outdir=str(args.out))
        build(app, config, settings, args.dist)
        assembly = app.synth()
    except (RuntimeError, ValueError) as error:  # ours (dist/, region) and jsii's (cdk-nag)
        print(f"imgedge synth: {error}", file=sys.stderr)
        return 1
    for stack in assembly.stacks:
        print(f"{stack.stack_name} ({stack.environment.region}): {stack.template_full_path}")
    return 0


def _add_cdk_options(parser: argparse.ArgumentParser) -> None:
    _add_deployment_files(parser)
    parser.add_argument("--profile", metavar="NAME", help="the AWS profile the CDK CLI uses")
    parser.add_argument(
        "--out", type=Path, default=Path("cdk.out"), metavar="DIR", help="default: cdk.out"
    )
    parser.add_argument(
        "--dry-run", action="store_true", help="print the CDK CLI command instead of running it"
    )
    parser.add_argument(
        "cdk_args", nargs=argparse.REMAINDER, metavar="-- CDK_ARGS", help="passed to the CDK CLI"
    )


def _run_cdk(args: argparse.Namespace, action: str) -> int:
    import shlex
    import shutil
    import subprocess

    from infra.aws.toolkit import cdk_command

    extra = args.cdk_args[1:] if args.cdk_args[:1] == ["--"] else args.cdk_args
    command = cdk_command(
        action,
        dist=args.dist,
        config=args.config,
        settings=args.settings,
        output=args.out,
        profile=args.profile,
        extra=extra,
    )
    if args.dry_run:
        print(shlex.join(command))
        return 0
    if shutil.which("npx") is None:
        print(f"imgedge {action}: needs Node.js (npx) for the CDK CLI", file=sys.stderr)
        return 1
    try:
        if args.package:
            _package_for(args, args.dist, None, None)
    except _aws_errors() as error:
        print(f"imgedge {action}: {error}", file=sys.stderr)
        return 1
    return subprocess.run(command, check=False).returncode


def _add_bootstrap(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    bootstrap = subparsers.add_parser(
        "bootstrap",
        help="prepare your account for deploying (once per account)",
        description="Run `cdk bootstrap` for the app's environments: the home region and "
        "us-east-1 (where Lambda@Edge functions live). Needs AWS credentials and Node.js.",
    )
    _add_cdk_options(bootstrap)
    bootstrap.set_defaults(func=_cmd_bootstrap)


def _cmd_bootstrap(args: argparse.Namespace) -> int:
    return _run_cdk(args, "bootstrap")


def _add_deploy(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    deploy = subparsers.add_parser(
        "deploy",
        help="package and deploy both stacks with the CDK CLI",
        description="Package (unless --no-package), then `cdk deploy --all` through npx "
        "(the CDK CLI from npm at a pinned version). The stack outputs (the distribution "
        "URL, the originals bucket) go to DIST/outputs.json. Needs AWS credentials.",
    )
    _add_cdk_options(deploy)
    deploy.set_defaults(func=_cmd_deploy)


def _cmd_deploy(args: argparse.Namespace) -> int:
    return _run_cdk(args, "deploy")


def _add_smoke(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    smoke = subparsers.add_parser(
        "smoke",
        help="check a deployed distribution (or the local stack) end to end",
        description="Request a fresh variant (a miss), the same again (a hit), another "
        "spelling of it (the same cache entry), a missing original (404) and a bad "
        "parameter (400); print the miss and hit latencies. Exit 1 if a check fails.",
    )
    smoke.add_argument(
        "url",
        nargs="?",
        metavar="URL",
        help="https://<distribution>.cloudfront.net (default: from DIST/outputs.json)",
    )
    smoke.add_argument(
        "--key",
        default="sample.png",
        metavar="KEY",
        help="an original in the originals bucket (default: sample.png)",
    )
    smoke.add_argument("--dist", type=Path, default=Path("dist"), metavar="DIR")
    smoke.set_defaults(func=_cmd_smoke)


def _cmd_smoke(args: argparse.Namespace) -> int:
    import json

    from infra.aws.toolkit import OUTPUTS_FILE
    from infra.smoke import run

    url = args.url
    if url is None:
        outputs = args.dist / OUTPUTS_FILE
        try:
            stacks = json.loads(outputs.read_text())
            url = next(o["DistributionUrl"] for o in stacks.values() if "DistributionUrl" in o)
        except (OSError, ValueError, StopIteration):
            print(f"imgedge smoke: give a URL (no distribution in {outputs})", file=sys.stderr)
            return 1
    try:
        report = run(url, args.key)
    except (OSError, ValueError) as error:
        print(f"imgedge smoke: {error}", file=sys.stderr)
        return 1
    return 0 if report.ok else 1


def _add_ls(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    from infra import inventory

    ls = subparsers.add_parser(
        "ls",
        help="list originals, or one original's derivatives",
        description="List the originals, or one original's stored derivatives (found "
        "through its marker index) with format, dimensions, bytes and saving.",
    )
    inventory.add_arguments(ls)
    ls.set_defaults(func=inventory.run)


def _add_precompute(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    from infra import precompute

    pc = subparsers.add_parser(
        "precompute",
        help="render every original's presets before viewers ask",
        description="Render the presets of every original under a prefix, skipping "
        "derivatives that exist, with the regional resizer's own handler (local worker "
        "processes) or the deployed function (--function).",
    )
    precompute.add_arguments(pc)
    pc.set_defaults(func=precompute.run)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="imgedge", description="On-the-fly image resizing behind CloudFront."
    )
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    _add_serve(subparsers)
    _add_traces(subparsers)
    _add_package(subparsers)
    _add_synth(subparsers)
    _add_bootstrap(subparsers)
    _add_deploy(subparsers)
    _add_smoke(subparsers)
    _add_ls(subparsers)
    _add_precompute(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    status: int = args.func(args)
    return status


if __name__ == "__main__":
    raise SystemExit(main())
