"""Update behaviours: per-property RequiresRecreation from the registry schemas (checked against AWS's
resource reference pages) and the change list a stack update plans (DescribeChangeSet's Changes)."""

from __future__ import annotations

import copy

import pytest

from labstack.protocol.models import service_model
from labstack.protocol.shapes import problems
from labstack.services.cloudformation.plan import Side, changes
from labstack.services.cloudformation.schemas import type_schema

PAGE = "https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/"

# (type, property, RequiresRecreation, the reference page's anchor stating "Update requires").
DOCUMENTED = [
    ("AWS::CodeBuild::Project", "Name", "Always", "aws-resource-codebuild-project.html#cfn-codebuild-project-name"),
    ("AWS::CodeBuild::Project", "Source", "Never", "aws-resource-codebuild-project.html#cfn-codebuild-project-source"),
    ("AWS::CodeBuild::Project", "Environment", "Never",
     "aws-resource-codebuild-project.html#cfn-codebuild-project-environment"),
    ("AWS::CodePipeline::Pipeline", "Name", "Always", "aws-resource-codepipeline-pipeline.html#cfn-codepipeline-pipeline-name"),
    ("AWS::CodePipeline::Pipeline", "Stages", "Never",
     "aws-resource-codepipeline-pipeline.html#cfn-codepipeline-pipeline-stages"),
    ("AWS::CodeDeploy::DeploymentGroup", "DeploymentGroupName", "Always",
     "aws-resource-codedeploy-deploymentgroup.html#cfn-codedeploy-deploymentgroup-deploymentgroupname"),
    ("AWS::CodeDeploy::DeploymentGroup", "ApplicationName", "Always",
     "aws-resource-codedeploy-deploymentgroup.html#cfn-codedeploy-deploymentgroup-applicationname"),
    ("AWS::CodeDeploy::DeploymentGroup", "DeploymentConfigName", "Never",
     "aws-resource-codedeploy-deploymentgroup.html#cfn-codedeploy-deploymentgroup-deploymentconfigname"),
    # The page says Replacement; the registry schema lists LaunchType as conditionally create-only.
    ("AWS::ECS::Service", "LaunchType", "Always", "aws-resource-ecs-service.html#cfn-ecs-service-launchtype"),
    ("AWS::ECS::Service", "ServiceName", "Always", "aws-resource-ecs-service.html#cfn-ecs-service-servicename"),
    ("AWS::ECS::Service", "DesiredCount", "Never", "aws-resource-ecs-service.html#cfn-ecs-service-desiredcount"),
    # The page says Replacement; the registry schema lists EventBusName as conditionally create-only.
    ("AWS::Events::Rule", "EventBusName", "Always", "aws-resource-events-rule.html#cfn-events-rule-eventbusname"),
    ("AWS::Events::Rule", "Name", "Always", "aws-resource-events-rule.html#cfn-events-rule-name"),
    ("AWS::Events::Rule", "ScheduleExpression", "Never", "aws-resource-events-rule.html#cfn-events-rule-scheduleexpression"),
    ("AWS::IAM::Role", "RoleName", "Always", "aws-resource-iam-role.html#cfn-iam-role-rolename"),
    ("AWS::IAM::Role", "MaxSessionDuration", "Never", "aws-resource-iam-role.html#cfn-iam-role-maxsessionduration"),
    ("AWS::SNS::Topic", "TopicName", "Always", "aws-resource-sns-topic.html#cfn-sns-topic-topicname"),
    ("AWS::EC2::Subnet", "CidrBlock", "Always", "aws-resource-ec2-subnet.html#cfn-ec2-subnet-cidrblock"),
    ("AWS::EC2::Subnet", "Ipv6CidrBlock", "Conditionally", "aws-resource-ec2-subnet.html#cfn-ec2-subnet-ipv6cidrblock"),
]


@pytest.mark.parametrize(("type_name", "prop", "expected", "anchor"), DOCUMENTED)
def test_requires_recreation_agrees_with_the_reference_page(type_name: str, prop: str, expected: str,
                                                            anchor: str) -> None:
    """Each "Update requires:" statement of the page at PAGE + anchor: Replacement -> Always, No
    interruption -> Never, Some interruptions (a conditional replacement) -> Conditionally."""
    assert type_schema(type_name).recreation(prop, "a", "b") == expected, PAGE + anchor


def test_schema_facts_come_from_the_registry_schema() -> None:
    pipeline = type_schema("AWS::CodePipeline::Pipeline")
    assert pipeline.primary_identifier == ("Name",)
    assert ("Version",) in pipeline.read_only and ("Arn",) in pipeline.read_only
    assert pipeline.write_only_path(("RestartExecutionOnUpdate",))
    assert type_schema("AWS::ECS::Service").write_only_path(("ServiceConnectConfiguration", "Services", "*"))
    assert type_schema("AWS::ApiGateway::ApiKey").defaults == {"Enabled": False}
    unknown = type_schema("AWS::Nope::Thing")
    assert unknown.recreation("Anything", 1, 2) == "Never" and not unknown.properties


def test_a_nested_create_only_path_requires_recreation_only_when_it_changes() -> None:
    """AWS::Batch::ComputeEnvironment: ComputeResources/SpotIamFleetRole is create-only,
    ComputeResources/Type conditionally, ComputeResources itself neither."""
    schema = type_schema("AWS::Batch::ComputeEnvironment")
    base = {"Type": "EC2", "MaxvCpus": 4, "SpotIamFleetRole": "a"}
    assert schema.recreation("ComputeResources", base, {**base, "SpotIamFleetRole": "b"}) == "Always"
    assert schema.recreation("ComputeResources", base, {**base, "Type": "SPOT"}) == "Conditionally"
    assert schema.recreation("ComputeResources", base, {**base, "MaxvCpus": 8}) == "Never"


ROLE = {"Type": "AWS::IAM::Role", "Properties": {"RoleName": "build", "AssumeRolePolicyDocument": {"Version": "2012-10-17"}}}
PROJECT = {"Type": "AWS::CodeBuild::Project", "Properties": {
    "Name": "app", "ServiceRole": {"Fn::GetAtt": ["Role", "Arn"]},
    "Source": {"Type": "NO_SOURCE", "BuildSpec": "version: 0.2"}, "Artifacts": {"Type": "NO_ARTIFACTS"},
    "Environment": {"Type": "LINUX_CONTAINER", "Image": "aws/codebuild/standard:7.0", "ComputeType": "BUILD_GENERAL1_SMALL"},
    "Tags": [{"Key": "stage", "Value": {"Ref": "Stage"}}]}}
TEMPLATE = {"Role": ROLE, "Project": PROJECT}
ROLE_ARN = "arn:aws:iam::123456789012:role/build"


def _resolve(declarations: dict, parameters: dict, arns: dict) -> dict:
    """A tiny resolver for these tests' templates: Ref to a parameter, GetAtt X.Arn from ``arns``."""
    def walk(value: object) -> object:
        if isinstance(value, dict):
            if set(value) == {"Ref"}:
                return parameters.get(value["Ref"], value["Ref"])
            if set(value) == {"Fn::GetAtt"}:
                return arns[value["Fn::GetAtt"][0]]
            return {k: walk(v) for k, v in value.items()}
        if isinstance(value, list):
            return [walk(v) for v in value]
        return value
    return {k: walk(d.get("Properties", {})) for k, d in declarations.items()}


def _side(declarations: dict, parameters: dict | None = None, physical: bool = True) -> Side:
    parameters = parameters or {"Stage": "test"}
    arns = {"Role": ROLE_ARN}
    return Side(declarations, _resolve(declarations, parameters, arns), parameters,
                {k: f"{k.lower()}-id" for k in declarations} if physical else {})


def _plan(old: Side, new: Side) -> dict[str, dict]:
    found = changes(old, new)
    shape = service_model("cloudformation").operation_model("DescribeChangeSet").output_shape.members["Changes"]
    assert problems(shape, found, strict=True) == []
    return {c["ResourceChange"]["LogicalResourceId"]: c["ResourceChange"] for c in found}


def _edited(**edits: dict) -> dict:
    template = copy.deepcopy(TEMPLATE)
    for logical, props in edits.items():
        template[logical]["Properties"].update(props)
    return template


def test_no_change_plans_nothing() -> None:
    assert changes(_side(TEMPLATE), _side(copy.deepcopy(TEMPLATE))) == []


def test_a_direct_edit_is_a_static_direct_modification_without_replacement() -> None:
    """The page's "Directly editing a template" example, on a CodeBuild project's Source.
    https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/using-cfn-updating-stacks-changesets-samples.html"""
    plan = _plan(_side(TEMPLATE), _side(_edited(Project={"Source": {"Type": "NO_SOURCE", "BuildSpec": "version: 0.2\n"}})))
    assert plan == {"Project": {
        "Action": "Modify", "LogicalResourceId": "Project", "PhysicalResourceId": "project-id",
        "ResourceType": "AWS::CodeBuild::Project", "Replacement": "False", "Scope": ["Properties"],
        "Details": [{"Target": {"Attribute": "Properties", "Name": "Source", "RequiresRecreation": "Never"},
                     "Evaluation": "Static", "ChangeSource": "DirectModification"}]}}


def test_a_changed_parameter_gives_a_dynamic_and_a_static_detail_on_the_tags() -> None:
    """The page's "Modifying an input parameter value" example: a Dynamic DirectModification and a
    Static ParameterReference naming the parameter, Scope Tags, Replacement False."""
    plan = _plan(_side(TEMPLATE), _side(TEMPLATE, {"Stage": "prod"}))
    assert list(plan) == ["Project"]
    assert plan["Project"]["Scope"] == ["Tags"] and plan["Project"]["Replacement"] == "False"
    assert plan["Project"]["Details"] == [
        {"Target": {"Attribute": "Tags", "RequiresRecreation": "Never"}, "Evaluation": "Dynamic",
         "ChangeSource": "DirectModification"},
        {"Target": {"Attribute": "Tags", "RequiresRecreation": "Never"}, "Evaluation": "Static",
         "ChangeSource": "ParameterReference", "CausingEntity": "Stage"}]


def test_a_renamed_resource_is_replaced_and_its_dependents_see_a_resource_attribute_change() -> None:
    """Renaming the role replaces it (RoleName: Replacement); the project's ServiceRole (GetAtt Role.Arn)
    is a Dynamic ResourceAttribute change whose replacement is not certain."""
    plan = _plan(_side(TEMPLATE), _side(_edited(Role={"RoleName": "build2"})))
    role = plan["Role"]
    assert role["Replacement"] == "True" and role["PolicyAction"] == "ReplaceAndDelete"
    assert role["Details"][0]["Target"] == {"Attribute": "Properties", "Name": "RoleName", "RequiresRecreation": "Always"}
    project = plan["Project"]
    assert project["Replacement"] == "False"
    assert project["Details"] == [{"Target": {"Attribute": "Properties", "Name": "ServiceRole",
                                              "RequiresRecreation": "Never"},
                                   "Evaluation": "Dynamic", "ChangeSource": "ResourceAttribute",
                                   "CausingEntity": "Role.Arn"}]


def test_a_ref_to_a_replaced_resource_in_a_create_only_property_replaces_the_dependent() -> None:
    """An ECS service's Cluster (Replacement) refers to a cluster that is replaced: ResourceReference,
    RequiresRecreation Always, so the service is replaced too; a conditional one stays Conditional."""
    old = {"Cluster": {"Type": "AWS::ECS::Cluster", "Properties": {"ClusterName": "a"}},
           "Service": {"Type": "AWS::ECS::Service", "Properties": {"Cluster": {"Ref": "Cluster"}, "DesiredCount": 1}}}
    new = copy.deepcopy(old)
    new["Cluster"]["Properties"]["ClusterName"] = "b"
    plan = _plan(_side(old), _side(new))
    assert plan["Cluster"]["Replacement"] == "True"
    assert plan["Service"]["Replacement"] == "True"
    assert plan["Service"]["Details"] == [{"Target": {"Attribute": "Properties", "Name": "Cluster",
                                                      "RequiresRecreation": "Always"},
                                           "Evaluation": "Dynamic", "ChangeSource": "ResourceReference",
                                           "CausingEntity": "Cluster"}]
    subnet = {"Type": "AWS::EC2::Subnet", "Properties": {"VpcId": "vpc-1", "CidrBlock": "10.0.0.0/24",
                                                         "Ipv6CidrBlock": "2001:db8::/64"}}
    changed = copy.deepcopy(subnet)
    changed["Properties"]["Ipv6CidrBlock"] = "2001:db8:1::/64"
    assert _plan(_side({"S": subnet}), _side({"S": changed}))["S"]["Replacement"] == "Conditional"


def test_added_and_removed_resources_and_the_deletion_policy() -> None:
    """The page's "Adding and removing resources" example: empty Scope and Details, no physical id for
    an added resource; a removed resource's PolicyAction follows its DeletionPolicy."""
    old = copy.deepcopy(TEMPLATE)
    old["Kept"] = {"Type": "AWS::SNS::Topic", "DeletionPolicy": "Retain", "Properties": {}}
    new = copy.deepcopy(TEMPLATE)
    del new["Project"]
    new["Queue"] = {"Type": "AWS::SQS::Queue", "Properties": {}}
    plan = _plan(_side(old), _side(new))
    assert plan["Queue"] == {"Action": "Add", "LogicalResourceId": "Queue", "ResourceType": "AWS::SQS::Queue",
                             "Scope": [], "Details": []}
    assert plan["Project"]["Action"] == "Remove" and plan["Project"]["PolicyAction"] == "Delete"
    assert plan["Project"]["PhysicalResourceId"] == "project-id"
    assert plan["Kept"]["PolicyAction"] == "Retain"
    assert "Role" not in plan


def test_metadata_and_policy_edits_have_their_own_scope() -> None:
    new = copy.deepcopy(TEMPLATE)
    new["Project"]["Metadata"] = {"note": "x"}
    new["Project"]["UpdateReplacePolicy"] = "Retain"
    plan = _plan(_side(TEMPLATE), _side(new))
    assert plan["Project"]["Scope"] == ["Metadata", "UpdateReplacePolicy"]
    assert plan["Project"]["Replacement"] == "False"


def test_a_nested_stack_is_always_checked_automatically() -> None:
    """AWS::CloudFormation::Stack with no edit: ChangeSource Automatic (its template may have changed).
    https://docs.aws.amazon.com/AWSCloudFormation/latest/APIReference/API_ResourceChangeDetail.html"""
    nested = {"Child": {"Type": "AWS::CloudFormation::Stack", "Properties": {"TemplateURL": "https://s3/x"}}}
    plan = _plan(_side(nested), _side(copy.deepcopy(nested)))
    assert plan["Child"]["Details"][0]["ChangeSource"] == "Automatic"


def test_a_parameter_in_the_fn_if_branch_not_taken_changes_nothing() -> None:
    """With the condition false, the topic's DisplayName is Other's value: changing Used changes nothing."""
    declared = {"T": {"Type": "AWS::SNS::Topic", "Properties": {
        "DisplayName": {"Fn::If": ["Prod", {"Ref": "Used"}, {"Ref": "Other"}]}}}}
    resolved = {"T": {"DisplayName": "o"}}
    old = Side(declared, resolved, {"Used": "u1", "Other": "o"}, {"T": "t-id"}, {"Prod": False})
    assert changes(old, Side(declared, resolved, {"Used": "u2", "Other": "o"}, conditions={"Prod": False})) == []
    changed = changes(old, Side(declared, {"T": {"DisplayName": "o2"}}, {"Used": "u1", "Other": "o2"},
                                conditions={"Prod": False}))
    assert [d.get("CausingEntity") for d in changed[0]["ResourceChange"]["Details"]] == [None, "Other"]
