"""Your own domain: with ``domain_names`` and ``certificate_arn`` the distribution has them as
aliases and the certificate by SNI with TLSv1.2_2021 (one synth here, with cdk-nag);
without them (the session's synth) it has CloudFront's own. Settings AWS would refuse
are refused at synth."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from aws_cdk import App

from infra.aws import app as app_module
from infra.aws.settings import DeploySettings, SettingsError, load_settings
from infra.package import Built
from tests.infra.conftest import SETTINGS_TOML, Files, Synthesized
from tests.infra.templates import distribution, only

ARN = "arn:aws:acm:us-east-1:123456789012:certificate/1234abcd-12ab-34cd-56ef-1234567890ab"
NAMES = ["img.example.com", "*.cdn.example.com"]


@pytest.fixture(scope="module")
def with_domain(
    files: Files, packaged: Built, tmp_path_factory: pytest.TempPathFactory
) -> dict[str, Any]:
    folder = tmp_path_factory.mktemp("domain")
    settings_file = folder / "settings.toml"
    settings_file.write_text(
        SETTINGS_TOML
        + f"domain_names = {NAMES!r}\n".replace("'", '"')
        + f'certificate_arn = "{ARN}"\n'
    )
    app = App(outdir=str(folder / "cdk.out"))
    deployment = app_module.build(
        app, files.load_config(), load_settings(settings_file), packaged.edge_zip.parent
    )
    assembly = app.synth()  # cdk-nag runs: CFR4 is met, not acknowledged
    template: dict[str, Any] = assembly.get_stack_by_name(deployment.stack.stack_name).template
    return template


def test_the_distribution_has_the_aliases_and_the_certificate(with_domain: dict[str, Any]) -> None:
    config = only(with_domain, "AWS::CloudFront::Distribution")[1]["Properties"][
        "DistributionConfig"
    ]
    assert config["Aliases"] == NAMES
    assert config["ViewerCertificate"] == {
        "AcmCertificateArn": ARN,
        "SslSupportMethod": "sni-only",
        "MinimumProtocolVersion": "TLSv1.2_2021",
    }
    assert "DistributionDomainName" in with_domain["Outputs"]


def test_without_them_cloudfronts_own_name_and_certificate(synthesized: Synthesized) -> None:
    config = distribution(synthesized)
    assert "Aliases" not in config and "ViewerCertificate" not in config
    assert "DistributionDomainName" in synthesized.main["Outputs"]


def _problems(**settings: Any) -> list[str]:
    with pytest.raises(SettingsError) as caught:
        DeploySettings.from_mapping(settings)
    return caught.value.problems


def test_both_or_neither() -> None:
    (problem,) = _problems(domain_names=["img.example.com"])
    assert problem.startswith("certificate_arn: domain_names and certificate_arn go together")
    (problem,) = _problems(certificate_arn=ARN)
    assert problem.startswith("domain_names: domain_names and certificate_arn go together")


def test_the_certificate_must_be_acms_in_us_east_1() -> None:
    (problem,) = _problems(
        domain_names=NAMES, certificate_arn=ARN.replace("us-east-1", "eu-west-1")
    )
    assert "in eu-west-1" in problem and "us-east-1 only" in problem
    assert "cnames-and-https-requirements" in problem
    iam = "arn:aws:iam::123456789012:server-certificate/img"
    (problem,) = _problems(domain_names=NAMES, certificate_arn=iam)
    assert problem.startswith("certificate_arn: an ACM certificate's ARN")


@pytest.mark.parametrize(
    "name",
    ["example", "Img.example.com", "-img.example.com", "img..example.com", "img.*.example.com",
     "img_1.example.com", "img.example.com.", "a" * 64 + ".example.com", "x." * 127 + "com"],
)  # fmt: skip
def test_domain_names_must_be_valid(name: str) -> None:
    (problem,) = _problems(domain_names=[name], certificate_arn=ARN)
    assert problem.startswith(f"domain_names: {name!r}")


def test_within_the_quota_and_once_each() -> None:
    names = [f"img{i}.example.com" for i in range(101)]
    (problem,) = _problems(domain_names=names, certificate_arn=ARN)
    assert "101 names, over CloudFront's quota of 100" in problem
    raised = DeploySettings(
        domain_names=tuple(names), certificate_arn=ARN, alternate_domain_names_quota=200
    )
    assert len(raised.domain_names) == 101
    (problem,) = _problems(domain_names=NAMES + NAMES[:1], certificate_arn=ARN)
    assert problem == "domain_names: named more than once: ['img.example.com']"
    (problem,) = _problems(domain_names="img.example.com", certificate_arn=ARN)
    assert problem == "domain_names: must be a list of strings"


def test_from_a_file(tmp_path: Path) -> None:
    path = tmp_path / "settings.toml"
    path.write_text(f'domain_names = ["img.example.com"]\ncertificate_arn = "{ARN}"\n')
    settings = load_settings(path)
    assert settings.domain_names == ("img.example.com",)
    assert DeploySettings().domain_names == () and DeploySettings().certificate_arn == ""
