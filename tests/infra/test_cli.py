"""The `imgedge` command: one module per subcommand and one mapping of errors to messages
and exit statuses; the AWS subcommands (package, synth's errors, the CDK CLI commands that
bootstrap and deploy would run: they need AWS, so only their construction is tested);
cdk.json for the stock CDK CLI; and `imgedge smoke` against a real local stack.
(`imgedge env` and how commands find the local stack: test_cli_local.py.)"""

from __future__ import annotations

import argparse
import json
import shlex
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from botocore.exceptions import ClientError

import infra.cli.ls
import infra.cli.smoke
from infra.aws.toolkit import CDK_CLI, feature_flags
from infra.cli import COMMANDS, CommandError, build_parser, main
from tests.conftest import REPO
from tests.infra.conftest import PACKAGE_CACHE, Files
from tests.integration.stack_client import Served, start_serve


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    status = main(list(argv))
    captured = capsys.readouterr()
    return status, captured.out, captured.err


# --- one module per command, one place for errors --------------------------------------------


def test_each_command_is_a_module_that_registers_itself() -> None:
    parser = build_parser()
    commands = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    names = [module.__name__.removeprefix("infra.cli.") for module in COMMANDS]
    assert list(commands.choices) == names
    for name, module in zip(names, COMMANDS, strict=True):
        assert commands.choices[name].get_default("handler") is module.run, name


def test_python_m_infra_cli_is_the_command() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "infra.cli", "--help"],
        cwd=REPO, capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("usage: imgedge ")
    assert all(module.__name__.removeprefix("infra.cli.") in done.stdout for module in COMMANDS)


def test_a_command_error_is_its_message_and_its_status(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    def refuse(args: argparse.Namespace) -> int:
        raise CommandError("cannot do that", status=3)

    monkeypatch.setattr(infra.cli.smoke, "run", refuse)
    assert run(capsys, "smoke", "http://127.0.0.1:9") == (3, "", "imgedge smoke: cannot do that\n")


def test_an_error_the_user_can_act_on_is_one_line_and_status_1(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    def denied(args: argparse.Namespace) -> int:
        error = {"Error": {"Code": "AccessDenied", "Message": "Access Denied"}}
        raise ClientError(error, "ListObjectsV2")

    monkeypatch.setattr(infra.cli.ls, "run", denied)
    status, out, err = run(capsys, "ls")
    assert (status, out) == (1, "")
    assert err.startswith("imgedge ls: An error occurred (AccessDenied)") and err.count("\n") == 1


def test_any_other_error_is_a_bug_and_keeps_its_traceback(monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(args: argparse.Namespace) -> int:
        return 1 // 0

    monkeypatch.setattr(infra.cli.smoke, "run", broken)
    with pytest.raises(ZeroDivisionError):
        main(["smoke", "http://127.0.0.1:9"])


def test_ctrl_c_ends_a_command_with_status_130(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    def interrupted(args: argparse.Namespace) -> int:
        raise KeyboardInterrupt

    monkeypatch.setattr(infra.cli.smoke, "run", interrupted)
    assert run(capsys, "smoke", "http://127.0.0.1:9") == (130, "", "")


# --- the AWS subcommands -----------------------------------------------------------------------


def test_package_writes_both_zips_and_the_manifest(
    files: Files, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    status, out, err = run(
        capsys, "package", "--config", str(files.config), "--settings", str(files.settings),
        "--out", str(tmp_path), "--cache-dir", str(PACKAGE_CACHE),
    )  # fmt: skip
    assert status == 0, err
    manifest = json.loads((tmp_path / "manifest.json").read_text())
    assert (manifest["resizer"]["arch"], manifest["resizer"]["python"]) == ("arm64", "3.12")
    assert "edge_router.zip" in out and "regional_resizer.zip" in out


def test_package_reports_a_bad_configuration(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = tmp_path / "imgedge.toml"
    bad.write_text("sizes = [512, 64]\nerror_max_age = -1\n")
    status, _, err = run(capsys, "package", "--config", str(bad), "--out", str(tmp_path))
    assert status == 1
    assert "sizes: must be strictly increasing" in err and "error_max_age" in err


def test_synth_without_zips_says_to_package(
    tmp_path: Path, files: Files, capsys: pytest.CaptureFixture[str]
) -> None:
    status, _, err = run(
        capsys, "synth", "--no-package", "--dist", str(tmp_path / "nothing"),
        "--settings", str(files.settings), "--out", str(tmp_path / "out"),
    )  # fmt: skip
    assert status == 1
    assert "run `imgedge package` first" in err


@pytest.mark.parametrize("action", ["deploy", "bootstrap"])
def test_cdk_cli_command(
    action: str, files: Files, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    dist = tmp_path / "dist"
    status, out, _ = run(
        capsys, action, "--dry-run", "--config", str(files.config),
        "--settings", str(files.settings), "--dist", str(dist), "--profile", "imgedge",
        "--out", str(tmp_path / "cdk.out"), "--", "--require-approval", "never",
    )  # fmt: skip
    assert status == 0
    command = shlex.split(out)
    assert command[:4] == ["npx", "--yes", CDK_CLI, action]
    assert CDK_CLI.startswith("aws-cdk@2.")
    app = command[command.index("--app") + 1]
    assert shlex.split(app) == [sys.executable, "-m", "infra.aws.app"]
    contexts = [command[i + 1] for i, arg in enumerate(command) if arg == "--context"]
    assert contexts == [
        f"imgedge:dist={dist.resolve()}",
        f"imgedge:config={files.config.resolve()}",
        f"imgedge:settings={files.settings.resolve()}",
    ]
    assert command[command.index("--output") + 1] == str((tmp_path / "cdk.out").resolve())
    assert command[command.index("--profile") + 1] == "imgedge"
    assert command[-2:] == ["--require-approval", "never"]  # what follows "--", as given
    if action == "deploy":
        assert "--all" in command
        assert command[command.index("--outputs-file") + 1] == str(
            (dist / "outputs.json").resolve()
        )
    else:
        assert "--all" not in command and "--outputs-file" not in command


# --- cdk.json: the stock CDK CLI -------------------------------------------------------------

RECOMMENDED_BUT_OFF = {
    # ARNs keep ${AWS::Partition}, as the templates' tests and cdk-nag acknowledgements name them.
    "@aws-cdk/core:enablePartitionLiterals",
    # Each policy statement stays as the stacks write it (the tests read them one by one).
    "@aws-cdk/aws-iam:minimizePolicies",
    # No second log group for the edge function in us-east-1: Lambda@Edge logs in the
    # regions that run it, and every other log group follows log_retention_days.
    "@aws-cdk/aws-lambda:useCdkManagedLogGroup",
}


def recommended_feature_flags() -> dict[str, object]:
    """What `cdk init` writes for the installed aws-cdk-lib: its recommended-feature-flags.json."""
    import tarfile

    import aws_cdk

    (tgz,) = (Path(aws_cdk.__file__).parent / "_jsii").glob("aws-cdk-lib@*.jsii.tgz")
    with tarfile.open(tgz) as archive:
        member = archive.extractfile("package/recommended-feature-flags.json")
        assert member is not None
        flags: dict[str, object] = json.load(member)
    return flags


def test_cdk_json_runs_the_app_with_the_recommended_feature_flags() -> None:
    cdk_json = json.loads((REPO / "cdk.json").read_text())
    assert shlex.split(cdk_json["app"]) == [".venv/bin/python", "-m", "infra.aws.app"]
    recommended = recommended_feature_flags()
    assert set(cdk_json["context"]) == set(recommended)
    differing = {k for k, v in cdk_json["context"].items() if recommended[k] != v}
    assert differing == RECOMMENDED_BUT_OFF
    assert not any(cdk_json["context"][flag] for flag in RECOMMENDED_BUT_OFF)
    # imgedge synth and the app built by the CDK CLI anywhere apply the same flags.
    assert feature_flags() == cdk_json["context"]


def test_git_ignores_what_synth_and_package_write() -> None:
    done = subprocess.run(
        ["git", "check-ignore", "cdk.out/manifest.json", "dist/edge_router.zip"],
        cwd=REPO, capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert done.stdout.split() == ["cdk.out/manifest.json", "dist/edge_router.zip"]


# --- smoke against the local stack ---------------------------------------------------------


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    served = start_serve(tmp_path_factory.mktemp("smoke") / "data")  # uploads sample.png
    yield served
    assert served.stop(signal.SIGINT) == 0


@pytest.mark.integration
def test_smoke_passes_against_the_local_stack(
    stack: Served, capsys: pytest.CaptureFixture[str]
) -> None:
    status, out, err = run(capsys, "smoke", stack.edge)
    assert status == 0, out + err
    lines = out.splitlines()
    for name in ("miss", "hit", "normalization", "404", "400"):
        assert any(line.startswith(f"PASS {name} ") for line in lines), out
    assert "X-Cache: Miss from cloudfront" in out and "X-Cache: Hit from cloudfront" in out
    assert any(line.startswith("latency: miss ") and " hit " in line for line in lines), out
    assert lines[-1] == "smoke: ok"


@pytest.mark.integration
def test_smoke_again_finds_a_fresh_variant_via_the_deploy_outputs(
    stack: Served, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "outputs.json").write_text(json.dumps({"imgedge": {"DistributionUrl": stack.edge}}))
    status, out, err = run(capsys, "smoke", "--dist", str(tmp_path))
    assert status == 0, out + err


@pytest.mark.integration
def test_smoke_fails_when_the_original_is_missing(
    stack: Served, capsys: pytest.CaptureFixture[str]
) -> None:
    status, out, _ = run(capsys, "smoke", stack.edge, "--key", "not-uploaded.png")
    assert status == 1
    assert "FAIL miss" in out and "is 'not-uploaded.png' in the originals bucket?" in out
    assert out.splitlines()[-1].startswith("smoke: FAILED (miss, hit, normalization")


def test_smoke_needs_a_url(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    status, _, err = run(capsys, "smoke", "--dist", str(tmp_path))
    assert status == 1 and "give a URL" in err
