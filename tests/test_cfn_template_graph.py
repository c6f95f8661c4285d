"""The resources' dependency graph, resource and output conditions, Outputs with exports, Rules, capabilities and
the ValidateTemplate / GetTemplateSummary answers (pure)."""

from __future__ import annotations

import json

import pytest

from labstack.services.cloudformation import graph, parameters
from labstack.services.cloudformation.conditions import evaluate_conditions
from labstack.services.cloudformation.intrinsics import Scope, evaluate, pseudo_parameters
from labstack.services.cloudformation.outputs import evaluate_outputs, exports
from labstack.services.cloudformation.rules import check_rules
from labstack.services.cloudformation.summary import template_summary, validate_template
from labstack.services.cloudformation.template import TemplateError, load


def _stack(text: str, given: list[dict] | None = None, **callbacks) -> Scope:
    """What a stack operation does with the template language before any resource: parameters, conditions,
    rules, reference and graph checks; the scope its resources' properties are evaluated in."""
    document = load(text)
    resolved = parameters.resolve(document.get("Parameters") or {}, given or [])
    scope = Scope(document, parameters.ref_values(resolved),
                  pseudo_parameters("123456789012", "us-east-1", "app",
                                    "arn:aws:cloudformation:us-east-1:123456789012:stack/app/1"), **callbacks)
    evaluate_conditions(document, scope)
    check_rules(document, scope)
    graph.check(document, scope.conditions)
    return scope


def _properties(scope: Scope, logical_id: str) -> dict:
    return evaluate(scope.resources[logical_id].get("Properties") or {}, scope)


def _refused(text: str, message: str, given: list[dict] | None = None) -> None:
    with pytest.raises(TemplateError) as caught:
        _stack(text, given)
    assert caught.value.code == "ValidationError"
    assert caught.value.message == message, caught.value.message


def test_implicit_and_explicit_dependencies_order_creation() -> None:
    """https://docs.aws.amazon.com/AWSCloudFormation/latest/TemplateReference/aws-attribute-dependson.html:
    DependsOn, and the implicit dependency of Ref and Fn::GetAtt (and Fn::Sub's ${Name} and ${Name.Attr}),
    order creation; resources with no dependency between them are created in parallel."""
    document = load("""
Resources:
  Vpc: {Type: AWS::EC2::VPC}
  Gateway: {Type: AWS::EC2::InternetGateway}
  Attach: {Type: AWS::EC2::VPCGatewayAttachment, Properties: {VpcId: !Ref Vpc, InternetGatewayId: !Ref Gateway}}
  Subnet: {Type: AWS::EC2::Subnet, Properties: {VpcId: !GetAtt Vpc.VpcId}}
  Route: {Type: AWS::EC2::Route, DependsOn: Attach, Properties: {Name: !Sub '${Subnet}-${Vpc.CidrBlock}'}}
  Topic: {Type: AWS::SNS::Topic}
""")
    dependencies = graph.dependencies(document)
    assert dependencies == {"Vpc": set(), "Gateway": set(), "Attach": {"Vpc", "Gateway"}, "Subnet": {"Vpc"},
                            "Route": {"Attach", "Subnet", "Vpc"}, "Topic": set()}
    waves = graph.creation_groups(dependencies)
    assert waves == [["Gateway", "Topic", "Vpc"], ["Attach", "Subnet"], ["Route"]]
    assert graph.deletion_groups(dependencies) == list(reversed(waves))
    order = graph.order(dependencies)
    assert order.index("Vpc") < order.index("Subnet") < order.index("Route")


def test_circular_dependencies_are_refused() -> None:
    """CloudFormation refuses a circular dependency: ``Circular dependency between resources: [...]``."""
    _refused("""
Resources:
  A: {Type: AWS::SNS::Topic, Properties: {TopicName: !GetAtt B.QueueName}}
  B: {Type: AWS::SQS::Queue, Properties: {QueueName: !Sub '${C}'}}
  C: {Type: AWS::SNS::Topic, DependsOn: A}
  D: {Type: AWS::SNS::Topic, DependsOn: A}
""", "Circular dependency between resources: [A, B, C]")


def test_unresolved_references_are_refused_with_awss_messages() -> None:
    """References to nothing: ``Template format error: Unresolved resource dependencies [X] in the Resources block
    of the template`` (and the Outputs block), Fn::GetAtt's own message, DependsOn on nothing."""
    _refused("Resources: {A: {Type: AWS::SNS::Topic, Properties: {TopicName: !Ref Missing}}}",
             "Template format error: Unresolved resource dependencies [Missing] in the Resources block of the template")
    _refused("Resources: {A: {Type: AWS::SNS::Topic, DependsOn: [Missing]}}",
             "Template format error: Unresolved resource dependencies [Missing] in the Resources block of the template")
    _refused("Resources: {A: {Type: AWS::SNS::Topic}}\nOutputs: {O: {Value: !Sub '${Nope}'}}",
             "Template format error: Unresolved resource dependencies [Nope] in the Outputs block of the template")
    _refused("Resources: {A: {Type: AWS::SNS::Topic, Properties: {TopicName: !GetAtt Ghost.Name}}}",
             "Template error: instance of Fn::GetAtt references undefined resource Ghost")


def test_resources_and_outputs_with_a_false_condition_do_not_exist() -> None:
    """https://docs.aws.amazon.com/AWSCloudFormation/latest/TemplateReference/conditions-section-structure.html:
    a resource or output whose Condition is false is not created; Fn::If chooses between references, and only the
    chosen one is a dependency; a reference to a resource the stack will not have is unresolved."""
    text = """
Parameters:
  Env: {Type: String, AllowedValues: [dev, prod]}
Conditions:
  IsProd: !Equals [!Ref Env, prod]
Resources:
  Volume: {Type: AWS::EC2::Volume, Condition: IsProd}
  Scratch: {Type: AWS::EC2::Volume}
  Instance: {Type: AWS::EC2::Instance, Properties: {Volume: !If [IsProd, !Ref Volume, !Ref Scratch]}}
Outputs:
  VolumeId: {Value: !Ref Volume, Condition: IsProd}
  Env: {Value: !Ref Env}
"""
    dev = _stack(text, [{"ParameterKey": "Env", "ParameterValue": "dev"}], ref=lambda name: f"vol-{name}")
    assert set(graph.active_resources(dev.template, dev.conditions)) == {"Scratch", "Instance"}
    assert graph.dependencies(dev.template, dev.conditions) == {"Scratch": set(), "Instance": {"Scratch"}}
    assert _properties(dev, "Instance") == {"Volume": "vol-Scratch"}
    assert evaluate_outputs(dev.template, dev) == [{"OutputKey": "Env", "OutputValue": "dev"}]
    prod = _stack(text, [{"ParameterKey": "Env", "ParameterValue": "prod"}], ref=lambda name: f"vol-{name}")
    assert graph.creation_groups(graph.dependencies(prod.template, prod.conditions)) == [["Scratch", "Volume"],
                                                                                          ["Instance"]]
    assert [output["OutputKey"] for output in evaluate_outputs(prod.template, prod)] == ["VolumeId", "Env"]
    _refused(text.replace("!If [IsProd, !Ref Volume, !Ref Scratch]", "!Ref Volume"),
             "Template format error: Unresolved resource dependencies [Volume] in the Resources block of the template",
             [{"ParameterKey": "Env", "ParameterValue": "dev"}])


def test_outputs_with_export_names() -> None:
    """https://docs.aws.amazon.com/AWSCloudFormation/latest/TemplateReference/outputs-section-structure.html: an
    output's Value and Export Name are evaluated (``!Sub '${AWS::StackName}-SecurityGroupID'``)."""
    scope = _stack("""
Resources:
  Group: {Type: AWS::EC2::SecurityGroup}
Outputs:
  SecurityGroupID:
    Description: The security group ID to use for public web servers
    Value: !GetAtt Group.GroupId
    Export:
      Name: !Sub '${AWS::StackName}-SecurityGroupID'
  Zones:
    Value: !Join [',', !GetAZs '']
""", get_att=lambda name, attribute: "sg-0123", azs=lambda region: ["us-east-1a", "us-east-1b"])
    outputs = evaluate_outputs(scope.template, scope)
    assert outputs[0] == {"OutputKey": "SecurityGroupID", "OutputValue": "sg-0123",
                          "Description": "The security group ID to use for public web servers",
                          "ExportName": "app-SecurityGroupID"}
    assert outputs[1] == {"OutputKey": "Zones", "OutputValue": "us-east-1a,us-east-1b"}
    assert exports(outputs) == {"app-SecurityGroupID": "sg-0123"}


def test_rules_assert_on_parameter_values() -> None:
    """https://docs.aws.amazon.com/AWSCloudFormation/latest/TemplateReference/rules-section-structure.html: the
    page's example: in prod, the instance type must be m1.large (Fn::Contains), else the AssertDescription."""
    text = """
Parameters:
  Environment: {Type: String, AllowedValues: [test, prod]}
  InstanceType: {Type: String}
Rules:
  prodInstanceType:
    RuleCondition: !Equals [!Ref Environment, prod]
    Assertions:
      - Assert: !Equals [m1.large, !Ref InstanceType]
        AssertDescription: For a production environment, the instance type must be m1.large
  testInstanceType:
    RuleCondition: !Equals [!Ref Environment, test]
    Assertions:
      - Assert: !Contains [[a1.medium], !Ref InstanceType]
        AssertDescription: For a test environment, the instance type must be a1.medium
  eachSubnet:
    Assertions:
      - Assert: !EachMemberIn [[!Ref Environment], [test, prod]]
Resources: {A: {Type: AWS::SNS::Topic}}
"""

    def given(environment: str, instance: str) -> list[dict]:
        return [{"ParameterKey": "Environment", "ParameterValue": environment},
                {"ParameterKey": "InstanceType", "ParameterValue": instance}]

    assert _stack(text, given("prod", "m1.large"))
    assert _stack(text, given("test", "a1.medium"))
    _refused(text, "For a production environment, the instance type must be m1.large", given("prod", "a1.medium"))
    _refused(text, "For a test environment, the instance type must be a1.medium", given("test", "m1.large"))



def test_validate_template_and_template_summary() -> None:
    """https://docs.aws.amazon.com/AWSCloudFormation/latest/APIReference/API_ValidateTemplate.html and
    API_GetTemplateSummary.html (Capabilities as API_CreateStack.html lists them): parameters (defaults, NoEcho,
    descriptions), description, capabilities and their reason, declared transforms, resource types, version,
    metadata."""
    text = json.dumps({
        "AWSTemplateFormatVersion": "2010-09-09", "Description": "pipeline", "Metadata": {"Owner": "lab"},
        "Parameters": {"Branch": {"Type": "String", "Default": "main", "Description": "the branch"},
                       "Token": {"Type": "String", "NoEcho": True}},
        "Resources": {"Role": {"Type": "AWS::IAM::Role"}, "Bucket": {"Type": "AWS::S3::Bucket"},
                      "Other": {"Type": "AWS::S3::Bucket"}}})
    assert validate_template(load(text)) == {
        "Parameters": [{"ParameterKey": "Branch", "NoEcho": False, "DefaultValue": "main", "Description": "the branch"},
                       {"ParameterKey": "Token", "NoEcho": True}],
        "Description": "pipeline", "Capabilities": ["CAPABILITY_IAM"],
        "CapabilitiesReason": "The following resource(s) require capabilities: [AWS::IAM::Role]",
        "DeclaredTransforms": []}
    summary = template_summary(load(text))
    assert summary["ResourceTypes"] == ["AWS::IAM::Role", "AWS::S3::Bucket"]
    assert summary["Version"] == "2010-09-09"
    assert json.loads(summary["Metadata"]) == {"Owner": "lab"}
    assert summary["Parameters"][0]["ParameterType"] == "String"
    with pytest.raises(TemplateError) as caught:
        validate_template(load("Resources: {A: {Type: AWS::SNS::Topic, DependsOn: B}, B: {Type: AWS::SNS::Topic, "
                               "DependsOn: A}}"))
    assert caught.value.message == "Circular dependency between resources: [A, B]"
    with pytest.raises(TemplateError) as caught:
        validate_template(load("Resources: {A: {Type: AWS::SNS::Topic, Properties: {TopicName: !GetAtt A.TopicName}}}"))
    assert caught.value.message == "Circular dependency between resources: [A]"


def test_a_condition_nobody_declared_is_refused() -> None:
    """A resource's or output's Condition must name a condition of the Conditions section."""
    for text, block in (("Resources: {A: {Type: AWS::SNS::Topic, Condition: IsProd}}", "Resources"),
                        ("Resources: {A: {Type: AWS::SNS::Topic}}\nOutputs: {O: {Value: x, Condition: IsProd}}",
                         "Outputs")):
        _refused(text, f"Template format error: Unresolved condition dependencies [IsProd] in the {block} block of "
                       "the template")
        with pytest.raises(TemplateError):
            validate_template(load(text))


SEED_TEMPLATE = """
AWSTemplateFormatVersion: '2010-09-09'
Description: 'Production VPC with ECS Cluster'
Parameters:
  Environment: {Type: String, Default: production, AllowedValues: [development, staging, production]}
  VpcCidr: {Type: String, Default: 10.0.0.0/16}
Mappings:
  EnvironmentConfig:
    development: {InstanceType: t3.small, MinSize: 1, MaxSize: 2}
    production: {InstanceType: t3.large, MinSize: 3, MaxSize: 10}
Conditions:
  IsProduction: !Equals [!Ref Environment, production]
Resources:
  VPC:
    Type: AWS::EC2::VPC
    Properties:
      CidrBlock: !Ref VpcCidr
      Tags: [{Key: Name, Value: !Sub '${Environment}-vpc'}]
  PublicSubnet1:
    Type: AWS::EC2::Subnet
    Properties:
      VpcId: !Ref VPC
      CidrBlock: !Select [0, !Cidr [!Ref VpcCidr, 6, 8]]
      AvailabilityZone: !Select [0, !GetAZs '']
  ECSCluster:
    Type: AWS::ECS::Cluster
    Properties:
      ClusterName: !Sub '${Environment}-cluster'
      ClusterSettings: [{Name: containerInsights, Value: !If [IsProduction, enabled, disabled]}]
      DefaultCapacityProviderStrategy:
        - {CapacityProvider: FARGATE, Weight: !If [IsProduction, 1, 0]}
        - {CapacityProvider: FARGATE_SPOT, Weight: !If [IsProduction, 0, 1]}
  DatabaseStack:
    Type: AWS::CloudFormation::Stack
    Condition: IsProduction
    Properties:
      TemplateURL: https://s3.amazonaws.com/templates/database.yaml
      Parameters:
        VpcId: !Ref VPC
        SubnetIds: !Join [',', [!Ref PrivateSubnet1, !Ref PrivateSubnet2]]
Outputs:
  VpcId: {Value: !Ref VPC, Export: {Name: !Sub '${Environment}-VpcId'}}
  ClusterArn: {Value: !GetAtt ECSCluster.Arn, Export: {Name: !Sub '${Environment}-ClusterArn'}}
"""


def test_the_courses_stack_template() -> None:
    """The course's own CloudFormation example (shared/seed, "Stack Template"): its nested stack refers to two
    private subnets the template never declares, which CloudFormation refuses whatever the environment
    (references are checked on the whole template before conditions); with them declared, the development stack
    has no database stack, its cluster prefers FARGATE_SPOT, and the first subnet is the first /24 of
    ``!Cidr [10.0.0.0/16, 6, 8]``
    (https://docs.aws.amazon.com/AWSCloudFormation/latest/TemplateReference/intrinsic-function-reference-cidr.html)."""
    development = [{"ParameterKey": "Environment", "ParameterValue": "development"}]
    _refused(SEED_TEMPLATE, "Template format error: Unresolved resource dependencies [PrivateSubnet1, "
                            "PrivateSubnet2] in the Resources block of the template", development)
    private = "".join(f"  PrivateSubnet{n}: {{Type: AWS::EC2::Subnet, Properties: {{VpcId: !Ref VPC}}}}\n"
                      for n in (1, 2))
    fixed = SEED_TEMPLATE.replace("Outputs:", private + "Outputs:")
    scope = _stack(fixed, development, ref=lambda name: f"{name.lower()}-1",
                   get_att=lambda name, attribute: f"arn:{name}", azs=lambda region: [f"{region}a", f"{region}b"])
    assert "DatabaseStack" not in graph.active_resources(scope.template, scope.conditions)
    assert _properties(scope, "PublicSubnet1") == {"VpcId": "vpc-1", "CidrBlock": "10.0.0.0/24",
                                                   "AvailabilityZone": "us-east-1a"}
    cluster = _properties(scope, "ECSCluster")
    assert cluster["ClusterSettings"] == [{"Name": "containerInsights", "Value": "disabled"}]
    assert [s["Weight"] for s in cluster["DefaultCapacityProviderStrategy"]] == [0, 1]
    assert exports(evaluate_outputs(scope.template, scope)) == {"development-VpcId": "vpc-1",
                                                               "development-ClusterArn": "arn:ECSCluster"}
    production = _stack(fixed, [], ref=lambda name: f"{name.lower()}-1")
    assert _properties(production, "DatabaseStack")["Parameters"] == {
        "VpcId": "vpc-1", "SubnetIds": "privatesubnet1-1,privatesubnet2-1"}
