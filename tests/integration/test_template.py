"""template.yaml: lint-clean, the invariants the pipeline relies on, and in step with the Chalice app's
routes and with what the local Lambda runner reads. No cloud needed."""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from papila.usecases import export

from infra import cfn
from infra.lambda_runner import function_spec

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def template() -> dict[str, Any]:
    return cfn.load_template()


def _default(template: dict[str, Any], value: Any) -> Any:
    if isinstance(value, dict) and "Ref" in value:
        return template["Parameters"][value["Ref"]]["Default"]
    return value


def test_cfn_lint_reports_nothing() -> None:
    # Errors, warnings and informational findings alike: the template stays clean.
    env = {**os.environ, "AWS_DEFAULT_REGION": "us-east-1"}
    result = subprocess.run(
        [str(Path(sys.executable).with_name("cfn-lint")), "--include-checks", "I", "--", str(ROOT / "template.yaml")],
        capture_output=True, text=True, env=env, timeout=300, check=False,
    )
    assert result.returncode == 0 and not result.stdout.strip(), result.stdout + result.stderr


def test_queue_visibility_is_six_times_the_function_timeout(template: dict[str, Any]) -> None:
    queue = template["Resources"]["InferenceQueue"]["Properties"]
    fn = template["Resources"]["InferenceFunction"]["Properties"]
    assert int(_default(template, queue["VisibilityTimeout"])) >= 6 * int(_default(template, fn["Timeout"]))
    assert int(_default(template, queue["RedrivePolicy"]["maxReceiveCount"])) == 3
    assert queue["RedrivePolicy"]["deadLetterTargetArn"] == {"Fn::GetAtt": ["InferenceDeadLetterQueue", "Arn"]}


def test_bucket_is_private_encrypted_and_notifies_the_queue_for_uploads_only(template: dict[str, Any]) -> None:
    bucket = template["Resources"]["UploadsBucket"]["Properties"]
    assert all(bucket["PublicAccessBlockConfiguration"].values())
    assert bucket["BucketEncryption"]["ServerSideEncryptionConfiguration"][0]["ServerSideEncryptionByDefault"]
    [notification] = bucket["NotificationConfiguration"]["QueueConfigurations"]
    assert notification["Event"] == "s3:ObjectCreated:*"
    assert notification["Queue"] == {"Fn::GetAtt": ["InferenceQueue", "Arn"]}
    assert notification["Filter"]["S3Key"]["Rules"] == [{"Name": "prefix", "Value": "uploads/"}]
    [cors] = bucket["CorsConfiguration"]["CorsRules"]
    assert "POST" in cors["AllowedMethods"]
    # The SPA's origin only: the parameter, or the stack's own CloudFront distribution when it is empty.
    [origin] = cors["AllowedOrigins"]
    assert origin["Fn::If"][0] == "SpaOnCloudFront" and origin["Fn::If"][2] == {"Ref": "SpaOrigin"}


def test_spa_is_served_from_a_private_bucket_through_cloudfront_only(template: dict[str, Any]) -> None:
    resources = template["Resources"]
    assert all(resources["SpaBucket"]["Properties"]["PublicAccessBlockConfiguration"].values())
    [statement] = resources["SpaBucketPolicy"]["Properties"]["PolicyDocument"]["Statement"]
    assert statement["Principal"] == {"Service": "cloudfront.amazonaws.com"} and statement["Action"] == "s3:GetObject"
    assert "AWS:SourceArn" in statement["Condition"]["StringEquals"]
    origin = resources["SpaDistribution"]["Properties"]["DistributionConfig"]["Origins"][0]
    assert origin["OriginAccessControlId"] == {"Fn::GetAtt": ["SpaOriginAccessControl", "Id"]}
    api_env = resources["ApiFunction"]["Properties"]["Environment"]["Variables"]
    assert api_env["CORS_ALLOW_ORIGIN"]["Fn::If"][0] == "SpaOnCloudFront"


def test_queue_policy_admits_only_this_bucket(template: dict[str, Any]) -> None:
    [statement] = template["Resources"]["InferenceQueuePolicy"]["Properties"]["PolicyDocument"]["Statement"]
    assert statement["Principal"] == {"Service": "s3.amazonaws.com"}
    assert statement["Action"] == "sqs:SendMessage"
    assert "aws:SourceArn" in statement["Condition"]["ArnLike"]
    assert "aws:SourceAccount" in statement["Condition"]["StringEquals"]


def test_functions_are_switched_off_by_one_condition(template: dict[str, Any]) -> None:
    """DeployFunctions=false leaves exactly the infrastructure LocalStack runs: bucket, queues, policy."""
    resources = template["Resources"]
    always = {name for name, r in resources.items() if r.get("Condition") != "WithFunctions"}
    assert always == {"UploadsBucket", "InferenceQueue", "InferenceDeadLetterQueue", "InferenceQueuePolicy",
                      "ExportQueue", "ExportDeadLetterQueue", "CompareQueue", "CompareDeadLetterQueue",
                      "ModelVersionParameter"}
    assert {"InferenceFunction", "ExportFunction", "ApiFunction", "PapilaLayer", "PapilaApi"} <= set(resources) - always
    env = template["Globals"]["Function"]["Environment"]["Variables"]
    assert "{{resolve:secretsmanager:" in env["MONGODB_URI"]["Fn::Sub"]


def test_the_runner_reads_the_sqs_event_as_lambda_would(template: dict[str, Any]) -> None:
    spec = function_spec(template, "InferenceFunction")
    event = template["Resources"]["InferenceFunction"]["Properties"]["Events"]["Uploads"]["Properties"]
    assert spec.batch_size == event["BatchSize"]
    assert spec.batching_window_s == event["MaximumBatchingWindowInSeconds"]
    assert spec.report_batch_item_failures
    assert spec.timeout_s == int(_default(template, template["Resources"]["InferenceFunction"]["Properties"]["Timeout"]))
    # The handler the image runs (Dockerfile CMD) is the one the runner imports.
    assert (spec.code_dir / (spec.handler.rpartition(".")[0] + ".py")).exists(), spec
    # Deployed with other parameters (the local cloud's InferenceTimeout=5), the runner plays those.
    assert function_spec(template, "InferenceFunction", parameters={"InferenceTimeout": "5"}).timeout_s == 5


def test_one_queue_per_job(template: dict[str, Any]) -> None:
    """Exports have their own queue, DLQ and function; the inference function only screens (it may not
    even send to a queue), and the API hands exports to the export queue only."""
    resources = template["Resources"]
    inference = resources["InferenceFunction"]["Properties"]
    export_fn = resources["ExportFunction"]["Properties"]
    assert not any("SQSSendMessagePolicy" in p for p in inference["Policies"] if isinstance(p, dict))
    assert "INFERENCE_QUEUE_URL" not in inference["Environment"]["Variables"]
    [steps] = export_fn["Events"].values()
    assert steps["Type"] == "SQS" and steps["Properties"]["Queue"] == {"Fn::GetAtt": ["ExportQueue", "Arn"]}
    assert export_fn["Environment"]["Variables"]["EXPORT_QUEUE_URL"] == {"Ref": "ExportQueue"}
    redrive = resources["ExportQueue"]["Properties"]["RedrivePolicy"]
    assert redrive["deadLetterTargetArn"] == {"Fn::GetAtt": ["ExportDeadLetterQueue", "Arn"]}
    # The event source's rule: visibility at least 6x the function's timeout; the sweeper bounds a stalled
    # export with the same two numbers.
    assert resources["ExportQueue"]["Properties"]["VisibilityTimeout"] >= 6 * export_fn["Timeout"]
    assert export_fn["Timeout"] == export.FUNCTION_TIMEOUT_S
    assert resources["ExportQueue"]["Properties"]["VisibilityTimeout"] == export.QUEUE_VISIBILITY_S
    api_env = resources["ApiFunction"]["Properties"]["Environment"]["Variables"]
    assert api_env["EXPORT_QUEUE_URL"] == {"Ref": "ExportQueue"}
    spec = function_spec(template, "ExportFunction")
    assert (spec.code_dir / (spec.handler.rpartition(".")[0] + ".py")).exists(), spec
    assert spec.report_batch_item_failures and spec.max_concurrency == 2



def test_comparisons_have_their_own_queue_in_the_inference_image(template: dict[str, Any]) -> None:
    """The compare function runs the inference image (it needs the model runtime) with its own command, on
    its own queue and DLQ; the queue's numbers are the ones papila.core.comparisons bounds a stalled job by."""
    from papila.core import comparisons

    resources = template["Resources"]
    fn = resources["CompareFunction"]
    assert fn["Metadata"]["Dockerfile"] == resources["InferenceFunction"]["Metadata"]["Dockerfile"]
    assert fn["Properties"]["ImageConfig"]["Command"] == ["compare.handler"]
    assert fn["Properties"]["Timeout"] == comparisons.TIMEOUT_S
    queue = resources["CompareQueue"]["Properties"]
    assert queue["VisibilityTimeout"] == comparisons.QUEUE_VISIBILITY_S >= 6 * comparisons.TIMEOUT_S
    assert queue["RedrivePolicy"]["deadLetterTargetArn"] == {"Fn::GetAtt": ["CompareDeadLetterQueue", "Arn"]}
    spec = function_spec(template, "CompareFunction")
    assert (spec.code_dir / "compare.py").exists() and spec.handler == "compare.handler"
    assert "inference_fn/compare.py" in (ROOT / "inference_fn" / "Dockerfile").read_text()
    api_env = resources["ApiFunction"]["Properties"]["Environment"]["Variables"]
    assert api_env["COMPARE_QUEUE_URL"] == {"Ref": "CompareQueue"}

def test_one_pool_for_every_account(template: dict[str, Any]) -> None:
    """Issue 15: the admins' pool (same logical id, retained) takes self sign-ups verified by an e-mailed
    code, with the password policy and recovery by verified e-mail; groups admins, reviewers, clinicians; a
    SPA client without secret; a PostConfirmation trigger puts confirmed sign-ups in clinicians. The local
    pool (infra/cognito.py) is made with the same settings."""
    from infra import cognito as local_cognito

    resources = template["Resources"]
    pool = resources["AdminUserPool"]
    assert pool["DeletionPolicy"] == pool["UpdateReplacePolicy"] == "Retain"
    props = pool["Properties"]
    assert props["AdminCreateUserConfig"]["AllowAdminCreateUserOnly"] is False
    assert props["UsernameAttributes"] == ["email"] and props["AutoVerifiedAttributes"] == ["email"]
    assert props["UsernameConfiguration"] == {"CaseSensitive": False}
    message = props["VerificationMessageTemplate"]
    assert message["DefaultEmailOption"] == "CONFIRM_WITH_CODE" and "{####}" in message["EmailMessage"]
    policy = props["Policies"]["PasswordPolicy"]
    assert policy["MinimumLength"] >= 12 and policy["RequireUppercase"] and policy["RequireLowercase"]
    assert policy["RequireNumbers"]
    assert props["AccountRecoverySetting"]["RecoveryMechanisms"] == [{"Name": "verified_email", "Priority": 1}]
    groups = {r["Properties"]["GroupName"] for r in resources.values()
              if r["Type"] == "AWS::Cognito::UserPoolGroup" and r["Properties"]["UserPoolId"] == {"Ref": "AdminUserPool"}}
    assert groups == {"admins", "reviewers", "clinicians"} == set(local_cognito.GROUPS)

    client = resources["AdminUserPoolClient"]["Properties"]
    assert client["GenerateSecret"] is False and client["UserPoolId"] == {"Ref": "AdminUserPool"}
    assert {"ALLOW_USER_PASSWORD_AUTH", "ALLOW_USER_SRP_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"} == set(client["ExplicitAuthFlows"])

    # The trigger: its code, its one permission (not on the pool's ARN: that would be a circular dependency),
    # and Cognito's right to invoke it, from this pool only.
    assert props["LambdaConfig"] == {"PostConfirmation": {"Fn::GetAtt": ["SignupFunction", "Arn"]}}
    trigger = resources["SignupFunction"]
    assert trigger["Condition"] == "WithFunctions"
    code = ROOT / trigger["Properties"]["CodeUri"]
    assert trigger["Properties"]["Handler"] == "handler.handler" and (code / "handler.py").exists()
    assert (code / "requirements.txt").exists()
    [statements] = [p["Statement"] for p in trigger["Properties"]["Policies"]]
    assert [(s["Action"], s["Resource"]["Fn::Sub"]) for s in statements] == [
        ("cognito-idp:AdminAddUserToGroup", "arn:${AWS::Partition}:cognito-idp:${AWS::Region}:${AWS::AccountId}:userpool/*")]
    permission = resources["SignupFunctionPermission"]["Properties"]
    assert permission["Principal"] == "cognito-idp.amazonaws.com" and permission["Action"] == "lambda:InvokeFunction"
    assert permission["SourceArn"] == {"Fn::GetAtt": ["AdminUserPool", "Arn"]}

    # The API grants and revokes reviewers on this pool, and does nothing else with Cognito.
    api = resources["ApiFunction"]["Properties"]
    cognito_statements = [s for p in api["Policies"] if isinstance(p, dict) and "Statement" in p
                          for s in p["Statement"] if "cognito-idp" in str(s["Action"])]
    assert [(set(s["Action"]), s["Resource"]) for s in cognito_statements] == [(
        {"cognito-idp:AdminGetUser", "cognito-idp:AdminAddUserToGroup", "cognito-idp:AdminRemoveUserFromGroup",
         "cognito-idp:AdminListGroupsForUser"}, {"Fn::GetAtt": ["AdminUserPool", "Arn"]})]

    # The local pool on moto's server: the same settings, as far as moto keeps them.
    local = local_cognito.POOL_SETTINGS
    for key in ("UsernameAttributes", "UsernameConfiguration", "AutoVerifiedAttributes", "VerificationMessageTemplate",
                "AdminCreateUserConfig", "AccountRecoverySetting"):
        assert local[key] == props[key], key
    assert local["Policies"]["PasswordPolicy"].items() <= policy.items()


def test_every_chalice_route_has_an_api_gateway_resource(template: dict[str, Any]) -> None:
    """Chalice dispatches on API Gateway's resource path, so each route needs its own resource."""
    spec = importlib.util.spec_from_file_location("papila_api_app_routes", ROOT / "api_app" / "app.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    chalice_paths = set(module.app.routes)
    events = template["Resources"]["ApiFunction"]["Properties"]["Events"].values()
    template_paths = {e["Properties"]["Path"] for e in events if e["Type"] == "Api"}
    assert chalice_paths == template_paths, (
        f"missing in template.yaml: {sorted(chalice_paths - template_paths)}; "
        f"not in the app: {sorted(template_paths - chalice_paths)}"
    )


TRANSLATE = """
import json, sys
from samtranslator.translator.transform import transform

class NoManagedPolicies:
    def load(self):
        return {}

out = transform(json.load(sys.stdin), json.loads(sys.argv[1]), NoManagedPolicies())
print(json.dumps(sorted(r["Type"] for r in out["Resources"].values())))
"""


def test_the_sam_transform_compiles_the_functions(template: dict[str, Any]) -> None:
    """The SAM translator (as CloudFormation runs it; from LocalStack's venv, which carries it) expands
    the functions, layer, API and event source mapping, as a `sam deploy` with packaged code would."""
    python = ROOT / ".localstack-venv" / "bin" / "python"
    if not python.exists():
        pytest.skip("LocalStack's venv is missing (make install)")
    packaged = json.loads(json.dumps(template))
    for resource in packaged["Resources"].values():
        props = resource.get("Properties", {})
        for field in ("CodeUri", "ContentUri"):
            if field in props:
                props[field] = f"s3://papila-artifacts/{field}.zip"
    params = {"DeployFunctions": "true", "InferenceImageUri": "123456789012.dkr.ecr.us-east-1.amazonaws.com/papila:1"}
    result = subprocess.run([str(python), "-c", TRANSLATE, json.dumps(params)], input=json.dumps(packaged),
                            capture_output=True, text=True, timeout=120, check=False,
                            env={**os.environ, "AWS_DEFAULT_REGION": "us-east-1"})
    assert result.returncode == 0, result.stderr[-3000:]
    types = json.loads(result.stdout)
    functions = [r for r in template["Resources"].values() if r["Type"] == "AWS::Serverless::Function"]
    assert types.count("AWS::Lambda::Function") == len(functions) >= 2
    assert {"AWS::Lambda::EventSourceMapping", "AWS::Lambda::LayerVersion", "AWS::ApiGateway::RestApi"} <= set(types)
