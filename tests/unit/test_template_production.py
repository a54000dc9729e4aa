"""The template as deployed for each choice of its production parameters (SAM's transform, then
CloudFormation's conditions): access control, CORS, concurrency, and the rest of issue 13."""

from __future__ import annotations

import json
import warnings
from typing import Any

import pytest

from tests.cfn import deployed, load_template
from tests.helpers import ROOT

OPEN_ROUTES = {("/health", "get"), ("/health", "head")}
ISSUER = "https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_Example01"


def _routes(template: dict[str, Any]) -> dict[tuple[str, str], dict[str, Any]]:
    body = template["Resources"]["HttpApi"]["Properties"]["Body"]
    return {(path, method): op for path, item in body["paths"].items() for method, op in item.items()}


def _event_routes() -> set[tuple[str, str]]:
    events = load_template()["Resources"]["ApiFunction"]["Properties"]["Events"]
    return {
        (e["Properties"]["Path"], e["Properties"]["Method"].lower())
        for e in events.values()
        if e["Type"] == "HttpApi"
    }


def test_every_route_of_the_function_is_in_the_api_with_its_integration() -> None:
    routes = _routes(deployed())
    assert set(routes) == _event_routes()
    for key, op in routes.items():
        integration = op["x-amazon-apigateway-integration"]
        assert integration["type"] == "aws_proxy", key
        # traffic goes to the `live` alias, the one CodeDeploy shifts
        assert "${ApiFunctionAliaslive}" in str(integration["uri"]), key


@pytest.mark.parametrize(
    ("overrides", "scheme"),
    [
        ({}, "sigv4"),
        ({"ApiAuth": "IAM"}, "sigv4"),
        ({"ApiAuth": "JWT", "JwtIssuer": ISSUER, "JwtAudience": "client-a,client-b"}, "jwt"),
        ({"ApiAuth": "NONE"}, None),
    ],
    ids=["default", "iam", "jwt", "none"],
)
def test_authorizer_on_every_route_but_health(overrides: dict[str, str], scheme: str | None) -> None:
    template = deployed(**overrides)
    routes = _routes(template)
    assert len(routes) >= 7
    for key, op in routes.items():
        if key in OPEN_ROUTES or scheme is None:
            assert "security" not in op, key
        else:
            assert op["security"] == [{scheme: []}], key
    schemes = template["Resources"]["HttpApi"]["Properties"]["Body"].get("components", {})
    schemes = schemes.get("securitySchemes", {})
    assert set(schemes) == ({scheme} if scheme else set())
    if scheme == "sigv4":
        assert schemes["sigv4"]["x-amazon-apigateway-authtype"] == "awsSigv4"
    if scheme == "jwt":
        authorizer = schemes["jwt"]["x-amazon-apigateway-authorizer"]
        assert authorizer["type"] == "jwt"
        assert authorizer["identitySource"] == "$request.header.Authorization"
        assert authorizer["jwtConfiguration"] == {"issuer": ISSUER, "audience": ["client-a", "client-b"]}


def test_iam_is_the_default_and_public_is_said_out_loud() -> None:
    assert load_template()["Parameters"]["ApiAuth"]["Default"] == "IAM"
    assert deployed()["Outputs"]["ApiAccess"]["Value"].startswith("IAM:")
    public = deployed(ApiAuth="NONE")["Outputs"]["ApiAccess"]["Value"]
    assert public.startswith("PUBLIC:") and "anyone" in public


def test_jwt_without_issuer_or_audience_is_refused_before_deploying() -> None:
    rule = load_template()["Rules"]["JwtNeedsIssuerAndAudience"]
    assert rule["RuleCondition"] == {"Equals": [{"Ref": "ApiAuth"}, "JWT"]}
    asserted = str(rule["Assertions"])
    assert "JwtIssuer" in asserted and "JwtAudience" in asserted


def test_no_cors_by_default() -> None:
    body = deployed()["Resources"]["HttpApi"]["Properties"]["Body"]
    assert "x-amazon-apigateway-cors" not in body


def test_cors_for_the_given_origins_answers_preflight() -> None:
    origins = "https://app.example.com,https://admin.example.com"
    body = deployed(CorsAllowOrigins=origins)["Resources"]["HttpApi"]["Properties"]["Body"]
    cors = body["x-amazon-apigateway-cors"]
    assert cors["allowOrigins"] == origins.split(",")
    # API Gateway answers OPTIONS preflights itself when CORS is configured; the browser then
    # needs POST allowed and the headers a signed or bearer request carries
    assert {"POST", "OPTIONS"} <= set(cors["allowMethods"])
    assert {"authorization", "content-type", "x-amz-date", "x-amz-security-token"} <= set(
        cors["allowHeaders"]
    )
    assert "*" not in cors["allowOrigins"]


@pytest.mark.parametrize(
    ("function", "parameter"),
    [("ApiFunction", "ApiReservedConcurrency"), ("BatchFunction", "BatchReservedConcurrency")],
)
def test_reserved_concurrency_is_a_parameter(function: str, parameter: str) -> None:
    def reserved(**overrides: str) -> Any:
        return deployed(**overrides)["Resources"][function]["Properties"].get("ReservedConcurrentExecutions")

    default = int(load_template()["Parameters"][parameter]["Default"])
    assert default > 0
    assert int(reserved()) == default
    assert int(reserved(**{parameter: "7"})) == 7
    assert reserved(**{parameter: "-1"}) is None


def test_throttling_stays() -> None:
    settings = deployed()["Resources"]["HttpApiApiGatewayDefaultStage"]["Properties"]["DefaultRouteSettings"]
    assert settings["ThrottlingBurstLimit"] > 0 and settings["ThrottlingRateLimit"] > 0


def test_base_path_parameter_reaches_the_function() -> None:
    env = deployed(ApiBasePath="textclf")["Resources"]["ApiFunction"]["Properties"]["Environment"]
    assert env["Variables"]["API_BASE_PATH"] == "textclf"


def test_sam_local_serves_every_route_without_an_authorizer() -> None:
    """`sam local start-api` reads the same definition body: the Fn::If authorizers resolve, and
    (sam local enforcing neither IAM nor JWT) local development stays open."""
    from samcli.lib.providers.api_provider import ApiProvider
    from samcli.lib.providers.sam_stack_provider import SamLocalStackProvider

    with warnings.catch_warnings():
        # samtranslator's validator calls its own deprecated get_errors (not our code)
        warnings.simplefilter("ignore", DeprecationWarning)
        stacks, _ = SamLocalStackProvider.get_stacks(str(ROOT / "template.yaml"))
        served = ApiProvider(stacks).routes
    routes = {(route.path, method.lower()): route for route in served for method in route.methods}
    assert _event_routes() <= set(routes)
    for route in routes.values():
        assert route.function_name == "ApiFunction" and route.authorizer_name is None


# --- observability -----------------------------------------------------------------------------


def _log_groups(template: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {k: r for k, r in template["Resources"].items() if r["Type"] == "AWS::Logs::LogGroup"}


def test_every_log_group_is_the_stacks_with_the_retention_parameter() -> None:
    template = deployed(LogRetentionDays="90")
    groups = _log_groups(template)
    assert groups
    for logical_id, group in groups.items():
        assert int(group["Properties"]["RetentionInDays"]) == 90, logical_id
        assert group["DeletionPolicy"] == "Delete", logical_id
    assert load_template()["Parameters"]["LogRetentionDays"]["Default"] == 30
    # every function logs to a group of the stack, not to one Lambda would create (and keep forever)
    functions = {k: r for k, r in template["Resources"].items() if r["Type"] == "AWS::Lambda::Function"}
    assert functions
    for logical_id, function in functions.items():
        target = function["Properties"]["LoggingConfig"]["LogGroup"]
        assert target["Ref"] in groups, logical_id
    # and the API's access log
    stage = template["Resources"]["HttpApiApiGatewayDefaultStage"]["Properties"]
    assert stage["AccessLogSettings"]["DestinationArn"]["Fn::GetAtt"][0] in groups


def test_access_log_is_one_json_object_per_request_without_bodies() -> None:
    stage = deployed()["Resources"]["HttpApiApiGatewayDefaultStage"]["Properties"]
    fmt = stage["AccessLogSettings"]["Format"]
    # API Gateway substitutes the $context variables into the string values
    line = json.loads(fmt)
    assert "\n" not in fmt
    values = set(line.values())
    for variable in (
        "$context.requestId",
        "$context.routeKey",
        "$context.status",
        "$context.responseLatency",
        "$context.integration.error",
    ):
        assert variable in values, variable
    assert not any("body" in v.lower() for v in values)


# --- alarms, canary and the pre-traffic hook -----------------------------------------------------

API_ALARMS = {"Api5xxRateAlarm", "ApiLatencyAlarm", "ApiFunctionErrorsAlarm", "ApiFunctionThrottlesAlarm"}
ALL_ALARMS = API_ALARMS | {
    "BatchFunctionErrorsAlarm",
    "BatchFunctionThrottlesAlarm",
    "BatchFilesFailedAlarm",
    "BatchFailureQueueAlarm",
    "BatchFanoutFailedAlarm",
}


def test_alarms_exist_with_parameter_thresholds_and_optional_topic() -> None:
    quiet = deployed()["Resources"]
    topic = "arn:aws:sns:us-east-1:123456789012:oncall"
    loud = deployed(AlarmTopicArn=topic, Api5xxRatePercent="2.5", ApiLatencyP99Ms="800")["Resources"]
    alarms = {k for k, r in quiet.items() if r["Type"] == "AWS::CloudWatch::Alarm"}
    assert alarms == ALL_ALARMS
    for name in alarms:
        assert "AlarmActions" not in quiet[name]["Properties"], name
        assert loud[name]["Properties"]["AlarmActions"] == [topic] == loud[name]["Properties"]["OKActions"]
        assert loud[name]["Properties"]["TreatMissingData"] == "notBreaching"
    assert float(loud["Api5xxRateAlarm"]["Properties"]["Threshold"]) == 2.5
    assert float(loud["ApiLatencyAlarm"]["Properties"]["Threshold"]) == 800
    assert loud["ApiLatencyAlarm"]["Properties"]["ExtendedStatistic"] == "p99"
    rate = {m["Id"]: m for m in loud["Api5xxRateAlarm"]["Properties"]["Metrics"]}
    assert rate["errors"]["MetricStat"]["Metric"]["MetricName"] == "5xx"
    assert rate["requests"]["MetricStat"]["Metric"]["MetricName"] == "Count"
    files = loud["BatchFilesFailedAlarm"]["Properties"]
    assert (files["Namespace"], files["MetricName"]) == ("TextClf", "FilesFailed")  # textclf/metrics.py
    queue = loud["BatchFailureQueueAlarm"]["Properties"]
    assert queue["MetricName"] == "ApproximateNumberOfMessagesVisible" and float(queue["Threshold"]) == 0


def test_api_function_alarms_watch_the_live_alias() -> None:
    resources = deployed()["Resources"]
    for name in ("ApiFunctionErrorsAlarm", "ApiFunctionThrottlesAlarm"):
        dims = {d["Name"]: d["Value"] for d in resources[name]["Properties"]["Dimensions"]}
        assert dims["FunctionName"] == {"Ref": "ApiFunction"}
        assert dims["Resource"] == {"Fn::Sub": "${ApiFunction}:live"}


def test_canary_rollout_rolls_back_on_the_api_alarms() -> None:
    resources = deployed()["Resources"]
    group = resources["ApiFunctionDeploymentGroup"]["Properties"]
    assert {a["Name"]["Ref"] for a in group["AlarmConfiguration"]["Alarms"]} == API_ALARMS
    assert group["AlarmConfiguration"]["Enabled"] is True
    assert "DEPLOYMENT_STOP_ON_ALARM" in group["AutoRollbackConfiguration"]["Events"]
    assert group["DeploymentConfigName"]["Fn::Sub"][1] == {"ConfigName": "Canary10Percent5Minutes"}
    update = resources["ApiFunctionAliaslive"]["UpdatePolicy"]["CodeDeployLambdaAliasUpdate"]
    assert update["BeforeAllowTrafficHook"] == {"Ref": "PreTrafficHookFunction"}
    dev = deployed(DeploymentType="AllAtOnce")["Resources"]["ApiFunctionDeploymentGroup"]["Properties"]
    assert dev["DeploymentConfigName"]["Fn::Sub"][1] == {"ConfigName": "AllAtOnce"}


def test_pre_traffic_hook_has_only_the_permissions_it_needs() -> None:
    resources = deployed()["Resources"]
    hook = resources["PreTrafficHookFunction"]["Properties"]
    # CodeDeploy's role (AWSCodeDeployRoleForLambda) may invoke only CodeDeployHook_* functions
    assert hook["FunctionName"]["Fn::Sub"].startswith("CodeDeployHook_")
    assert hook["Environment"]["Variables"]["TARGET_FUNCTION_ARN"] == {
        "Ref": "ApiFunctionVersion" + _suffix(resources)
    }
    role = resources["PreTrafficHookFunctionRole"]["Properties"]
    statements = [s for p in role["Policies"] for s in p["PolicyDocument"]["Statement"]]
    allowed = {
        (s["Action"] if isinstance(s["Action"], str) else tuple(s["Action"])): s["Resource"]
        for s in statements
    }
    assert allowed == {
        "lambda:InvokeFunction": {"Ref": "ApiFunctionVersion" + _suffix(resources)},
        "codedeploy:PutLifecycleEventHookExecutionStatus": {
            "Fn::Sub": "arn:${AWS::Partition}:codedeploy:${AWS::Region}:${AWS::AccountId}:deploymentgroup:"
            "${ServerlessDeploymentApplication}/${ApiFunctionDeploymentGroup}"
        },
    }
    managed = role.get("ManagedPolicyArns", [])
    assert all(str(arn).endswith("AWSLambdaBasicExecutionRole") for arn in map(str, managed)), managed
    # the hook itself is not canaried, and it logs to a group of the stack
    assert "PreTrafficHookFunctionDeploymentGroup" not in resources
    assert hook["LoggingConfig"]["LogGroup"] == {"Ref": "PreTrafficHookLogGroup"}


def _suffix(resources: dict[str, Any]) -> str:
    [version] = [k for k in resources if k.startswith("ApiFunctionVersion")]
    return version.removeprefix("ApiFunctionVersion")
