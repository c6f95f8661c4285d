"""Overlay providers for tests: each answers a few operations of a moto-served service.

JSON (SSM) and query (IAM); rest-json is proven by the real Lambda runtime (test_lambda_runtime.py).
"""

from __future__ import annotations

import json

from labstack.context import RequestContext
from labstack.errors import AwsError
from labstack.protocol.provider import Provider


class SsmOverlay(Provider):
    """GetParameterHistory answered here (for /overlay/* names); every other SSM call goes to moto."""

    service = "ssm"
    overlay = True

    def get_parameter_history(self, ctx: RequestContext, request: dict) -> dict:
        name = request["Name"]
        if not name.startswith("/overlay/"):
            raise AwsError("ParameterNotFound", f"Parameter {name} not found (the test overlay serves /overlay/*)")
        return {"Parameters": [{"Name": name, "Type": "String", "Value": f"overlay value of {name}", "Version": 1,
                                "Labels": ["overlay"], "DataType": "text"}]}


class IamOverlay(Provider):
    """SimulateCustomPolicy answered here (nested lists and structures both ways)."""

    service = "iam"
    overlay = True

    def simulate_custom_policy(self, ctx: RequestContext, request: dict) -> dict:
        allowed = set()
        for document in request["PolicyInputList"]:
            for statement in json.loads(document).get("Statement", []):
                actions = statement.get("Action", [])
                if statement.get("Effect") == "Allow":
                    allowed.update([actions] if isinstance(actions, str) else actions)
        results = [
            {"EvalActionName": action, "EvalResourceName": resource,
             "EvalDecision": "allowed" if action in allowed or "*" in allowed else "implicitDeny"}
            for action in request["ActionNames"]
            for resource in request.get("ResourceArns") or ["*"]
        ]
        return {"EvaluationResults": results, "IsTruncated": False}
