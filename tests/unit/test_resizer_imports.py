"""What a cold start of the resizer imports: the handler, imported as Lambda's init imports
it (a fresh, isolated interpreter, a deployed function's environment), loads no AWS SDK
(boto3, botocore and their dependencies) and no aws-xray-sdk. Its S3 calls go through
imgedge's own client; aws-xray-sdk is for a sampled request only. Nor does it load what
only some requests need: LittleCMS (an original with an ICC profile), Pillow's filters
(blur, sharpen, g=smart, f=json), the smart crop and the placeholder."""

from __future__ import annotations

import json
import subprocess
import sys

from tests.conftest import REPO

HEAVY = ("boto3", "botocore", "s3transfer", "jmespath", "dateutil", "urllib3", "aws_xray_sdk")
DEPLOYED_ENV = {
    "ORIGINALS_BUCKET": "originals",
    "DERIVATIVES_BUCKET": "derivatives",
    "AWS_REGION": "eu-west-1",
    "AWS_ACCESS_KEY_ID": "AKIDEXAMPLE",
    "AWS_SECRET_ACCESS_KEY": "secret",
    "AWS_SESSION_TOKEN": "token",
    "LAMBDA_TASK_ROOT": str(REPO),
    "PATH": "/usr/bin:/bin",
}

ON_DEMAND = (
    "PIL.ImageCms",
    "PIL.ImageFilter",
    "regional_resizer.smartcrop",
    "regional_resizer.placeholder",
)


def modules_after(code: str) -> list[str]:
    """``sys.modules`` once ``code`` has run in a fresh ``python -I`` with the project on
    ``sys.path``, as Lambda puts the function's code there."""
    script = (
        f"import sys\nsys.path.insert(0, {str(REPO)!r})\n{code}\n"
        "import json\nprint(json.dumps(sorted(sys.modules)))\n"
    )
    done = subprocess.run(
        [sys.executable, "-I", "-c", script],
        env=DEPLOYED_ENV,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    loaded: list[str] = json.loads(done.stdout.splitlines()[-1])
    return loaded


def heavy(modules: list[str]) -> list[str]:
    return sorted({name.split(".")[0] for name in modules} & set(HEAVY))


def test_the_handlers_init_imports_no_aws_sdk_and_no_xray_sdk() -> None:
    loaded = modules_after("import regional_resizer.handler")
    assert "regional_resizer.handler" in loaded
    assert "regional_resizer.s3" in loaded  # made at init, as the environment is set
    assert heavy(loaded) == []
    assert sorted(set(ON_DEMAND) & set(loaded)) == []


def test_what_only_some_requests_need_is_seen_once_loaded() -> None:
    """The init test's check of ``ON_DEMAND``, where they are loaded: it is not blind."""
    used = modules_after(
        "import regional_resizer.handler\n"
        "from regional_resizer import colour, effects\n"
        "from PIL import Image\n"
        "image = Image.new('RGB', (64, 64))\n"
        "effects.blur(image, 1.0)\n"
        "colour._srgb()\n"
        "from regional_resizer import placeholder, smartcrop"
    )
    assert sorted(set(ON_DEMAND) - set(used)) == []


def test_the_check_would_see_them() -> None:
    """The same check, where they are loaded: it is not blind."""
    assert heavy(modules_after("import boto3, aws_xray_sdk.core")) == [
        "aws_xray_sdk", "boto3", "botocore", "dateutil", "jmespath", "s3transfer", "urllib3",
    ]  # fmt: skip
