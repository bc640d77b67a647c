"""`imgedge url`: the canonical viewer URL on stdout and nothing else; every complaint on
stderr with exit status 2."""

from __future__ import annotations

import shlex
import subprocess
import sys
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from edge_router.normalize import normalize
from infra.cli import main
from shared.config import Config, load_config
from shared.contract import uri_of
from shared.urls import image_url
from shared.viewer_query import TRANSFORM_PARAMS
from tests.conftest import REPO

SIGNED_CONFIG = 'signing_keys = { k1 = "0123456789abcdef-secret" }\nsizes = [100, 200, 400]\n'


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    status = main(["url", *argv])
    captured = capsys.readouterr()
    return status, captured.out, captured.err


@pytest.fixture
def signed_config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.delenv("IMGEDGE_CONFIG", raising=False)
    path = tmp_path / "imgedge.toml"
    path.write_text(SIGNED_CONFIG)
    return path


def test_prints_the_canonical_url_alone(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("IMGEDGE_CONFIG", raising=False)
    argv = ("photos/cat.jpg", "--s", "250x250", "--f", "WEBP", "--g", "smart", "--dpr", "1")
    assert run(capsys, *argv) == (0, "/photos/cat.jpg?s=256x256&f=webp&g=smart\n", "")
    based = ("photos/my cat.jpg", "--p", "thumb", "--base", "https://img.example.com/")
    expected = "https://img.example.com/photos/my%20cat.jpg?s=256x256&f=webp\n"
    assert run(capsys, *based) == (0, expected, "")


def test_each_viewer_parameter_is_an_option_of_its_name(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("IMGEDGE_CONFIG", raising=False)
    given = {
        "s": "300x200", "f": "png", "fit": "contain", "q": "55", "r": "90", "flip": "v",
        "blur": "2", "sharpen": "1", "bg": "000000",
    }  # fmt: skip
    argv = [item for name, value in given.items() for item in (f"--{name}", value)]
    status, out, err = run(capsys, "a.jpg", *argv)
    assert (status, err) == (0, "")
    assert out == image_url("a.jpg", config=Config(), **given) + "\n"
    parts = urlsplit(out.strip())
    query = "&".join(f"{name}={value}" for name, value in given.items())
    assert normalize(parts.path, parts.query, None, Config()) == normalize(
        uri_of("a.jpg"), query, None, Config()
    )
    for name in TRANSFORM_PARAMS:
        assert run(capsys, "a.jpg", f"--{name}", "zzz")[0] == 2, name


def test_signs_with_a_key_of_the_configuration(
    capsys: pytest.CaptureFixture[str], signed_config: Path
) -> None:
    argv = ("a.jpg", "--s", "150x", "--crop", "0,0,50,50", "--sign", "k1")
    status, out, err = run(capsys, *argv, "--config", str(signed_config))
    assert (status, err) == (0, "")
    config = load_config(signed_config)
    assert out.startswith("/a.jpg?s=150x&f=jpeg&crop=0,0,50,50&sig=k1.")
    parts = urlsplit(out.strip())
    assert normalize(parts.path, parts.query, None, config).width == 150  # verified, exact


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (("a.jpg", "--s", "0x10"), "invalid request: s must not be zero"),
        (("a.jpg", "--s", "10x", "--crop", "0,0,5,5"), "invalid request: crop needs a signed"),
        (("a.jpg", "--s", "10x", "--sign", "k9"), "no signing key 'k9' (known: k1)"),
        (("a.jpg", "--s", "10x", "--f", "auto", "--sign", "k1"), "f other than auto"),
        (("a.jpg", "--p", "nope"), "invalid request: unknown preset"),
        (("a.jpg", "--s", "10x", "--config", "/nonexistent/imgedge.toml"), "No such file"),
    ],
)
def test_a_complaint_goes_to_stderr_with_status_2(
    capsys: pytest.CaptureFixture[str], signed_config: Path, argv: tuple[str, ...], message: str
) -> None:
    if "--config" not in argv:
        argv = (*argv, "--config", str(signed_config))
    status, out, err = run(capsys, *argv)
    assert (status, out) == (2, "")
    assert err.startswith("imgedge url: ") and message in err and err.count("\n") == 1


def test_a_bad_configuration_is_status_2(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    bad = tmp_path / "imgedge.toml"
    bad.write_text("sizes = [512, 64]\n")
    status, out, err = run(capsys, "a.jpg", "--s", "64x", "--config", str(bad))
    assert (status, out) == (2, "")
    assert "sizes: must be strictly increasing" in err


def test_options_are_not_abbreviated(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as stopped:
        main(["url", "a.jpg", "--sh", "1"])  # not --sharpen
    assert stopped.value.code == 2
    assert "unrecognized arguments: --sh" in capsys.readouterr().err


def test_command_substitution_gets_the_url(tmp_path: Path) -> None:
    script = '[ "$(python -m infra.cli url photos/cat.jpg --s 640x --q 60)" = "$EXPECTED" ]'
    done = subprocess.run(
        ["sh", "-c", script],
        cwd=REPO, capture_output=True, text=True, timeout=60, check=False,
        env={"PATH": f"{Path(sys.executable).parent}:/usr/bin:/bin",
             "EXPECTED": "/photos/cat.jpg?s=640x&f=jpeg&q=60"},
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert done.stdout == done.stderr == ""


def test_the_examples_of_the_page_builders_guide(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each ``$ imgedge url ...`` of docs/page-builders.md prints the lines that follow it
    (stdout or stderr), with the guide's imgedge.toml."""
    monkeypatch.delenv("IMGEDGE_CONFIG", raising=False)
    monkeypatch.chdir(tmp_path)
    (tmp_path / "imgedge.toml").write_text(
        'signing_keys = { k1 = "a secret of 16 characters or more" }\n'
    )
    guide = (REPO / "docs" / "page-builders.md").read_text()
    console = guide.split("```console\n", 1)[1].split("```", 1)[0]
    examples = [block.split("\n", 1) for block in console.split("$ ")[1:]]
    assert len(examples) >= 4
    for command, printed in examples:
        argv = shlex.split(command)
        assert argv[:2] == ["imgedge", "url"], command
        status, out, err = run(capsys, *argv[2:])
        assert out + err == printed, command
        assert status == (2 if err else 0), command
