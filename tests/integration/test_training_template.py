"""training.yaml (the managed training job, issue 14 item 5): lint-clean, a GPU compute environment that
costs nothing idle, a job that runs `papila model train-job` on the export it is given, and a role that
reads exports and writes model versions only (never the pointer). The training image's TensorFlow is the
one the package pins. No cloud needed."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import tomllib
from pathlib import Path
from typing import Any

import pytest

from infra import cfn

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE = ROOT / "training.yaml"


@pytest.fixture(scope="module")
def template() -> dict[str, Any]:
    return cfn.load_template(TEMPLATE)


def _of_type(template: dict[str, Any], kind: str) -> dict[str, Any]:
    return {name: r for name, r in template["Resources"].items() if r["Type"] == kind}


def _one(template: dict[str, Any], kind: str) -> tuple[str, dict[str, Any]]:
    [(name, resource)] = _of_type(template, kind).items()
    return name, resource["Properties"]


def _sub(value: Any) -> str:
    """A resource ARN as written (`!Sub "...${Param}..."`, or a plain string)."""
    return value["Fn::Sub"] if isinstance(value, dict) else value


def test_cfn_lint_reports_nothing() -> None:
    # The flags test_template.py uses for template.yaml: errors, warnings and informational findings alike.
    env = {**os.environ, "AWS_DEFAULT_REGION": "us-east-1"}
    result = subprocess.run(
        [str(Path(sys.executable).with_name("cfn-lint")), "--include-checks", "I", "--", str(TEMPLATE)],
        capture_output=True, text=True, env=env, timeout=300, check=False,
    )
    assert result.returncode == 0 and not result.stdout.strip(), result.stdout + result.stderr


def test_the_compute_environment_is_managed_gpu_and_scales_to_zero(template: dict[str, Any]) -> None:
    name, env = _one(template, "AWS::Batch::ComputeEnvironment")
    resources = env["ComputeResources"]
    assert env["Type"] == "MANAGED"
    assert resources["MinvCpus"] == 0 and "DesiredvCpus" not in resources
    assert resources["InstanceTypes"] and all(t.split(".")[0] in ("g5", "g4dn") for t in resources["InstanceTypes"])
    assert all("NVIDIA" in c["ImageType"] for c in resources["Ec2Configuration"])  # the GPU AMI
    assert resources["Subnets"] == {"Ref": "SubnetIds"} and resources["SecurityGroupIds"] == {"Ref": "SecurityGroupIds"}
    _, queue = _one(template, "AWS::Batch::JobQueue")
    assert [o["ComputeEnvironment"] for o in queue["ComputeEnvironmentOrder"]] == [{"Ref": name}]


def test_the_job_runs_papila_train_job_on_the_export_it_is_given(template: dict[str, Any]) -> None:
    _, job = _one(template, "AWS::Batch::JobDefinition")
    container = job["ContainerProperties"]
    assert container["Command"][:3] == ["papila", "model", "train-job"]
    command = container["Command"]
    assert command[command.index("--export-id") + 1] == "Ref::export_id" and "--json" in command
    requirements = {r["Type"]: r["Value"] for r in container["ResourceRequirements"]}
    assert requirements["GPU"] == "1" and {"VCPU", "MEMORY"} <= set(requirements)
    env = {e["Name"]: e["Value"] for e in container["Environment"]}
    assert env["UPLOADS_BUCKET"] == {"Ref": "UploadsBucketName"}
    assert env["MODEL_PARAMETER"] == {"Ref": "ModelVersionParameterName"}
    assert env["AWS_DEFAULT_REGION"] == {"Ref": "AWS::Region"}
    assert job["PlatformCapabilities"] == ["EC2"] and job["Timeout"]["AttemptDurationSeconds"]
    # Only a lost host is retried; the last rule ends every other failure.
    rules = job["RetryStrategy"]["EvaluateOnExit"]
    assert [r["Action"] for r in rules] == ["RETRY", "EXIT"] and rules[-1]["OnReason"] == "*"
    role = container["JobRoleArn"]["Fn::GetAtt"][0]
    assert template["Resources"][role]["Type"] == "AWS::IAM::Role"
    outputs = template["Outputs"]
    assert outputs["JobQueueArn"]["Value"] == {"Ref": _one(template, "AWS::Batch::JobQueue")[0]}
    assert outputs["JobDefinitionArn"]["Value"] == {"Ref": _one(template, "AWS::Batch::JobDefinition")[0]}


def test_the_job_role_reads_exports_writes_model_versions_and_never_moves_the_pointer(template: dict[str, Any]) -> None:
    _, job = _one(template, "AWS::Batch::JobDefinition")
    role = template["Resources"][job["ContainerProperties"]["JobRoleArn"]["Fn::GetAtt"][0]]["Properties"]
    assert role["AssumeRolePolicyDocument"]["Statement"][0]["Principal"]["Service"]["Fn::Sub"].startswith("ecs-tasks.")
    assert not role.get("ManagedPolicyArns")
    statements = [s for p in role["Policies"] for s in p["PolicyDocument"]["Statement"]]
    assert all(s["Effect"] == "Allow" for s in statements)
    bucket = "arn:${AWS::Partition}:s3:::${UploadsBucketName}/"
    granted: dict[str, set[str]] = {}
    for s in statements:
        actions = s["Action"] if isinstance(s["Action"], list) else [s["Action"]]
        resources = s["Resource"] if isinstance(s["Resource"], list) else [s["Resource"]]
        assert not any("*" in a for a in actions), actions
        for action in actions:
            granted.setdefault(action, set()).update(_sub(r) for r in resources)
    assert set(granted) == {"s3:GetObject", "s3:PutObject", "ssm:GetParameter"}
    assert granted["s3:PutObject"] == {bucket + "models/*"}  # writes nowhere else (no uploads/, results/, exports/)
    assert granted["s3:GetObject"] == {bucket + "exports/*", bucket + "training/*"}
    assert granted["ssm:GetParameter"] == {
        "arn:${AWS::Partition}:ssm:${AWS::Region}:${AWS::AccountId}:parameter/${ModelVersionParameterName}"}


def test_the_training_image_has_the_tensorflow_the_package_pins() -> None:
    extras = tomllib.loads((ROOT / "layers" / "pyproject.toml").read_text())["project"]["optional-dependencies"]
    dockerfile = (ROOT / "training_job" / "Dockerfile").read_text()
    [pin] = [r for r in extras["train"] if r.startswith("tensorflow")]
    version = pin.split("==")[1]
    assert re.search(rf"^FROM tensorflow/tensorflow:{re.escape(version)}-gpu$", dockerfile, re.MULTILINE)
    # The rest of what the package asks for, as it states it (not the CPU TensorFlow over the GPU one).
    for requirement in [r for r in extras["train"] if r != pin] + extras["serve"]:
        assert f'"{requirement}"' in dockerfile, requirement
    assert "COPY weights/papila_disc_cup.tflite" in dockerfile
