"""A template the CDK synthesizes (lab 07's other half) goes through the template language as CloudFormation takes
it: the bootstrap version parameter read from Systems Manager, the CheckBootstrapVersion rule, the exports."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import pytest

from labstack.services.cloudformation import graph, parameters
from labstack.services.cloudformation.conditions import evaluate_conditions
from labstack.services.cloudformation.intrinsics import Scope, pseudo_parameters
from labstack.services.cloudformation.outputs import evaluate_outputs
from labstack.services.cloudformation.rules import check_rules
from labstack.services.cloudformation.summary import validate_template
from labstack.services.cloudformation.template import TemplateError, load


def _synthesize(outdir: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """The template of a small CDK app (a versioned bucket read by a role, a topic, an exported output)."""
    monkeypatch.setenv("PATH", f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}")  # node
    import aws_cdk as cdk
    from aws_cdk import aws_iam as iam
    from aws_cdk import aws_s3 as s3
    from aws_cdk import aws_sns as sns

    app = cdk.App(outdir=str(outdir))
    stack = cdk.Stack(app, "Lab")
    bucket = s3.Bucket(stack, "Artifacts", versioned=True)
    bucket.grant_read(iam.Role(stack, "BuildRole", assumed_by=iam.ServicePrincipal("codebuild.amazonaws.com")))
    sns.Topic(stack, "Alerts")
    cdk.CfnOutput(stack, "BucketName", value=bucket.bucket_name, export_name="lab-bucket")
    return json.dumps(app.synth().get_stack_by_name("Lab").template)


@pytest.mark.slow
def test_a_cdk_template_validates_and_its_bootstrap_rule_holds(tmp_path: Path,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    """A CDK template reads its bootstrap version from SSM (an AWS::SSM::Parameter::Value<String> parameter, the
    bootstrapStackVersionSsmParameter of
    https://docs.aws.amazon.com/cdk/api/v2/docs/aws-cdk-lib.cloud_assembly_schema.AssetManifestOptions.html) and a
    Rules assertion (https://docs.aws.amazon.com/AWSCloudFormation/latest/TemplateReference/rules-section-structure.html,
    Fn::Not of Fn::Contains) refuses an old bootstrap with its AssertDescription."""
    text = _synthesize(tmp_path, monkeypatch)
    document = load(text)
    answer = validate_template(document)
    assert answer["Capabilities"] == ["CAPABILITY_IAM"]
    assert [p["ParameterKey"] for p in answer["Parameters"]] == ["BootstrapVersion"]

    def prepared(version: str) -> Scope:
        resolved = parameters.resolve(document["Parameters"], [],
                                      ssm={"/cdk-bootstrap/hnb659fds/version": version}.get)
        scope = Scope(document, parameters.ref_values(resolved),
                      pseudo_parameters("123456789012", "us-east-1", "Lab", "arn:stack/Lab/1"),
                      ref=lambda name: f"{name.lower()}-1", get_att=lambda name, attribute: f"{name}.{attribute}")
        evaluate_conditions(document, scope)
        check_rules(document, scope)
        graph.check(document, scope.conditions)
        return scope

    scope = prepared("21")
    waves = graph.creation_groups(graph.dependencies(document, scope.conditions))
    bucket = next(name for name in document["Resources"] if name.startswith("Artifacts"))
    policy = next(name for name, r in document["Resources"].items() if r["Type"] == "AWS::IAM::Policy")
    assert [i for i, wave in enumerate(waves) if bucket in wave][0] < [i for i, wave in enumerate(waves)
                                                                       if policy in wave][0]
    exported = [o for o in evaluate_outputs(document, scope) if o.get("ExportName") == "lab-bucket"]
    assert exported == [{"OutputKey": "BucketName", "OutputValue": f"{bucket.lower()}-1", "ExportName": "lab-bucket"}]
    with pytest.raises(TemplateError) as caught:
        prepared("5")
    assert caught.value.message.startswith("CDK bootstrap stack version 6 required.")
