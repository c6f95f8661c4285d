"""Overlay providers for tests: each answers a few operations of a moto-served service.

One per protocol the layer speaks: JSON (SSM), query (ELBv2) and rest-json (Lambda).
"""

from __future__ import annotations

import base64
import json

from labstack.context import RequestContext
from labstack.errors import AwsError
from labstack.protocol.provider import Provider


class SsmOverlay(Provider):
    """GetParameter answered here; every other SSM call goes to moto."""

    service = "ssm"
    overlay = True

    def get_parameter(self, ctx: RequestContext, request: dict) -> dict:
        name = request["Name"]
        if not name.startswith("/overlay/"):
            raise AwsError("ParameterNotFound", f"Parameter {name} not found (the test overlay serves /overlay/*)")
        return {"Parameter": {"Name": name, "Type": "String", "Value": f"overlay value of {name}", "Version": 1,
                              "ARN": ctx.arn("ssm", f"parameter{name}"), "DataType": "text"}}


class ElbOverlay(Provider):
    """DescribeTargetHealth answered here (nested lists and structures both ways)."""

    service = "elbv2"
    overlay = True

    def describe_target_health(self, ctx: RequestContext, request: dict) -> dict:
        descriptions = [
            {"Target": target, "HealthCheckPort": str(target.get("Port", 80)),
             "TargetHealth": {"State": "initial", "Reason": "Elb.RegistrationInProgress",
                              "Description": f"target group {request['TargetGroupArn'].rsplit('/', 2)[-2]}"}}
            for target in request.get("Targets", [])
        ]
        return {"TargetHealthDescriptions": descriptions}


class LambdaOverlay(Provider):
    """Invoke answered here: echoes the payload, with AWS's headers and status codes."""

    service = "lambda"
    overlay = True

    def invoke(self, ctx: RequestContext, request: dict) -> dict:
        kind = request.get("InvocationType", "RequestResponse")
        if kind == "Event":
            return {"StatusCode": 202}
        if kind == "DryRun":
            return {"StatusCode": 204}
        event = json.loads(request.get("Payload") or b"{}")
        result = {"StatusCode": 200, "ExecutedVersion": request.get("Qualifier", "$LATEST")}
        if event.get("fail"):
            result["FunctionError"] = "Unhandled"
            result["Payload"] = json.dumps({"errorMessage": "asked to fail", "errorType": "Exception"}).encode()
        else:
            result["Payload"] = json.dumps({"echo": event, "function": request["FunctionName"]}).encode()
        if request.get("LogType") == "Tail":
            result["LogResult"] = base64.b64encode(b"START\nEND\n").decode()
        return result

