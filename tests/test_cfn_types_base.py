"""The base stack's resource types (EC2 networking, ECS, ELBv2) through their handlers against a real
labstack: what they make is what the services answer, updates apply in place, deletions are idempotent,
and the service they make really runs behind its load balancer."""

from __future__ import annotations

import json
import threading
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError
from labstack.services.cloudformation.resource import HandlerError, NeedsReplacement

from tests.support.cfn_handlers import context, of
from tests.support.cfn_stacks import events, outputs, settled
from tests.support.codebuild import new_account
from tests.support.sampleapp import answer, app_copy, listener_url, push_app_image
from tests.support.server import ROOT, LabstackProcess
from tests.support.waiting import wait_for

TEMPLATE = ROOT / "infra" / "templates" / "base-stack.yaml"


def test_a_cluster_keeps_its_settings_and_capacity_providers_and_updates_them_in_place(labstack: LabstackProcess) -> None:
    """Ref is the cluster's name, GetAtt Arn; ClusterSettings, CapacityProviders and
    DefaultCapacityProviderStrategy update with no interruption
    (https://docs.aws.amazon.com/AWSCloudFormation/latest/TemplateReference/aws-resource-ecs-cluster.html)."""
    account = new_account()
    ctx, cluster = context(labstack, account, "Cluster"), of("AWS::ECS::Cluster")
    ecs = labstack.client("ecs", account=account)
    props = {"ClusterName": "shop", "ClusterSettings": [{"Name": "containerInsights", "Value": "enabled"}],
             "CapacityProviders": ["FARGATE", "FARGATE_SPOT"],
             "DefaultCapacityProviderStrategy": [{"CapacityProvider": "FARGATE", "Weight": "1"},
                                                 {"CapacityProvider": "FARGATE_SPOT", "Weight": "0"}],
             "Tags": [{"Key": "team", "Value": "ci"}]}
    made = cluster.create(ctx, props)
    assert (made.ref_value, made.attributes["Arn"]) == ("shop", f"arn:aws:ecs:us-east-1:{account}:cluster/shop")
    live = ecs.describe_clusters(clusters=["shop"], include=["SETTINGS", "TAGS"])["clusters"][0]
    assert live["settings"] == [{"name": "containerInsights", "value": "enabled"}]
    assert [(s["capacityProvider"], s["weight"]) for s in live["defaultCapacityProviderStrategy"]] == [("FARGATE", 1), ("FARGATE_SPOT", 0)]
    assert {"key": "aws:cloudformation:logical-id", "value": "Cluster"} in live["tags"]
    assert cluster.read(ctx, "shop", props) == props

    changed = props | {"ClusterSettings": [{"Name": "containerInsights", "Value": "disabled"}],
                       "CapacityProviders": ["FARGATE"], "DefaultCapacityProviderStrategy": [{"CapacityProvider": "FARGATE", "Weight": 1}],
                       "Tags": [{"Key": "team", "Value": "platform"}]}
    assert cluster.update(ctx, "shop", props, changed).physical_id == "shop"
    live = ecs.describe_clusters(clusters=["shop"], include=["SETTINGS", "TAGS"])["clusters"][0]
    assert (live["settings"], live["capacityProviders"]) == ([{"name": "containerInsights", "value": "disabled"}], ["FARGATE"])
    assert {"key": "team", "value": "platform"} in live["tags"]

    cluster.delete(ctx, "shop", changed)
    assert ecs.describe_clusters(clusters=["shop"])["clusters"][0]["status"] == "INACTIVE"
    assert cluster.read(ctx, "shop", changed) is None
    cluster.delete(ctx, "shop", changed)  # already gone: success


def test_a_task_definition_is_a_revision_its_ref_names_and_deletion_deregisters(labstack: LabstackProcess) -> None:
    """Ref is the task definition's ARN (a revision); a family the template does not give is generated; Tags
    update in place, deletion deregisters the revision
    (https://docs.aws.amazon.com/AWSCloudFormation/latest/TemplateReference/aws-resource-ecs-taskdefinition.html)."""
    account = new_account()
    ctx, definition = context(labstack, account, "TaskDefinition"), of("AWS::ECS::TaskDefinition")
    ecs = labstack.client("ecs", account=account)
    props = {"RequiresCompatibilities": ["FARGATE"], "NetworkMode": "awsvpc", "Cpu": "256", "Memory": "512",
             "ContainerDefinitions": [{"Name": "app", "Image": "app:1", "Essential": "true",
                                       "PortMappings": [{"ContainerPort": "8080", "Protocol": "tcp"}],
                                       "LogConfiguration": {"LogDriver": "awslogs",
                                                            "Options": {"awslogs-group": "/ecs/app", "awslogs-stream-prefix": "app"}}}]}
    made = definition.create(ctx, props)
    arn = made.ref_value
    assert arn.startswith(f"arn:aws:ecs:us-east-1:{account}:task-definition/Shop-TaskDefinition-") and arn.endswith(":1")
    assert made.attributes == {"TaskDefinitionArn": arn}
    live = ecs.describe_task_definition(taskDefinition=arn)["taskDefinition"]
    assert (live["networkMode"], live["cpu"], live["containerDefinitions"][0]["portMappings"][0]["containerPort"]) == ("awsvpc", "256", 8080)
    assert live["containerDefinitions"][0]["logConfiguration"]["options"]["awslogs-group"] == "/ecs/app"
    assert definition.read(ctx, arn, props)["ContainerDefinitions"] == props["ContainerDefinitions"]

    definition.update(ctx, arn, props, props | {"Tags": [{"Key": "release", "Value": "1"}]})
    assert {"key": "release", "value": "1"} in ecs.list_tags_for_resource(resourceArn=arn)["tags"]
    definition.delete(ctx, arn, props)
    assert ecs.describe_task_definition(taskDefinition=arn)["taskDefinition"]["status"] == "INACTIVE"
    assert definition.read(ctx, arn, props) is None
    definition.delete(ctx, arn, props)


@pytest.mark.parametrize(("type_name", "props", "named"), [
    ("AWS::ECS::Service", {"Cluster": "c", "TaskDefinition": "t", "ServiceRegistries": [{"RegistryArn": "x"}]}, "ServiceRegistries"),
    ("AWS::ECS::Cluster", {"ServiceConnectDefaults": {"Namespace": "n"}}, "ServiceConnectDefaults"),
    ("AWS::ECS::TaskDefinition", {"ContainerDefinitions": [{"Name": "a", "Image": "b"}], "ProxyConfiguration": {}}, "ProxyConfiguration"),
    ("AWS::ECS::Cluster", {"ClusterName": "c", "Colour": "blue"}, "Colour"),
    ("AWS::EC2::VPC", {"CidrBlock": "10.0.0.0/16", "Ipv4IpamPoolId": "ipam-1"}, "Ipv4IpamPoolId"),
    ("AWS::EC2::SecurityGroup", {"GroupDescription": "d", "SecurityGroupIngress": [{"IpProtocol": "tcp", "Colour": "x"}]}, "Colour"),
    ("AWS::ElasticLoadBalancingV2::LoadBalancer", {"MinimumLoadBalancerCapacity": {"CapacityUnits": 1}}, "MinimumLoadBalancerCapacity"),
    ("AWS::ElasticLoadBalancingV2::TargetGroup", {"Port": 80, "Protocol": "HTTP", "Stickiness": True}, "Stickiness"),
])
def test_a_property_labstack_does_not_apply_fails_the_resource_by_name(labstack: LabstackProcess, type_name: str,
                                                                       props: dict, named: str) -> None:
    """Nothing is ignored: a property labstack cannot apply (or no type has) fails the resource, naming it,
    before anything is made."""
    account = new_account()
    with pytest.raises(HandlerError) as info:
        of(type_name).create(context(labstack, account), props)
    assert named in info.value.message
    assert labstack.client("ecs", account=account).list_clusters()["clusterArns"] == []


def _network(labstack: LabstackProcess, account: str) -> dict[str, Any]:
    """The base stack's network, made by the handlers in the template's order; logical id -> Result."""
    made: dict[str, Any] = {}

    def make(logical: str, type_name: str, props: dict) -> Any:
        made[logical] = of(type_name).create(context(labstack, account, logical), props)
        return made[logical].ref_value

    vpc = make("Vpc", "AWS::EC2::VPC", {"CidrBlock": "10.0.0.0/16", "EnableDnsHostnames": "true", "EnableDnsSupport": True,
                                        "Tags": [{"Key": "Name", "Value": "shop-vpc"}]})
    gateway = make("InternetGateway", "AWS::EC2::InternetGateway", {})
    make("GatewayAttachment", "AWS::EC2::VPCGatewayAttachment", {"VpcId": vpc, "InternetGatewayId": gateway})
    subnets = [make(f"PublicSubnet{i}", "AWS::EC2::Subnet", {"VpcId": vpc, "CidrBlock": f"10.0.{i}.0/24",
                                                              "AvailabilityZone": f"us-east-1{'ab'[i - 1]}",
                                                              "MapPublicIpOnLaunch": "true"}) for i in (1, 2)]
    table = make("PublicRouteTable", "AWS::EC2::RouteTable", {"VpcId": vpc})
    make("DefaultRoute", "AWS::EC2::Route", {"RouteTableId": table, "DestinationCidrBlock": "0.0.0.0/0", "GatewayId": gateway})
    for i, subnet in enumerate(subnets, 1):
        make(f"PublicSubnet{i}Routes", "AWS::EC2::SubnetRouteTableAssociation", {"SubnetId": subnet, "RouteTableId": table})
    balancer_group = make("LoadBalancerSecurityGroup", "AWS::EC2::SecurityGroup", {
        "GroupDescription": "load balancer", "VpcId": vpc,
        "SecurityGroupIngress": [{"IpProtocol": "tcp", "FromPort": "80", "ToPort": "80", "CidrIp": "0.0.0.0/0"}]})
    make("ServiceSecurityGroup", "AWS::EC2::SecurityGroup", {
        "GroupDescription": "tasks", "VpcId": vpc,
        "SecurityGroupIngress": [{"IpProtocol": "tcp", "FromPort": "8080", "ToPort": "8080", "SourceSecurityGroupId": balancer_group}],
        "SecurityGroupEgress": [{"IpProtocol": "tcp", "FromPort": 443, "ToPort": 443, "CidrIp": "0.0.0.0/0"}]})
    return made


def test_the_base_stacks_network_is_what_ec2_answers_and_is_deleted_in_reverse(labstack: LabstackProcess) -> None:
    """Ref and GetAtt of each EC2 type as its reference page's "Return values" says
    (https://docs.aws.amazon.com/AWSCloudFormation/latest/TemplateReference/aws-resource-ec2-vpc.html: Ref the VPC id,
    GetAtt CidrBlock, DefaultSecurityGroup...; aws-resource-ec2-subnet.html; aws-resource-ec2-securitygroup.html: Ref
    the group id in a VPC, GetAtt GroupId and VpcId; aws-resource-ec2-route.html; aws-resource-ec2-subnetroutetableassociation.html);
    a security group's listed egress rules replace EC2's default allow-all, as the SecurityGroupEgress page says."""
    account = new_account()
    made = _network(labstack, account)
    ec2 = labstack.client("ec2", account=account)
    vpc = made["Vpc"].ref_value
    assert vpc.startswith("vpc-") and made["Vpc"].attributes["CidrBlock"] == "10.0.0.0/16"
    assert made["Vpc"].attributes["DefaultSecurityGroup"].startswith("sg-")
    assert ec2.describe_vpc_attribute(VpcId=vpc, Attribute="enableDnsHostnames")["EnableDnsHostnames"]["Value"] is True
    tags = {t["Key"]: t["Value"] for t in ec2.describe_vpcs(VpcIds=[vpc])["Vpcs"][0]["Tags"]}
    assert (tags["Name"], tags["aws:cloudformation:logical-id"], tags["aws:cloudformation:stack-name"]) == ("shop-vpc", "Vpc", "Shop")
    subnet = ec2.describe_subnets(SubnetIds=[made["PublicSubnet1"].ref_value])["Subnets"][0]
    assert (subnet["VpcId"], subnet["AvailabilityZone"], subnet["MapPublicIpOnLaunch"]) == (vpc, "us-east-1a", True)
    assert made["PublicSubnet2"].attributes["AvailabilityZone"] == "us-east-1b"
    assert made["GatewayAttachment"].ref_value == f"IGW|{vpc}"
    table = ec2.describe_route_tables(RouteTableIds=[made["PublicRouteTable"].ref_value])["RouteTables"][0]
    assert {(r.get("DestinationCidrBlock"), r.get("GatewayId")) for r in table["Routes"]} >= {("0.0.0.0/0", made["InternetGateway"].ref_value)}
    assert sorted(a["SubnetId"] for a in table["Associations"] if not a.get("Main")) == sorted(
        made[f"PublicSubnet{i}"].ref_value for i in (1, 2))
    assert {a["RouteTableAssociationId"] for a in table["Associations"] if not a.get("Main")} == {
        made[f"PublicSubnet{i}Routes"].attributes["Id"] for i in (1, 2)}

    service_group = made["ServiceSecurityGroup"]
    assert service_group.attributes == {"GroupId": service_group.ref_value, "VpcId": vpc}
    group = ec2.describe_security_groups(GroupIds=[service_group.ref_value])["SecurityGroups"][0]
    assert [(p["FromPort"], p["UserIdGroupPairs"][0]["GroupId"]) for p in group["IpPermissions"]] == [
        (8080, made["LoadBalancerSecurityGroup"].ref_value)]
    assert [(p["IpProtocol"], p.get("FromPort")) for p in group["IpPermissionsEgress"]] == [("tcp", 443)]

    ctx = context(labstack, account, "ServiceSecurityGroup")
    props = {"GroupDescription": "tasks", "VpcId": vpc,
             "SecurityGroupIngress": [{"IpProtocol": "tcp", "FromPort": "8080", "ToPort": "8080",
                                       "SourceSecurityGroupId": made["LoadBalancerSecurityGroup"].ref_value}],
             "SecurityGroupEgress": [{"IpProtocol": "tcp", "FromPort": 443, "ToPort": 443, "CidrIp": "0.0.0.0/0"}]}
    assert of("AWS::EC2::SecurityGroup").read(ctx, service_group.ref_value, props) == props | {
        "SecurityGroupIngress": [props["SecurityGroupIngress"][0] | {"FromPort": 8080, "ToPort": 8080}], "Tags": []}
    # rules change in place (No interruption): one revoked, one authorized; no egress rule listed = allow all again
    changed = props | {"SecurityGroupIngress": [{"IpProtocol": "tcp", "FromPort": 9090, "ToPort": 9090, "CidrIp": "10.0.0.0/16"}]}
    del changed["SecurityGroupEgress"]
    of("AWS::EC2::SecurityGroup").update(ctx, service_group.ref_value, props, changed)
    group = ec2.describe_security_groups(GroupIds=[service_group.ref_value])["SecurityGroups"][0]
    assert [(p["FromPort"], p["IpRanges"]) for p in group["IpPermissions"]] == [(9090, [{"CidrIp": "10.0.0.0/16"}])]
    assert [(p["IpProtocol"], p["IpRanges"]) for p in group["IpPermissionsEgress"]] == [("-1", [{"CidrIp": "0.0.0.0/0"}])]

    order = ["ServiceSecurityGroup", "LoadBalancerSecurityGroup", "PublicSubnet2Routes", "PublicSubnet1Routes", "DefaultRoute",
             "PublicRouteTable", "PublicSubnet2", "PublicSubnet1", "GatewayAttachment", "InternetGateway", "Vpc"]
    props_of = {"GatewayAttachment": {"VpcId": vpc, "InternetGatewayId": made["InternetGateway"].ref_value},
                "DefaultRoute": {"RouteTableId": made["PublicRouteTable"].ref_value, "DestinationCidrBlock": "0.0.0.0/0"}}
    for _ in range(2):  # the second time, everything is already gone: success
        for logical in order:
            type_name = {"Vpc": "AWS::EC2::VPC", "InternetGateway": "AWS::EC2::InternetGateway",
                         "GatewayAttachment": "AWS::EC2::VPCGatewayAttachment", "PublicRouteTable": "AWS::EC2::RouteTable",
                         "DefaultRoute": "AWS::EC2::Route"}.get(logical) or (
                "AWS::EC2::SubnetRouteTableAssociation" if logical.endswith("Routes") else
                "AWS::EC2::Subnet" if logical.startswith("PublicSubnet") else "AWS::EC2::SecurityGroup")
            of(type_name).delete(context(labstack, account, logical), made[logical].physical_id, props_of.get(logical, {}))
    assert ec2.describe_vpcs(Filters=[{"Name": "vpc-id", "Values": [vpc]}])["Vpcs"] == []
    assert of("AWS::EC2::VPC").read(context(labstack, account, "Vpc"), vpc, {}) is None


def test_standalone_security_group_rules_are_rule_ids_and_only_their_description_changes_in_place(labstack: LabstackProcess) -> None:
    """Ref of SecurityGroupIngress/Egress is the rule's id, GetAtt Id; every property but Description needs
    replacement (https://docs.aws.amazon.com/AWSCloudFormation/latest/TemplateReference/aws-resource-ec2-securitygroupingress.html)."""
    account = new_account()
    ec2 = labstack.client("ec2", account=account)
    vpc = ec2.create_vpc(CidrBlock="10.1.0.0/16")["Vpc"]["VpcId"]
    group = ec2.create_security_group(GroupName="g", Description="g", VpcId=vpc)["GroupId"]
    ctx, ingress = context(labstack, account, "Ingress"), of("AWS::EC2::SecurityGroupIngress")
    props = {"GroupId": group, "IpProtocol": "tcp", "FromPort": "22", "ToPort": "22", "CidrIp": "10.1.0.0/24", "Description": "ssh"}
    made = ingress.create(ctx, props)
    assert made.ref_value.startswith("sgr-") and made.attributes == {"Id": made.ref_value}
    assert ingress.read(ctx, made.ref_value, props) == props | {"FromPort": 22, "ToPort": 22}
    ingress.update(ctx, made.ref_value, props, props | {"Description": "bastion"})
    assert ingress.read(ctx, made.ref_value, props)["Description"] == "bastion"
    egress = of("AWS::EC2::SecurityGroupEgress")
    out = egress.create(context(labstack, account, "Egress"), {"GroupId": group, "IpProtocol": "-1", "DestinationSecurityGroupId": group})
    assert egress.read(ctx, out.ref_value, {})["DestinationSecurityGroupId"] == group
    for handler, rule in ((ingress, made), (egress, out)):
        handler.delete(ctx, rule.ref_value, {"GroupId": group})
        handler.delete(ctx, rule.ref_value, {"GroupId": group})
        assert handler.read(ctx, rule.ref_value, {}) is None
    assert ec2.describe_security_groups(GroupIds=[group])["SecurityGroups"][0]["IpPermissions"] == []


def test_a_security_group_in_the_default_vpc_is_named_by_its_ref(labstack: LabstackProcess) -> None:
    """With no VpcId the group is in the default VPC and Ref returns its name (its id otherwise); a name the
    template does not give is generated (https://docs.aws.amazon.com/AWSCloudFormation/latest/TemplateReference/aws-resource-ec2-securitygroup.html)."""
    account = new_account()
    ctx = context(labstack, account, "WebGroup")
    made = of("AWS::EC2::SecurityGroup").create(ctx, {"GroupDescription": "web"})
    group = labstack.client("ec2", account=account).describe_security_groups(GroupIds=[made.physical_id])["SecurityGroups"][0]
    assert made.ref_value == group["GroupName"] and made.ref_value.startswith("Shop-WebGroup-")
    assert made.attributes == {"GroupId": group["GroupId"], "VpcId": group["VpcId"]}


def _execution_role(server: LabstackProcess, account: str) -> str:
    """A task execution role (Fargate pulls ECR images with it)."""
    iam = server.client("iam", account=account)
    trust = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"Service": "ecs-tasks.amazonaws.com"},
                                                      "Action": "sts:AssumeRole"}]}
    arn = iam.create_role(RoleName="task-execution", AssumeRolePolicyDocument=json.dumps(trust))["Role"]["Arn"]
    iam.attach_role_policy(RoleName="task-execution",
                           PolicyArn="arn:aws:iam::aws:policy/service-role/AmazonECSTaskExecutionRolePolicy")
    return arn


@pytest.mark.slow
def test_a_service_behind_a_weighted_listener_serves_scales_and_drains_to_nothing(sampleapp_labstack: LabstackProcess,
                                                                                   tmp_path: Path) -> None:
    """The ELBv2 and ECS handlers make what the runtimes serve: the listener's port answers from the
    service's tasks. Ref/GetAtt per AWS's pages (aws-resource-elasticloadbalancingv2-loadbalancer.html: Ref the ARN,
    GetAtt DNSName, LoadBalancerFullName...; -targetgroup.html: TargetGroupFullName...; aws-resource-ecs-service.html:
    Ref the ARN, GetAtt Name and ServiceArn); the service's DesiredCount and the listener's DefaultActions update with
    no interruption; deleting the service scales it to 0 and waits for its tasks to stop
    (https://docs.aws.amazon.com/AWSCloudFormation/latest/TemplateReference/aws-resource-ecs-service.html)."""
    server, account = sampleapp_labstack, new_account()
    server.client("ecr", account=account).create_repository(repositoryName="shop")
    image = f"{account}.dkr.ecr.us-east-1.amazonaws.com/shop:latest"
    push_app_image(server, account, app_copy(tmp_path / "app"), image)
    net = _network(server, account)
    vpc, subnets = net["Vpc"].ref_value, [net[f"PublicSubnet{i}"].ref_value for i in (1, 2)]

    def make(logical: str, type_name: str, props: dict) -> Any:
        return of(type_name).create(context(server, account, logical), props)

    balancer = make("LoadBalancer", "AWS::ElasticLoadBalancingV2::LoadBalancer", {
        "Name": "shop-alb", "Type": "application", "Scheme": "internet-facing", "Subnets": subnets,
        "SecurityGroups": [net["LoadBalancerSecurityGroup"].ref_value],
        "LoadBalancerAttributes": [{"Key": "idle_timeout.timeout_seconds", "Value": "30"}]})
    assert balancer.ref_value.startswith(f"arn:aws:elasticloadbalancing:us-east-1:{account}:loadbalancer/app/shop-alb/")
    assert balancer.attributes["LoadBalancerFullName"] == balancer.ref_value.split(":loadbalancer/")[1]
    assert balancer.attributes["DNSName"] and balancer.attributes["LoadBalancerName"] == "shop-alb"
    groups = [make(f"{colour.title()}TargetGroup", "AWS::ElasticLoadBalancingV2::TargetGroup", {
        "Name": f"shop-{colour}", "TargetType": "ip", "Protocol": "HTTP", "Port": "8080", "VpcId": vpc,
        "HealthCheckPath": "/health", "HealthCheckIntervalSeconds": "10", "HealthyThresholdCount": 2,
        "TargetGroupAttributes": [{"Key": "deregistration_delay.timeout_seconds", "Value": 30}]}) for colour in ("blue", "green")]
    blue, green = (group.ref_value for group in groups)
    assert groups[0].attributes["TargetGroupName"] == "shop-blue"
    assert groups[0].attributes["TargetGroupFullName"] == "targetgroup/shop-blue/" + blue.rsplit("/", 1)[1]
    elb = server.client("elbv2", account=account)
    attributes = {a["Key"]: a["Value"] for a in elb.describe_target_group_attributes(TargetGroupArn=blue)["Attributes"]}
    assert attributes["deregistration_delay.timeout_seconds"] == "30"

    forward = {"RuleName": "all blue", "DefaultActions": [{"Type": "forward", "ForwardConfig": {"TargetGroups": [
        {"TargetGroupArn": blue, "Weight": 100}, {"TargetGroupArn": green, "Weight": 0}]}}]}
    listener_props = {"LoadBalancerArn": balancer.ref_value, "Protocol": "HTTP", "Port": 80,
                      "DefaultActions": forward["DefaultActions"]}
    listener = make("Listener", "AWS::ElasticLoadBalancingV2::Listener", listener_props)
    assert listener.attributes == {"ListenerArn": listener.ref_value}
    rule = make("HealthRule", "AWS::ElasticLoadBalancingV2::ListenerRule", {
        "ListenerArn": listener.ref_value, "Priority": "10",
        "Conditions": [{"Field": "path-pattern", "PathPatternConfig": {"Values": ["/health"]}}],
        "Actions": [{"Type": "forward", "TargetGroupArn": blue}]})
    assert rule.attributes == {"RuleArn": rule.ref_value, "IsDefault": False}

    cluster = make("Cluster", "AWS::ECS::Cluster", {"ClusterName": "shop"})
    execution = _execution_role(server, account)
    definition = make("TaskDefinition", "AWS::ECS::TaskDefinition", {
        "Family": "shop", "RequiresCompatibilities": ["FARGATE"], "NetworkMode": "awsvpc", "Cpu": "256", "Memory": "512",
        "ExecutionRoleArn": execution,
        "ContainerDefinitions": [{"Name": "app", "Image": image, "Essential": True,
                                  "PortMappings": [{"ContainerPort": "8080", "Protocol": "tcp"}]}]})
    service_props = {"ServiceName": "shop", "Cluster": cluster.ref_value, "TaskDefinition": definition.ref_value,
                     "DesiredCount": "1", "LaunchType": "FARGATE", "HealthCheckGracePeriodSeconds": 30,
                     "LoadBalancers": [{"ContainerName": "app", "ContainerPort": "8080", "TargetGroupArn": blue}],
                     "NetworkConfiguration": {"AwsvpcConfiguration": {"AssignPublicIp": "ENABLED", "Subnets": subnets,
                                                                      "SecurityGroups": [net["ServiceSecurityGroup"].ref_value]}}}
    ctx, handler = context(server, account, "Service"), of("AWS::ECS::Service")
    service = handler.create(ctx, service_props)  # returns once the service is stable: its task runs
    assert service.ref_value == f"arn:aws:ecs:us-east-1:{account}:service/shop/shop"
    assert service.attributes == {"ServiceArn": service.ref_value, "Name": "shop"}
    ecs = server.client("ecs", account=account)
    assert len(ecs.list_tasks(cluster="shop", serviceName="shop")["taskArns"]) == 1
    url = listener_url(server, listener.ref_value)
    assert wait_for(lambda: answer(url), seconds=30) == (200, "v1")
    live = handler.read(ctx, service.ref_value, service_props)
    assert (live["DesiredCount"], live["LoadBalancers"], live["TaskDefinition"], live["HealthCheckGracePeriodSeconds"]) == (
        "1", service_props["LoadBalancers"], definition.ref_value, 30)

    handler.update(ctx, service.ref_value, service_props, service_props | {"DesiredCount": 2})
    assert len(ecs.list_tasks(cluster="shop", serviceName="shop")["taskArns"]) == 2
    # the listener's weights change in place: everything to green, which has no targets -> 503
    listener_handler = of("AWS::ElasticLoadBalancingV2::Listener")
    to_green = [{"Type": "forward", "ForwardConfig": {"TargetGroups": [
        {"TargetGroupArn": blue, "Weight": 0}, {"TargetGroupArn": green, "Weight": 100}]}}]
    listener_handler.update(context(server, account, "Listener"), listener.ref_value, listener_props,
                            listener_props | {"DefaultActions": to_green})
    assert wait_for(lambda: answer(url) is None, seconds=10)

    handler.delete(ctx, service.ref_value, service_props | {"DesiredCount": 2})
    assert ecs.list_tasks(cluster="shop", serviceName="shop")["taskArns"] == []
    assert ecs.describe_services(cluster="shop", services=["shop"])["services"][0]["status"] == "INACTIVE"
    handler.delete(ctx, service.ref_value, service_props)  # already gone
    for logical, type_name, made in (("HealthRule", "AWS::ElasticLoadBalancingV2::ListenerRule", rule),
                                     ("Listener", "AWS::ElasticLoadBalancingV2::Listener", listener),
                                     ("LoadBalancer", "AWS::ElasticLoadBalancingV2::LoadBalancer", balancer),
                                     ("BlueTargetGroup", "AWS::ElasticLoadBalancingV2::TargetGroup", groups[0])):
        for _ in range(2):
            of(type_name).delete(context(server, account, logical), made.ref_value, {})
        assert of(type_name).read(context(server, account, logical), made.ref_value, {}) is None
    assert wait_for(lambda: answer(url) is None and url not in str(elb.describe_load_balancers()), seconds=10)


@pytest.mark.slow
def test_a_service_whose_tasks_cannot_start_fails_when_its_circuit_breaker_trips(labstack: LabstackProcess) -> None:
    """CloudFormation waits for a service to be stable; with the deployment circuit breaker on, a deployment
    whose tasks keep failing fails the resource instead of waiting for hours
    (https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/aws-properties-ecs-service-deploymentcircuitbreaker.html)."""
    account = new_account()
    ctx = context(labstack, account, "Service")
    of("AWS::ECS::Cluster").create(ctx, {"ClusterName": "broken"})
    definition = of("AWS::ECS::TaskDefinition").create(ctx, {"Family": "broken", "ContainerDefinitions": [
        {"Name": "app", "Image": f"{account}.dkr.ecr.us-east-1.amazonaws.com/missing:latest", "Memory": 128}]})
    props = {"Cluster": "broken", "ServiceName": "broken", "TaskDefinition": definition.ref_value, "DesiredCount": 1,
             "DeploymentConfiguration": {"DeploymentCircuitBreaker": {"Enable": True, "Rollback": False}}}
    with pytest.raises(HandlerError) as info:
        of("AWS::ECS::Service").create(ctx, props)
    assert info.value.message == "Error occurred during operation 'ECS Deployment Circuit Breaker was triggered'."
    of("AWS::ECS::Service").delete(ctx, f"arn:aws:ecs:us-east-1:{account}:service/broken/broken", props)
    assert labstack.client("ecs", account=account).list_tasks(cluster="broken")["taskArns"] == []


SERVICE_STACK = """
Parameters:
  Greeting: {Type: String, Default: hello}
  Count: {Type: Number, Default: 1}
Resources:
  Vpc:
    Type: AWS::EC2::VPC
    Properties: {CidrBlock: 10.9.0.0/16}
  Subnet:
    Type: AWS::EC2::Subnet
    Properties: {VpcId: !Ref Vpc, CidrBlock: 10.9.1.0/24, AvailabilityZone: !Select [0, !GetAZs '']}
  Group:
    Type: AWS::EC2::SecurityGroup
    Properties:
      GroupDescription: app
      VpcId: !Ref Vpc
      SecurityGroupIngress: [{IpProtocol: tcp, FromPort: 8080, ToPort: 8080, CidrIp: 10.9.0.0/16}]
  ExecutionRole:
    Type: AWS::IAM::Role
    Properties:
      AssumeRolePolicyDocument:
        Statement: [{Effect: Allow, Principal: {Service: ecs-tasks.amazonaws.com}, Action: sts:AssumeRole}]
      ManagedPolicyArns: [arn:aws:iam::aws:policy/service-role/AmazonECSTaskExecutionRolePolicy]
  Cluster:
    Type: AWS::ECS::Cluster
  TaskDefinition:
    Type: AWS::ECS::TaskDefinition
    Properties:
      Family: shop
      RequiresCompatibilities: [FARGATE]
      NetworkMode: awsvpc
      Cpu: '256'
      Memory: '512'
      ExecutionRoleArn: !GetAtt ExecutionRole.Arn
      ContainerDefinitions:
        - Name: app
          Image: !Sub ${AWS::AccountId}.dkr.ecr.${AWS::Region}.amazonaws.com/shop:latest
          Environment: [{Name: GREETING, Value: !Ref Greeting}]
          PortMappings: [{ContainerPort: 8080}]
  Service:
    Type: AWS::ECS::Service
    Properties:
      Cluster: !Ref Cluster
      TaskDefinition: !Ref TaskDefinition
      DesiredCount: !Ref Count
      LaunchType: FARGATE
      NetworkConfiguration:
        AwsvpcConfiguration: {Subnets: [!Ref Subnet], SecurityGroups: [!GetAtt Group.GroupId]}
Outputs:
  Cluster: {Value: !Ref Cluster}
  ClusterArn: {Value: !GetAtt Cluster.Arn}
  TaskDefinition: {Value: !Ref TaskDefinition}
  Service: {Value: !Ref Service}
  ServiceName: {Value: !GetAtt Service.Name}
  VpcDefaultGroup: {Value: !GetAtt Vpc.DefaultSecurityGroup}
"""


def _settled(cfn: Any, name: str) -> dict:
    stack = settled(cfn, name, seconds=120)
    assert not [e for e in events(cfn, name) if e[1].endswith("FAILED")]
    return stack


@pytest.mark.slow
def test_through_stacks_a_changed_container_is_a_new_revision_the_service_rolls_to_and_deletion_leaves_nothing(
        sampleapp_labstack: LabstackProcess, tmp_path: Path) -> None:
    """CreateStack, UpdateStack and DeleteStack on labstack's own engine with these handlers: names the template
    does not give are generated; a changed ContainerDefinitions replaces the task definition (Update requires:
    Replacement, https://docs.aws.amazon.com/AWSCloudFormation/latest/TemplateReference/aws-resource-ecs-taskdefinition.html),
    so a new revision of the template's Family is registered, the service (TaskDefinition: No interruption) rolls to it, and the old revision
    is deregistered in the cleanup; DesiredCount changes in place; deleting the stack stops the tasks and removes the
    network."""
    server, account = sampleapp_labstack, new_account()
    server.client("ecr", account=account).create_repository(repositoryName="shop")
    push_app_image(server, account, app_copy(tmp_path / "app"), f"{account}.dkr.ecr.us-east-1.amazonaws.com/shop:latest")
    cfn, ecs = server.client("cloudformation", account=account), server.client("ecs", account=account)
    stack_id = cfn.create_stack(StackName="svc", TemplateBody=SERVICE_STACK, Capabilities=["CAPABILITY_IAM"])["StackId"]
    out = outputs(_settled(cfn, "svc"))
    assert out["Cluster"].startswith("svc-Cluster-") and out["ClusterArn"].endswith(f":cluster/{out['Cluster']}")
    assert out["TaskDefinition"] == f"arn:aws:ecs:us-east-1:{account}:task-definition/shop:1"
    assert out["Service"] == f"arn:aws:ecs:us-east-1:{account}:service/{out['Cluster']}/{out['ServiceName']}"
    first = out["TaskDefinition"]
    assert first.endswith(":1") and out["VpcDefaultGroup"].startswith("sg-")

    def running() -> list[str]:
        arns = ecs.list_tasks(cluster=out["Cluster"], serviceName=out["ServiceName"])["taskArns"]
        return [t["taskDefinitionArn"] for t in ecs.describe_tasks(cluster=out["Cluster"], tasks=arns)["tasks"]
                if t["lastStatus"] == "RUNNING"] if arns else []

    assert running() == [first]  # the stack completed once its service was stable

    cfn.update_stack(StackName="svc", TemplateBody=SERVICE_STACK, Capabilities=["CAPABILITY_IAM"],
                     Parameters=[{"ParameterKey": "Greeting", "ParameterValue": "hi"},
                                 {"ParameterKey": "Count", "ParameterValue": "2"}])
    out = outputs(_settled(cfn, "svc"))
    second = out["TaskDefinition"]
    assert second == first[:-1] + "2"
    definition = ecs.describe_task_definition(taskDefinition=second)["taskDefinition"]
    assert definition["containerDefinitions"][0]["environment"] == [{"name": "GREETING", "value": "hi"}]
    assert ecs.describe_task_definition(taskDefinition=first)["taskDefinition"]["status"] == "INACTIVE"
    assert running() == [second, second]  # the update completed once the service was stable on the new revision
    assert ("Service", "UPDATE_COMPLETE") in [event[:2] for event in events(cfn, "svc")]

    vpc = cfn.describe_stack_resource(StackName="svc", LogicalResourceId="Vpc")["StackResourceDetail"]["PhysicalResourceId"]
    cfn.delete_stack(StackName="svc")
    assert settled(cfn, stack_id, seconds=120)["StackStatus"] == "DELETE_COMPLETE"
    assert ecs.list_tasks(cluster=out["Cluster"])["taskArns"] == []
    assert ecs.describe_services(cluster=out["Cluster"], services=[out["ServiceName"]])["services"][0]["status"] == "INACTIVE"
    assert server.client("ec2", account=account).describe_vpcs(Filters=[{"Name": "vpc-id", "Values": [vpc]}])["Vpcs"] == []


@pytest.mark.slow
def test_the_base_stacks_resources_are_in_sync_and_each_change_behind_its_back_is_drift(labstack: LabstackProcess) -> None:
    """The handlers' read() gives the live resource in template form, so drift detection finds the base stack (its
    service aside: no image here) IN_SYNC, then each change made outside CloudFormation as AWS reports it
    (https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/detect-drift-stack.html)."""
    source = TEMPLATE.read_text()
    source = source[:source.index("  Service:\n    Type: AWS::ECS::Service")] + "Outputs:\n  ClusterName: {Value: !Ref Cluster}\n"
    account = new_account()
    cfn = labstack.client("cloudformation", account=account)
    cfn.create_stack(StackName="base", TemplateBody=source, Capabilities=["CAPABILITY_NAMED_IAM"])
    assert _settled(cfn, "base")["StackStatus"] == "CREATE_COMPLETE"

    def drifts() -> dict[str, list[tuple[str, str, str]]]:
        detection = cfn.detect_stack_drift(StackName="base")["StackDriftDetectionId"]
        wait_for(lambda: cfn.describe_stack_drift_detection_status(StackDriftDetectionId=detection)["DetectionStatus"]
                 != "DETECTION_IN_PROGRESS")
        return {d["LogicalResourceId"]: [(p["PropertyPath"], p["DifferenceType"], p["ActualValue"]) for p in d["PropertyDifferences"]]
                for d in cfn.describe_stack_resource_drifts(StackName="base")["StackResourceDrifts"]
                if d["StackResourceDriftStatus"] != "IN_SYNC"}

    assert drifts() == {}
    ids = {r["LogicalResourceId"]: r["PhysicalResourceId"] for r in cfn.describe_stack_resources(StackName="base")["StackResources"]}
    ec2, elb = labstack.client("ec2", account=account), labstack.client("elbv2", account=account)
    ec2.revoke_security_group_ingress(GroupId=ids["LoadBalancerSecurityGroup"], IpPermissions=[
        {"IpProtocol": "tcp", "FromPort": 8080, "ToPort": 8080, "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}])
    ec2.modify_subnet_attribute(SubnetId=ids["PublicSubnet1"], MapPublicIpOnLaunch={"Value": False})
    elb.modify_target_group(TargetGroupArn=ids["BlueTargetGroup"], HealthCheckPath="/other")
    elb.modify_target_group_attributes(TargetGroupArn=ids["GreenTargetGroup"],
                                       Attributes=[{"Key": "deregistration_delay.timeout_seconds", "Value": "5"}])
    elb.modify_listener(ListenerArn=ids["TestListener"], Port=9000)
    assert drifts() == {
        "LoadBalancerSecurityGroup": [("/SecurityGroupIngress/1", "REMOVE", "null")],
        "PublicSubnet1": [("/MapPublicIpOnLaunch", "NOT_EQUAL", "false")],
        "BlueTargetGroup": [("/HealthCheckPath", "NOT_EQUAL", "/other")],
        "GreenTargetGroup": [("/TargetGroupAttributes/0/Value", "NOT_EQUAL", "5")],
        "TestListener": [("/Port", "NOT_EQUAL", "9000")]}


@pytest.mark.parametrize(("type_name", "props", "message"), [
    ("AWS::EC2::InternetGateway", {"Tags": "team=ci"}, "Value of property Tags must be of type List of {Key, Value}"),
    ("AWS::ECS::Cluster", {"Tags": [1, 2]}, "Value of property Tags must be of type List of {Key, Value}"),
    ("AWS::EC2::SecurityGroup", {"GroupDescription": "d", "SecurityGroupIngress": "all"},
     "Value of property SecurityGroupIngress must be of type List of Object"),
    ("AWS::EC2::SecurityGroup", {"GroupDescription": "d", "SecurityGroupIngress": [
        {"IpProtocol": "tcp", "FromPort": "eighty", "ToPort": 80, "CidrIp": "0.0.0.0/0"}]}, "Value 'eighty' is not an integer"),
    ("AWS::ECS::TaskDefinition", {"ContainerDefinitions": "app"}, "Value of property ContainerDefinitions must be of type List"),
    ("AWS::ECS::Service", {"Cluster": "c", "TaskDefinition": "t", "DesiredCount": "many"},
     "Value of property DesiredCount must be of type Integer"),
    ("AWS::ElasticLoadBalancingV2::TargetGroup", {"Port": 80, "Protocol": "HTTP", "VpcId": "vpc-1", "TargetGroupAttributes": "x"},
     "Value of property TargetGroupAttributes must be of type List of {Key, Value}"),
    ("AWS::ElasticLoadBalancingV2::ListenerRule", {"ListenerArn": "arn", "Priority": "first", "Actions": [], "Conditions": []},
     "Value of property Priority must be of type Integer"),
])
def test_malformed_properties_fail_the_resource_with_a_clear_reason_and_make_nothing(labstack: LabstackProcess, type_name: str,
                                                                                      props: dict, message: str) -> None:
    """Hostile or mistaken property values are refused with a reason naming the property, before any call
    makes something (no half-made resource is left behind), and labstack goes on answering."""
    account = new_account()
    with pytest.raises(HandlerError) as info:
        of(type_name).create(context(labstack, account), props)
    assert info.value.message == message
    made = {"EC2": lambda: labstack.client("ec2", account=account).describe_internet_gateways()["InternetGateways"] + [
                g for g in labstack.client("ec2", account=account).describe_security_groups()["SecurityGroups"]
                if g["GroupName"] != "default"],
            "ECS": lambda: labstack.client("ecs", account=account).list_clusters()["clusterArns"],
            "ElasticLoadBalancingV2": lambda: labstack.client("elbv2", account=account).describe_target_groups()["TargetGroups"]}
    assert made[type_name.split("::")[1]]() == []


def test_network_properties_documented_no_interruption_update_in_place(labstack: LabstackProcess) -> None:
    """Update requires: No interruption for VPC EnableDnsHostnames and Tags, Subnet MapPublicIpOnLaunch,
    VPCGatewayAttachment InternetGatewayId and Route GatewayId
    (https://docs.aws.amazon.com/AWSCloudFormation/latest/TemplateReference/aws-resource-ec2-vpc.html,
    aws-resource-ec2-subnet.html, aws-resource-ec2-vpcgatewayattachment.html, aws-resource-ec2-route.html): the
    physical ids stay, EC2 answers the new values."""
    account = new_account()
    ec2 = labstack.client("ec2", account=account)
    ctx = context(labstack, account, "Net")
    vpc_props = {"CidrBlock": "10.2.0.0/16", "Tags": [{"Key": "tier", "Value": "a"}]}
    vpc = of("AWS::EC2::VPC").create(ctx, vpc_props).ref_value
    changed = vpc_props | {"EnableDnsHostnames": True, "Tags": [{"Key": "owner", "Value": "ci"}]}
    assert of("AWS::EC2::VPC").update(ctx, vpc, vpc_props, changed).ref_value == vpc
    assert ec2.describe_vpc_attribute(VpcId=vpc, Attribute="enableDnsHostnames")["EnableDnsHostnames"]["Value"] is True
    assert of("AWS::EC2::VPC").read(ctx, vpc, changed)["Tags"] == [{"Key": "owner", "Value": "ci"}]

    subnet_props = {"VpcId": vpc, "CidrBlock": "10.2.1.0/24", "MapPublicIpOnLaunch": True}
    subnet = of("AWS::EC2::Subnet").create(ctx, subnet_props).ref_value
    of("AWS::EC2::Subnet").update(ctx, subnet, subnet_props, subnet_props | {"MapPublicIpOnLaunch": False})
    assert ec2.describe_subnets(SubnetIds=[subnet])["Subnets"][0]["MapPublicIpOnLaunch"] is False

    first, second = (of("AWS::EC2::InternetGateway").create(ctx, {}).ref_value for _ in range(2))
    attachment = {"VpcId": vpc, "InternetGatewayId": first}
    of("AWS::EC2::VPCGatewayAttachment").create(ctx, attachment)
    of("AWS::EC2::VPCGatewayAttachment").update(ctx, f"IGW|{vpc}", attachment, attachment | {"InternetGatewayId": second})
    attached = {g["InternetGatewayId"] for g in ec2.describe_internet_gateways(
        Filters=[{"Name": "attachment.vpc-id", "Values": [vpc]}])["InternetGateways"]}
    assert attached == {second}

    table = of("AWS::EC2::RouteTable").create(ctx, {"VpcId": vpc}).ref_value
    route = {"RouteTableId": table, "DestinationCidrBlock": "0.0.0.0/0", "GatewayId": second}
    made = of("AWS::EC2::Route").create(ctx, route)
    assert (made.ref_value, made.attributes) == (f"{table}|0.0.0.0/0", {"CidrBlock": "0.0.0.0/0"})
    peer = ec2.create_vpc_peering_connection(VpcId=vpc, PeerVpcId=ec2.create_vpc(CidrBlock="10.3.0.0/16")["Vpc"]["VpcId"])
    peering = peer["VpcPeeringConnection"]["VpcPeeringConnectionId"]
    to_peer = {"RouteTableId": table, "DestinationCidrBlock": "0.0.0.0/0", "VpcPeeringConnectionId": peering}
    of("AWS::EC2::Route").update(ctx, made.ref_value, route, to_peer)
    assert of("AWS::EC2::Route").read(ctx, made.ref_value, to_peer) == to_peer


def test_load_balancing_properties_documented_no_interruption_update_in_place(labstack: LabstackProcess) -> None:
    """A load balancer's SecurityGroups and attributes, a target group's health check, attributes and Tags, a
    rule's Priority and Conditions change in place (Update requires: No interruption on
    https://docs.aws.amazon.com/AWSCloudFormation/latest/TemplateReference/aws-resource-elasticloadbalancingv2-targetgroup.html
    and its siblings): the ARNs stay."""
    account = new_account()
    ec2, elb = labstack.client("ec2", account=account), labstack.client("elbv2", account=account)
    ctx = context(labstack, account, "Balancing")
    vpc = ec2.create_vpc(CidrBlock="10.4.0.0/16")["Vpc"]["VpcId"]
    subnets = [ec2.create_subnet(VpcId=vpc, CidrBlock=f"10.4.{i}.0/24", AvailabilityZone=f"us-east-1{zone}")["Subnet"]["SubnetId"]
               for i, zone in ((1, "a"), (2, "b"))]
    groups = [ec2.create_security_group(GroupName=f"g{i}", Description="g", VpcId=vpc)["GroupId"] for i in (1, 2)]
    lb_props = {"Subnets": subnets, "SecurityGroups": groups[:1]}
    balancer = of("AWS::ElasticLoadBalancingV2::LoadBalancer").create(ctx, lb_props)
    assert balancer.attributes["LoadBalancerName"].startswith("Shop-Balancing-")  # generated, at most 32 characters
    assert len(balancer.attributes["LoadBalancerName"]) <= 32
    lb_changed = lb_props | {"SecurityGroups": groups[1:],
                             "LoadBalancerAttributes": [{"Key": "idle_timeout.timeout_seconds", "Value": "120"}]}
    of("AWS::ElasticLoadBalancingV2::LoadBalancer").update(ctx, balancer.ref_value, lb_props, lb_changed)
    assert elb.describe_load_balancers(LoadBalancerArns=[balancer.ref_value])["LoadBalancers"][0]["SecurityGroups"] == groups[1:]
    attributes = elb.describe_load_balancer_attributes(LoadBalancerArn=balancer.ref_value)["Attributes"]
    assert {"Key": "idle_timeout.timeout_seconds", "Value": "120"} in attributes

    tg_props = {"Port": 80, "Protocol": "HTTP", "VpcId": vpc, "HealthCheckPath": "/health"}
    group = of("AWS::ElasticLoadBalancingV2::TargetGroup").create(ctx, tg_props).ref_value
    tg_changed = tg_props | {"HealthCheckPath": "/ready", "HealthyThresholdCount": "3", "Tags": [{"Key": "app", "Value": "shop"}],
                             "TargetGroupAttributes": [{"Key": "deregistration_delay.timeout_seconds", "Value": "5"}]}
    assert of("AWS::ElasticLoadBalancingV2::TargetGroup").update(ctx, group, tg_props, tg_changed).ref_value == group
    live = of("AWS::ElasticLoadBalancingV2::TargetGroup").read(ctx, group, tg_changed)
    assert live == tg_changed

    listener = of("AWS::ElasticLoadBalancingV2::Listener").create(ctx, {
        "LoadBalancerArn": balancer.ref_value, "Port": 80, "Protocol": "HTTP",
        "DefaultActions": [{"Type": "fixed-response", "FixedResponseConfig": {"StatusCode": "404"}}]}).ref_value
    rule_props = {"ListenerArn": listener, "Priority": 5, "Actions": [{"Type": "forward", "TargetGroupArn": group}],
                  "Conditions": [{"Field": "path-pattern", "PathPatternConfig": {"Values": ["/a"]}}]}
    rule = of("AWS::ElasticLoadBalancingV2::ListenerRule").create(ctx, rule_props).ref_value
    rule_changed = rule_props | {"Priority": 7, "Conditions": [{"Field": "path-pattern", "PathPatternConfig": {"Values": ["/b"]}}]}
    of("AWS::ElasticLoadBalancingV2::ListenerRule").update(ctx, rule, rule_props, rule_changed)
    found = elb.describe_rules(RuleArns=[rule])["Rules"][0]
    assert (found["Priority"], found["Conditions"][0]["PathPatternConfig"]["Values"]) == ("7", ["/b"])


def test_a_stack_role_without_ecs_permissions_makes_no_cluster_and_its_vpc_is_rolled_back(labstack: LabstackProcess) -> None:
    """The handlers call EC2 and ECS as the stack's service role (RoleARN), as CloudFormation does: a role that
    may use EC2 but not ECS gets its VPC, the cluster fails with ECS's access denial, and the rollback deletes the
    VPC (https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/using-iam-servicerole.html)."""
    account = new_account()
    iam = labstack.client("iam", account=account)
    trust = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"Service": "cloudformation.amazonaws.com"},
                                                      "Action": "sts:AssumeRole"}]}
    role = iam.create_role(RoleName="network-only", AssumeRolePolicyDocument=json.dumps(trust))["Role"]["Arn"]
    iam.put_role_policy(RoleName="network-only", PolicyName="ec2", PolicyDocument=json.dumps(
        {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "ec2:*", "Resource": "*"}]}))
    template = {"Resources": {"Vpc": {"Type": "AWS::EC2::VPC", "Properties": {"CidrBlock": "10.5.0.0/16"}},
                              "Cluster": {"Type": "AWS::ECS::Cluster", "DependsOn": "Vpc", "Properties": {"ClusterName": "denied"}}}}
    cfn = labstack.client("cloudformation", account=account)
    cfn.create_stack(StackName="denied", TemplateBody=json.dumps(template), RoleARN=role)
    assert settled(cfn, "denied")["StackStatus"] == "ROLLBACK_COMPLETE"
    failed = {e[0]: e[2] for e in events(cfn, "denied") if e[1] == "CREATE_FAILED"}
    assert "HandlerErrorCode: AccessDenied" in failed["Cluster"] and "ecs:CreateCluster" in failed["Cluster"]
    ec2 = labstack.client("ec2", account=account)
    assert [v for v in ec2.describe_vpcs()["Vpcs"] if not v["IsDefault"]] == []
    assert labstack.client("ecs", account=account).list_clusters()["clusterArns"] == []


def test_a_service_property_removed_by_an_update_is_refused_by_name_except_desired_count_and_launch_type_replaces(labstack: LabstackProcess) -> None:
    """A removed DesiredCount keeps the service's current count (AWS's documented behaviour for DesiredCount,
    https://docs.aws.amazon.com/AWSCloudFormation/latest/TemplateReference/aws-resource-ecs-service.html); any other
    property the template drops fails the update naming it, rather than being silently kept."""
    account = new_account()
    ctx = context(labstack, account, "Service")
    of("AWS::ECS::Cluster").create(ctx, {"ClusterName": "idle"})
    definition = of("AWS::ECS::TaskDefinition").create(ctx, {"Family": "idle", "ContainerDefinitions": [
        {"Name": "app", "Image": "app:1", "Memory": 128}]}).ref_value
    props = {"Cluster": "idle", "ServiceName": "idle", "TaskDefinition": definition, "DesiredCount": 0,
             "HealthCheckGracePeriodSeconds": 30}
    service = of("AWS::ECS::Service").create(ctx, props).ref_value
    without_count = {k: v for k, v in props.items() if k != "DesiredCount"}
    of("AWS::ECS::Service").update(ctx, service, props, without_count)
    with pytest.raises(HandlerError) as info:
        of("AWS::ECS::Service").update(ctx, service, without_count, {k: v for k, v in without_count.items()
                                                                     if k != "HealthCheckGracePeriodSeconds"})
    assert info.value.message == "labstack cannot unset HealthCheckGracePeriodSeconds of AWS::ECS::Service in place"
    live = labstack.client("ecs", account=account).describe_services(cluster="idle", services=["idle"])["services"][0]
    assert (live["desiredCount"], live["healthCheckGracePeriodSeconds"]) == (0, 30)
    with pytest.raises(NeedsReplacement):  # LaunchType: Update requires Conditional; UpdateService cannot change it
        of("AWS::ECS::Service").update(ctx, service, without_count, without_count | {"LaunchType": "EC2"})


@pytest.mark.slow
def test_a_vpc_deletion_waits_for_its_dependencies_and_then_names_the_one_left(labstack: LabstackProcess) -> None:
    """As CloudFormation does, a deletion EC2 refuses with DependencyViolation is tried again while the dependency
    goes (here a subnet deleted meanwhile); one that never goes fails the resource with EC2's own refusal."""
    account = new_account()
    ec2 = labstack.client("ec2", account=account)
    ctx, vpc_type = context(labstack, account, "Vpc"), of("AWS::EC2::VPC")
    freed = vpc_type.create(ctx, {"CidrBlock": "10.6.0.0/16"}).ref_value
    subnet = ec2.create_subnet(VpcId=freed, CidrBlock="10.6.1.0/24")["Subnet"]["SubnetId"]
    later = threading.Timer(1.0, lambda: ec2.delete_subnet(SubnetId=subnet))
    later.start()
    vpc_type.delete(ctx, freed, {})
    later.join()
    assert vpc_type.read(ctx, freed, {}) is None

    stuck = vpc_type.create(ctx, {"CidrBlock": "10.7.0.0/16"}).ref_value
    ec2.create_subnet(VpcId=stuck, CidrBlock="10.7.1.0/24")
    with pytest.raises(ClientError) as info:
        vpc_type.delete(ctx, stuck, {})
    assert info.value.response["Error"]["Code"] == "DependencyViolation"
