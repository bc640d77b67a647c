"""How `imgedge env`, `ls`, `precompute` and `traces` find the running local stack: the
state file `imgedge serve` keeps in its data directory (infra/local/state.py), what wins
over it, and, against a real stack, `eval "$(imgedge env)"` followed by a plain boto3
client, `imgedge ls` without flags, and the file gone once the stack stops."""

from __future__ import annotations

import argparse
import json
import os
import shlex
import signal
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path

import pytest

import infra.cli.precompute
from infra.cli import CommandError, build_parser, main
from infra.cli.discovery import use_local_s3
from infra.local.credentials import ACCESS_KEY_ID, SECRET_ACCESS_KEY
from infra.local.state import StackState, find_running, read_state, state_path, write_state
from tests.conftest import make_s3_client
from tests.integration.stack_client import Served, jpeg, start_serve

STACK = StackState(
    pid=os.getpid(),  # alive for as long as the test runs
    edge="http://127.0.0.1:18080",
    s3_endpoint="http://127.0.0.1:19000",
    originals_bucket="local-originals",
    derivatives_bucket="local-derivatives",
    region="us-east-1",
    xray_daemon="127.0.0.1:12000",
    traces_dir=None,
)
ENDPOINT_VARIABLES = ("AWS_ENDPOINT_URL_S3", "AWS_ENDPOINT_URL")


def gone_pid() -> int:
    """The pid of a process that has ended."""
    process = subprocess.Popen([sys.executable, "-c", ""])
    process.wait()
    return process.pid


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    status = main(list(argv))
    captured = capsys.readouterr()
    return status, captured.out, captured.err


@pytest.fixture
def here(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A working directory with no AWS endpoint in the environment."""
    monkeypatch.chdir(tmp_path)
    for name in ENDPOINT_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    return tmp_path


def serving(folder: Path, state: StackState = STACK) -> Path:
    data_dir = folder / ".imgedge"
    data_dir.mkdir(parents=True, exist_ok=True)
    write_state(data_dir, state)
    return data_dir


def parsed(*argv: str) -> argparse.Namespace:
    return build_parser().parse_args(list(argv))


# --- the state file ----------------------------------------------------------------------------


def test_the_state_file_round_trips_and_names_its_folder(here: Path) -> None:
    data_dir = serving(here)
    assert json.loads(state_path(data_dir).read_text())["s3_endpoint"] == STACK.s3_endpoint
    assert read_state(state_path(data_dir)) == replace(STACK, data_dir=str(data_dir.resolve()))


def test_a_stack_is_found_here_or_in_a_parent_directory(here: Path) -> None:
    serving(here)
    below = here / "photos" / "2026"
    below.mkdir(parents=True)
    found = find_running(start=below)
    assert found is not None and found.s3_endpoint == STACK.s3_endpoint


def test_a_stack_whose_process_is_gone_is_not_running(here: Path) -> None:
    serving(here, replace(STACK, pid=gone_pid()))
    assert find_running() is None


def test_a_file_that_is_not_a_state_is_ignored(here: Path) -> None:
    (here / ".imgedge").mkdir()
    state_path(here / ".imgedge").write_text('{"pid": "many"}')
    assert find_running() is None


# --- ls and precompute: what wins --------------------------------------------------------------


def test_without_flags_ls_uses_the_running_stack(
    here: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data_dir = serving(here)
    args = parsed("ls")
    use_local_s3(args, "ls")
    assert args.s3_endpoint == STACK.s3_endpoint
    assert (args.originals_bucket, args.derivatives_bucket) == (
        "local-originals",
        "local-derivatives",
    )
    err = capsys.readouterr().err
    assert err == f"imgedge ls: the local stack's S3 at {STACK.s3_endpoint} " + (
        f"({data_dir.resolve() / 'stack.json'})\n"
    )


def test_without_a_running_stack_ls_uses_aws_as_before(here: Path) -> None:
    serving(here, replace(STACK, pid=gone_pid()))
    args = parsed("ls")
    use_local_s3(args, "ls")
    assert args.s3_endpoint is None
    assert (args.originals_bucket, args.derivatives_bucket) == ("originals", "derivatives")


def test_flags_win_over_the_stack(here: Path) -> None:
    serving(here)
    args = parsed("ls", "--s3-endpoint", "http://127.0.0.1:29000")
    use_local_s3(args, "ls")
    assert args.s3_endpoint == "http://127.0.0.1:29000"
    assert args.originals_bucket == "originals"  # the option's default, not the stack's

    args = parsed("ls", "--originals-bucket", "mine")
    use_local_s3(args, "ls")
    assert (args.s3_endpoint, args.originals_bucket) == (STACK.s3_endpoint, "mine")
    assert args.derivatives_bucket == "local-derivatives"


@pytest.mark.parametrize("variable", ENDPOINT_VARIABLES)
def test_an_endpoint_in_the_environment_wins_over_the_stack(
    here: Path, monkeypatch: pytest.MonkeyPatch, variable: str
) -> None:
    serving(here)
    monkeypatch.setenv(variable, "http://127.0.0.1:29000")
    args = parsed("ls")
    use_local_s3(args, "ls")
    assert (args.s3_endpoint, args.originals_bucket) == (None, "originals")


def test_the_stacks_own_endpoint_in_the_environment_keeps_its_buckets(
    here: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """As after eval "$(imgedge env)"."""
    serving(here)
    monkeypatch.setenv("AWS_ENDPOINT_URL_S3", STACK.s3_endpoint + "/")
    args = parsed("ls")
    use_local_s3(args, "ls")
    assert (args.s3_endpoint, args.originals_bucket) == (STACK.s3_endpoint, "local-originals")


def test_precompute_with_a_deployed_function_stays_on_aws(here: Path) -> None:
    serving(here)
    args = parsed("precompute", "--function", "imgedge-resizer")
    use_local_s3(args, "precompute", on_aws=bool(args.function))
    assert (args.s3_endpoint, args.originals_bucket) == (None, "originals")

    args = parsed("precompute")
    use_local_s3(args, "precompute", on_aws=bool(args.function))
    assert (args.s3_endpoint, args.originals_bucket) == (STACK.s3_endpoint, "local-originals")


@pytest.mark.parametrize(
    ("argv", "environment", "expected"),
    [
        ((), {}, "stack.toml"),
        (("--config", "mine.toml"), {}, "mine.toml"),
        ((), {"IMGEDGE_CONFIG": "env.toml"}, None),  # load_config reads the variable
    ],
)
def test_precompute_renders_with_the_stacks_configuration_unless_told_otherwise(
    here: Path,
    monkeypatch: pytest.MonkeyPatch,
    argv: tuple[str, ...],
    environment: dict[str, str],
    expected: str | None,
) -> None:
    serving(here, replace(STACK, config=str(here / "stack.toml")))
    monkeypatch.delenv("IMGEDGE_CONFIG", raising=False)
    for name, value in environment.items():
        monkeypatch.setenv(name, value)
    given: list[argparse.Namespace] = []

    def record(args: argparse.Namespace) -> int:
        given.append(args)
        return 0

    monkeypatch.setattr(infra.cli.precompute, "render", record)
    assert main(["precompute", *argv]) == 0
    config = given[0].config
    assert (None if config is None else Path(config).name) == expected
    assert given[0].s3_endpoint == STACK.s3_endpoint


def test_a_data_dir_without_a_running_stack_is_an_error(
    here: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    args = parsed("ls", "--data-dir", str(here / "elsewhere"))
    with pytest.raises(CommandError, match="no local stack is running in"):
        use_local_s3(args, "ls")
    status, out, err = run(capsys, "ls", "--data-dir", str(here / "elsewhere"))
    assert (status, out) == (1, "")
    assert err.startswith("imgedge ls: no local stack is running in")


# --- traces ------------------------------------------------------------------------------------


def test_traces_reads_the_running_stacks_data_dir(
    here: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    recorded = here / "elsewhere"
    serving(here / "project", replace(STACK, traces_dir=str(recorded)))
    monkeypatch.chdir(here / "project")
    assert run(capsys, "traces") == (0, f"no traces recorded under {recorded}\n", "")


def test_traces_of_a_stack_with_its_own_daemon_are_not_here(
    here: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    serving(here)
    status, _, err = run(capsys, "traces")
    assert status == 1
    assert err == (
        f"imgedge traces: the local stack sends its traces to the X-Ray daemon at "
        f"{STACK.xray_daemon}, which keeps them\n"
    )


def test_traces_without_a_stack_reads_imgedge_here(
    here: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run(capsys, "traces") == (0, "no traces recorded under .imgedge\n", "")


# --- env ---------------------------------------------------------------------------------------


def evaluated(script: str, cwd: Path, *names: str) -> dict[str, str | None]:
    """The variables ``names`` after a POSIX shell evals ``script`` (with AWS_PROFILE set)."""
    shown = "; ".join(f'printf "%s=%s\\0" {n} "${{{n}-<unset>}}"' for n in names)
    done = subprocess.run(
        ["sh", "-c", f'eval "$1"; {shown}', "sh", script],
        cwd=cwd, env={"PATH": os.environ["PATH"], "AWS_PROFILE": "someone"},
        capture_output=True, text=True, check=True, timeout=30,
    )  # fmt: skip
    pairs = (item.split("=", 1) for item in done.stdout.split("\0") if item)
    return {name: None if value == "<unset>" else value for name, value in pairs}


def test_env_prints_the_exports_for_the_running_stack(
    here: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    serving(here)
    status, out, err = run(capsys, "env")
    assert (status, err) == (0, "")
    names = ["AWS_ENDPOINT_URL_S3", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"]
    names += ["AWS_DEFAULT_REGION", "AWS_REGION", "AWS_PROFILE"]
    assert evaluated(out, here, *names) == {
        "AWS_ENDPOINT_URL_S3": STACK.s3_endpoint,
        "AWS_ACCESS_KEY_ID": ACCESS_KEY_ID,
        "AWS_SECRET_ACCESS_KEY": SECRET_ACCESS_KEY,
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_REGION": "us-east-1",
        "AWS_PROFILE": None,
    }


def test_env_quotes_what_it_prints(here: Path, capsys: pytest.CaptureFixture[str]) -> None:
    endpoint = 'http://127.0.0.1:9/it\'s $(touch pwned) `touch pwned` "x"; touch pwned'
    data_dir = serving(here, replace(STACK, s3_endpoint=endpoint))
    status, out, _ = run(capsys, "env", "--data-dir", str(data_dir))
    assert status == 0
    assert evaluated(out, here, "AWS_ENDPOINT_URL_S3") == {"AWS_ENDPOINT_URL_S3": endpoint}
    assert not (here / "pwned").exists()


def test_env_without_a_running_stack_says_so_and_prints_nothing(
    here: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    serving(here, replace(STACK, pid=gone_pid()))
    status, out, err = run(capsys, "env")
    assert (status, out) == (1, "")
    assert err.startswith("imgedge env: no local stack is running")


# --- against a real stack ----------------------------------------------------------------------

PUT_AND_LIST = """
import json, boto3
s3 = boto3.client("s3")
s3.upload_file("cat.jpg", "originals", "cat.jpg")
keys = [o["Key"] for o in s3.list_objects_v2(Bucket="originals")["Contents"]]
print(json.dumps({"endpoint": s3.meta.endpoint_url, "keys": keys}))
"""


def without_aws(home: Path, **extra: str) -> dict[str, str]:
    """The environment of a machine with no AWS configuration at all."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update(
        HOME=str(home),
        AWS_CONFIG_FILE=str(home / "no-config"),
        AWS_SHARED_CREDENTIALS_FILE=str(home / "no-credentials"),
        **extra,
    )
    return env


@dataclass(frozen=True)
class Project:
    folder: Path  # where `imgedge serve` ran: its data directory is .imgedge here
    served: Served


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Project]:
    folder = tmp_path_factory.mktemp("project")
    served = start_serve(folder / ".imgedge")
    yield Project(folder, served)
    assert served.stop(signal.SIGINT) == 0


@pytest.mark.integration
def test_eval_imgedge_env_then_a_plain_client_reaches_the_local_s3(
    project: Project, tmp_path: Path
) -> None:
    """`eval "$(imgedge env)"`, then what `aws s3 cp cat.jpg s3://originals/cat.jpg` does,
    with boto3 (the AWS CLI's botocore) given no endpoint and no credentials of its own; a
    leftover AWS_PROFILE naming no profile here would fail it, so the exports unset it."""
    (tmp_path / "cat.jpg").write_bytes(jpeg((64, 48)))
    imgedge = f"cd {shlex.quote(str(project.folder))} && {shlex.quote(sys.executable)} -m infra.cli"
    done = subprocess.run(
        ["bash", "-c", f'set -e; eval "$({imgedge} env)"; exec "$0" -c "$1"',
         sys.executable, PUT_AND_LIST],
        cwd=tmp_path, env=without_aws(tmp_path, AWS_PROFILE="no-such-profile"),
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    listed = json.loads(done.stdout)
    assert listed["endpoint"] == project.served.s3
    assert "cat.jpg" in listed["keys"] and "sample.png" in listed["keys"]
    own = make_s3_client(project.served.s3).head_object(Bucket="originals", Key="cat.jpg")
    assert own["ContentLength"] == (tmp_path / "cat.jpg").stat().st_size


@pytest.mark.integration
def test_ls_without_flags_lists_the_local_stacks_originals(
    project: Project, tmp_path: Path
) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "infra.cli", "ls", "--json"],
        cwd=project.folder, env=without_aws(tmp_path), capture_output=True, text=True, timeout=60,
        check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    keys = [original["key"] for original in json.loads(done.stdout)]
    assert "sample.png" in keys
    assert done.stderr == f"imgedge ls: the local stack's S3 at {project.served.s3} " + (
        f"({project.folder.resolve() / '.imgedge' / 'stack.json'})\n"
    )


@pytest.mark.integration
def test_the_state_file_lives_as_long_as_the_stack(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data_dir = tmp_path / ".imgedge"
    served = start_serve(data_dir, "--no-samples")
    try:
        state = read_state(state_path(data_dir))
        assert state is not None
        assert (state.pid, state.edge, state.s3_endpoint) == (
            served.process.pid,
            served.edge,
            served.s3,
        )
        assert state.traces_dir == str(data_dir.resolve())
        assert state.config is None  # the defaults
    finally:
        assert served.stop(signal.SIGTERM) == 0
    assert not state_path(data_dir).exists()
    status, out, _ = run(capsys, "env", "--data-dir", str(data_dir))
    assert (status, out) == (1, "")
