"""AWS::Lambda::* handlers against a real labstack: the function they make runs; aliases route by weight."""

from __future__ import annotations

import io
import json
import zipfile
from collections import Counter
from typing import Any

import pytest
from botocore.exceptions import ClientError
from labstack.services.cloudformation.resource import HandlerError
from labstack.services.cloudformation.types.awslambda import inline_zip

from tests.support.cfn_handlers import context, of
from tests.support.codebuild import new_account
from tests.support.roles import service_role
from tests.support.server import LabstackProcess

SOURCE = '''
import os


def handler(event, context):
    return {"echo": event, "colour": os.environ.get("COLOUR"), "version": context.function_version}
'''


def invoke(lam: Any, name: str, event: Any) -> Any:
    answer = lam.invoke(FunctionName=name, Payload=json.dumps(event).encode())
    assert "FunctionError" not in answer, answer["Payload"].read()
    return json.loads(answer["Payload"].read())


def test_inline_code_is_one_index_file_with_the_runtimes_extension() -> None:
    """ZipFile source becomes a file named index (.js for Node.js)
    (https://docs.aws.amazon.com/AWSCloudFormation/latest/TemplateReference/aws-properties-lambda-function-code.html)."""
    for runtime, name in (("python3.12", "index.py"), ("nodejs20.x", "index.js")):
        assert zipfile.ZipFile(io.BytesIO(inline_zip(runtime, "x = 1"))).namelist() == [name]
    with pytest.raises(HandlerError, match="only supported for Node.js and Python"):
        inline_zip("java21", "class A {}")


@pytest.mark.slow
def test_a_function_from_inline_code_runs_is_updated_in_place_and_deleted(labstack: LabstackProcess) -> None:
    """Ref is the function's name, GetAtt Arn; Environment and Code update with no interruption
    (https://docs.aws.amazon.com/AWSCloudFormation/latest/TemplateReference/aws-resource-lambda-function.html)."""
    account = new_account()
    role = service_role(labstack.client("iam", account=account), "fn-role", "lambda.amazonaws.com")
    ctx, function = context(labstack, account, "Echo"), of("AWS::Lambda::Function")
    props = {"Runtime": "python3.12", "Handler": "index.handler", "Role": role, "Timeout": "5", "MemorySize": 256,
             "Code": {"ZipFile": SOURCE}, "Environment": {"Variables": {"COLOUR": "blue"}},
             "Tags": [{"Key": "team", "Value": "ci"}]}
    made = function.create(ctx, props)
    lam = labstack.client("lambda", account=account)
    assert made.physical_id.startswith("Shop-Echo-")
    assert made.attributes["Arn"] == f"arn:aws:lambda:us-east-1:{account}:function:{made.physical_id}"
    assert invoke(lam, made.physical_id, {"n": 1}) == {"echo": {"n": 1}, "colour": "blue", "version": "$LATEST"}
    config = lam.get_function_configuration(FunctionName=made.physical_id)
    assert (config["Timeout"], config["MemorySize"]) == (5, 256)

    new = {**props, "Environment": {"Variables": {"COLOUR": "green"}},
           "Code": {"ZipFile": SOURCE.replace('"echo": event', '"echo": "v2"')}}
    assert function.update(ctx, made.physical_id, props, new).physical_id == made.physical_id
    assert invoke(lam, made.physical_id, {}) == {"echo": "v2", "colour": "green", "version": "$LATEST"}
    live = function.read(ctx, made.physical_id, new)
    assert live["Environment"] == {"Variables": {"COLOUR": "green"}} and live["Timeout"] == 5

    function.delete(ctx, made.physical_id, new)
    assert function.read(ctx, made.physical_id, new) is None
    function.delete(ctx, made.physical_id, new)


def test_versions_and_an_alias_with_routing_config(labstack: LabstackProcess) -> None:
    """Version: Ref the version ARN, GetAtt Version; Alias: Ref the alias ARN, RoutingConfig's
    AdditionalVersionWeights sends that share of invocations to the other version
    (https://docs.aws.amazon.com/AWSCloudFormation/latest/TemplateReference/aws-resource-lambda-version.html,
    https://docs.aws.amazon.com/AWSCloudFormation/latest/TemplateReference/aws-resource-lambda-alias.html)."""
    account = new_account()
    role = service_role(labstack.client("iam", account=account), "fn-role", "lambda.amazonaws.com")
    ctx, lam = context(labstack, account, "Fn"), labstack.client("lambda", account=account)
    function = of("AWS::Lambda::Function")
    props = {"FunctionName": "greeter", "Runtime": "python3.12", "Handler": "index.handler", "Role": role,
             "Code": {"ZipFile": SOURCE}}
    function.create(ctx, props)
    version = of("AWS::Lambda::Version")
    one = version.create(ctx, {"FunctionName": "greeter"})
    assert (one.physical_id, one.attributes["Version"]) == (f"arn:aws:lambda:us-east-1:{account}:function:greeter:1", "1")
    function.update(ctx, "greeter", props, {**props, "Environment": {"Variables": {"COLOUR": "red"}}})
    two = version.create(ctx, {"FunctionName": "greeter"})
    assert two.attributes["Version"] == "2"

    alias = of("AWS::Lambda::Alias")
    aprops = {"FunctionName": "greeter", "Name": "live", "FunctionVersion": "1",
              "RoutingConfig": {"AdditionalVersionWeights": [{"FunctionVersion": "2", "FunctionWeight": "0.5"}]}}
    made = alias.create(ctx, aprops)
    assert made.physical_id == made.attributes["AliasArn"] == f"arn:aws:lambda:us-east-1:{account}:function:greeter:live"
    colours = Counter(invoke(lam, "greeter:live", {})["colour"] for _ in range(30))
    assert set(colours) == {None, "red"}, colours  # both versions answer (a 2**-29 chance of a false failure)

    whole = {**aprops, "FunctionVersion": "2", "RoutingConfig": {}}
    alias.update(ctx, made.physical_id, aprops, whole)
    assert {invoke(lam, "greeter:live", {})["colour"] for _ in range(5)} == {"red"}
    assert alias.read(ctx, made.physical_id, whole) == {"FunctionName": "greeter", "Name": "live", "FunctionVersion": "2"}

    permission = of("AWS::Lambda::Permission")
    pprops = {"FunctionName": "greeter", "Action": "lambda:InvokeFunction", "Principal": "events.amazonaws.com",
              "SourceArn": f"arn:aws:events:us-east-1:{account}:rule/nightly"}
    granted = permission.create(ctx, pprops)
    assert permission.read(ctx, granted.physical_id, pprops)["Principal"] == "events.amazonaws.com"
    permission.delete(ctx, granted.physical_id, pprops)
    assert permission.read(ctx, granted.physical_id, pprops) is None

    alias.delete(ctx, made.physical_id, whole)
    version.delete(ctx, one.physical_id, {"FunctionName": "greeter"})
    with pytest.raises(ClientError):
        lam.get_function_configuration(FunctionName="greeter", Qualifier="1")
    function.delete(ctx, "greeter", props)


def test_a_function_from_code_in_s3(labstack: LabstackProcess) -> None:
    """Code.S3Bucket and S3Key name the deployment package; a new key is a code update in place."""
    account = new_account()
    role = service_role(labstack.client("iam", account=account), "fn-role", "lambda.amazonaws.com")
    s3 = labstack.client("s3", account=account)
    s3.create_bucket(Bucket=f"code-{account}")
    for key, source in (("v1.zip", SOURCE), ("v2.zip", SOURCE.replace('"echo": event', '"echo": "from s3"'))):
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w") as archive:
            archive.writestr("app.py", source)
        s3.put_object(Bucket=f"code-{account}", Key=key, Body=buffer.getvalue())
    ctx, function = context(labstack, account, "FromS3"), of("AWS::Lambda::Function")
    props = {"FunctionName": "from-s3", "Runtime": "python3.12", "Handler": "app.handler", "Role": role,
             "Code": {"S3Bucket": f"code-{account}", "S3Key": "v1.zip"}}
    function.create(ctx, props)
    lam = labstack.client("lambda", account=account)
    assert invoke(lam, "from-s3", {"n": 2})["echo"] == {"n": 2}
    function.update(ctx, "from-s3", props, {**props, "Code": {"S3Bucket": f"code-{account}", "S3Key": "v2.zip"}})
    assert invoke(lam, "from-s3", {})["echo"] == "from s3"
    with pytest.raises(HandlerError, match="ZipFile cannot be combined"):
        function.create(ctx, {**props, "FunctionName": "both", "Code": {"ZipFile": "x", "S3Key": "v1.zip"}})


def test_a_container_image_function_is_refused_clearly(labstack: LabstackProcess) -> None:
    with pytest.raises(HandlerError, match="PackageType Zip only"):
        of("AWS::Lambda::Function").create(context(labstack, new_account()), {
            "PackageType": "Image", "Code": {"ImageUri": "x"}, "Role": "r"})
