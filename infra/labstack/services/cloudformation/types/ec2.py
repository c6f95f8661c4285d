"""EC2 networking for stacks: VPC, Subnet, InternetGateway, VPCGatewayAttachment, RouteTable, Route,
SubnetRouteTableAssociation, SecurityGroup, SecurityGroupIngress and SecurityGroupEgress, made through
EC2's API on labstack (moto's EC2). Ref and Fn::GetAtt are as each type's "Return values" section of
AWS's template reference says (https://docs.aws.amazon.com/AWSCloudFormation/latest/TemplateReference/aws-resource-ec2-vpc.html
and its siblings)."""

from __future__ import annotations

from typing import Any

from labstack.services.cloudformation.convert import to_api
from labstack.services.cloudformation.resource import Context, HandlerError, NeedsReplacement, ResourceType, Result
from labstack.services.cloudformation.properties import only
from labstack.services.cloudformation.types.common import (all_tags, delete_when_free, integer, refuse,
                                                           tag_changes, unless_gone, user_tags)

DELETE_LAB_SECONDS = 15 * 60  # how long a deletion waits out a DependencyViolation (ENIs still being released)


def _tag_specifications(ctx: Context, props: dict, resource_type: str) -> list[dict]:
    return [{"ResourceType": resource_type, "Tags": all_tags(ctx, props)}]


def _retag(ctx: Context, resource_id: str, old: dict, new: dict) -> None:
    added, removed = tag_changes(old, new)
    ec2 = ctx.client("ec2")
    if removed:
        ec2.delete_tags(Resources=[resource_id], Tags=[{"Key": k} for k in removed])
    if added:
        ec2.create_tags(Resources=[resource_id], Tags=added)


def _delete(ctx: Context, call: Any, missing: tuple[str, ...], what: str) -> None:
    """A deletion that waits out a DependencyViolation, as CloudFormation waits for a VPC's network
    interfaces to be released."""
    delete_when_free(ctx, call, missing, ("DependencyViolation",), DELETE_LAB_SECONDS, what)


def _flag(value: Any) -> bool:
    return value is True or str(value).lower() == "true"


class Vpc(ResourceType):
    """AWS::EC2::VPC. Ref: the VPC id."""

    type_name = "AWS::EC2::VPC"
    UNSUPPORTED = ("Ipv4IpamPoolId", "Ipv4NetmaskLength", "VpcEncryptionControl")

    def create(self, ctx: Context, props: dict) -> Result:
        refuse(self.type_name, props, self.UNSUPPORTED)
        only(self.type_name, props, ("CidrBlock", "InstanceTenancy", "EnableDnsHostnames", "EnableDnsSupport", "Tags"))
        if not props.get("CidrBlock"):
            raise HandlerError("Property CidrBlock cannot be empty.")
        ec2 = ctx.client("ec2")
        args = to_api("ec2", "CreateVpc", props, drop=("Tags", "EnableDnsHostnames", "EnableDnsSupport"))
        vpc_id = ec2.create_vpc(**args, TagSpecifications=_tag_specifications(ctx, props, "vpc"))["Vpc"]["VpcId"]
        ctx.wait(lambda: self._vpc(ctx, vpc_id)["State"] == "available", 300, f"VPC {vpc_id}")
        self._attributes(ctx, vpc_id, {}, props)
        return self._result(ctx, vpc_id)

    @staticmethod
    def _vpc(ctx: Context, vpc_id: str) -> dict:
        return ctx.client("ec2").describe_vpcs(VpcIds=[vpc_id])["Vpcs"][0]

    @staticmethod
    def _attributes(ctx: Context, vpc_id: str, old: dict, new: dict) -> None:
        """EnableDnsSupport before EnableDnsHostnames (hostnames need DNS support), each only when it changes."""
        ec2 = ctx.client("ec2")
        for name, default in (("EnableDnsSupport", True), ("EnableDnsHostnames", False)):
            before, after = _flag(old.get(name, default)), _flag(new.get(name, default))
            if before != after or (not old and name in new):
                ec2.modify_vpc_attribute(VpcId=vpc_id, **{name: {"Value": after}})

    def _result(self, ctx: Context, vpc_id: str) -> Result:
        ec2 = ctx.client("ec2")
        vpc = self._vpc(ctx, vpc_id)
        groups = ec2.describe_security_groups(Filters=[{"Name": "vpc-id", "Values": [vpc_id]},
                                                       {"Name": "group-name", "Values": ["default"]}])["SecurityGroups"]
        acls = ec2.describe_network_acls(Filters=[{"Name": "vpc-id", "Values": [vpc_id]},
                                                  {"Name": "default", "Values": ["true"]}])["NetworkAcls"]
        return Result(vpc_id, {
            "VpcId": vpc_id, "CidrBlock": vpc["CidrBlock"],
            "CidrBlockAssociations": [a["AssociationId"] for a in vpc.get("CidrBlockAssociationSet", [])],
            "DefaultSecurityGroup": groups[0]["GroupId"] if groups else "",
            "DefaultNetworkAcl": acls[0]["NetworkAclId"] if acls else "",
            "Ipv6CidrBlocks": [a["Ipv6CidrBlock"] for a in vpc.get("Ipv6CidrBlockAssociationSet", [])],
        })

    def update(self, ctx: Context, physical_id: str, old: dict, new: dict) -> Result:
        if old.get("InstanceTenancy", "default") != new.get("InstanceTenancy", "default"):
            raise NeedsReplacement(self.type_name)  # only dedicated -> default is in place on AWS; labstack replaces
        only(self.type_name, new, ("CidrBlock", "InstanceTenancy", "EnableDnsHostnames", "EnableDnsSupport", "Tags"))
        self._attributes(ctx, physical_id, old, new)
        _retag(ctx, physical_id, old, new)
        return self._result(ctx, physical_id)

    def delete(self, ctx: Context, physical_id: str, props: dict) -> None:
        ec2 = ctx.client("ec2")
        _delete(ctx, lambda: ec2.delete_vpc(VpcId=physical_id), ("InvalidVpcID.NotFound",), f"VPC {physical_id}")

    def read(self, ctx: Context, physical_id: str, props: dict) -> dict | None:
        ec2 = ctx.client("ec2")
        vpc = unless_gone(lambda: self._vpc(ctx, physical_id), "InvalidVpcID.NotFound")
        if vpc is None:
            return None
        live: dict[str, Any] = {"CidrBlock": vpc["CidrBlock"], "InstanceTenancy": vpc.get("InstanceTenancy", "default")}
        for name in ("EnableDnsSupport", "EnableDnsHostnames"):
            live[name] = ec2.describe_vpc_attribute(VpcId=physical_id, Attribute=name[:1].lower() + name[1:])[name]["Value"]
        live["Tags"] = user_tags(vpc.get("Tags"))
        return live


class Subnet(ResourceType):
    """AWS::EC2::Subnet. Ref: the subnet id."""

    type_name = "AWS::EC2::Subnet"
    SUPPORTED = ("VpcId", "CidrBlock", "AvailabilityZone", "AvailabilityZoneId", "MapPublicIpOnLaunch", "Tags")

    def create(self, ctx: Context, props: dict) -> Result:
        only(self.type_name, props, self.SUPPORTED)
        ec2 = ctx.client("ec2")
        args = to_api("ec2", "CreateSubnet", props, drop=("Tags", "MapPublicIpOnLaunch"))
        subnet_id = ec2.create_subnet(**args, TagSpecifications=_tag_specifications(ctx, props, "subnet"))["Subnet"]["SubnetId"]
        if _flag(props.get("MapPublicIpOnLaunch", False)):
            ec2.modify_subnet_attribute(SubnetId=subnet_id, MapPublicIpOnLaunch={"Value": True})
        return self._result(ctx, subnet_id)

    @staticmethod
    def _subnet(ctx: Context, subnet_id: str) -> dict:
        return ctx.client("ec2").describe_subnets(SubnetIds=[subnet_id])["Subnets"][0]

    def _result(self, ctx: Context, subnet_id: str) -> Result:
        subnet = self._subnet(ctx, subnet_id)
        acls = ctx.client("ec2").describe_network_acls(
            Filters=[{"Name": "association.subnet-id", "Values": [subnet_id]}])["NetworkAcls"]
        association = next((a["NetworkAclAssociationId"] for acl in acls for a in acl.get("Associations", [])
                            if a.get("SubnetId") == subnet_id), "")
        return Result(subnet_id, {
            "SubnetId": subnet_id, "VpcId": subnet["VpcId"], "CidrBlock": subnet["CidrBlock"],
            "AvailabilityZone": subnet["AvailabilityZone"], "AvailabilityZoneId": subnet.get("AvailabilityZoneId", ""),
            "Ipv6CidrBlocks": [a["Ipv6CidrBlock"] for a in subnet.get("Ipv6CidrBlockAssociationSet", [])],
            "NetworkAclAssociationId": association, "OutpostArn": subnet.get("OutpostArn", ""),
        })

    def update(self, ctx: Context, physical_id: str, old: dict, new: dict) -> Result:
        only(self.type_name, new, self.SUPPORTED)
        before, after = _flag(old.get("MapPublicIpOnLaunch", False)), _flag(new.get("MapPublicIpOnLaunch", False))
        if before != after:
            ctx.client("ec2").modify_subnet_attribute(SubnetId=physical_id, MapPublicIpOnLaunch={"Value": after})
        _retag(ctx, physical_id, old, new)
        return self._result(ctx, physical_id)

    def delete(self, ctx: Context, physical_id: str, props: dict) -> None:
        ec2 = ctx.client("ec2")
        _delete(ctx, lambda: ec2.delete_subnet(SubnetId=physical_id), ("InvalidSubnetID.NotFound",),
                f"Subnet {physical_id}")

    def read(self, ctx: Context, physical_id: str, props: dict) -> dict | None:
        subnet = unless_gone(lambda: self._subnet(ctx, physical_id), "InvalidSubnetID.NotFound")
        if subnet is None:
            return None
        live = {"VpcId": subnet["VpcId"], "CidrBlock": subnet["CidrBlock"], "AvailabilityZone": subnet["AvailabilityZone"],
                "MapPublicIpOnLaunch": bool(subnet.get("MapPublicIpOnLaunch")), "Tags": user_tags(subnet.get("Tags"))}
        if "AvailabilityZoneId" in props:
            live["AvailabilityZoneId"] = subnet.get("AvailabilityZoneId")
        return live


class InternetGateway(ResourceType):
    """AWS::EC2::InternetGateway. Ref: the gateway id."""

    type_name = "AWS::EC2::InternetGateway"

    def create(self, ctx: Context, props: dict) -> Result:
        only(self.type_name, props, ("Tags",))
        gateway = ctx.client("ec2").create_internet_gateway(
            TagSpecifications=_tag_specifications(ctx, props, "internet-gateway"))["InternetGateway"]
        return Result(gateway["InternetGatewayId"], {"InternetGatewayId": gateway["InternetGatewayId"]})

    def update(self, ctx: Context, physical_id: str, old: dict, new: dict) -> Result:
        only(self.type_name, new, ("Tags",))
        _retag(ctx, physical_id, old, new)
        return Result(physical_id, {"InternetGatewayId": physical_id})

    def delete(self, ctx: Context, physical_id: str, props: dict) -> None:
        ec2 = ctx.client("ec2")
        _delete(ctx, lambda: ec2.delete_internet_gateway(InternetGatewayId=physical_id),
                ("InvalidInternetGatewayID.NotFound",), f"Internet gateway {physical_id}")

    def read(self, ctx: Context, physical_id: str, props: dict) -> dict | None:
        found = unless_gone(lambda: ctx.client("ec2").describe_internet_gateways(InternetGatewayIds=[physical_id])["InternetGateways"],
                            "InvalidInternetGatewayID.NotFound")
        if found is None:
            return None
        return {"Tags": user_tags(found[0].get("Tags"))} if found else None


class VpcGatewayAttachment(ResourceType):
    """AWS::EC2::VPCGatewayAttachment of an internet gateway. Ref: ``IGW|<vpc id>``; GetAtt AttachmentType."""

    type_name = "AWS::EC2::VPCGatewayAttachment"

    def create(self, ctx: Context, props: dict) -> Result:
        refuse(self.type_name, props, ("VpnGatewayId",))
        only(self.type_name, props, ("VpcId", "InternetGatewayId"))
        if not props.get("InternetGatewayId") or not props.get("VpcId"):
            raise HandlerError("Properties VpcId and InternetGatewayId are required")
        ctx.client("ec2").attach_internet_gateway(InternetGatewayId=props["InternetGatewayId"], VpcId=props["VpcId"])
        return self._result(props["VpcId"])

    @staticmethod
    def _result(vpc_id: str) -> Result:
        return Result(f"IGW|{vpc_id}", {"AttachmentType": "igw"})

    def update(self, ctx: Context, physical_id: str, old: dict, new: dict) -> Result:
        refuse(self.type_name, new, ("VpnGatewayId",))
        if old.get("InternetGatewayId") != new.get("InternetGatewayId"):
            self._detach(ctx, old)
            ctx.client("ec2").attach_internet_gateway(InternetGatewayId=new["InternetGatewayId"], VpcId=new["VpcId"])
        return self._result(new["VpcId"])

    @staticmethod
    def _detach(ctx: Context, props: dict) -> None:
        ec2 = ctx.client("ec2")
        _delete(ctx, lambda: ec2.detach_internet_gateway(InternetGatewayId=props["InternetGatewayId"], VpcId=props["VpcId"]),
                ("Gateway.NotAttached", "InvalidInternetGatewayID.NotFound", "InvalidVpcID.NotFound"),
                f"Internet gateway {props['InternetGatewayId']}")

    def delete(self, ctx: Context, physical_id: str, props: dict) -> None:
        self._detach(ctx, props)

    def read(self, ctx: Context, physical_id: str, props: dict) -> dict | None:
        vpc_id = physical_id.split("|", 1)[-1]
        gateways = ctx.client("ec2").describe_internet_gateways(
            Filters=[{"Name": "attachment.vpc-id", "Values": [vpc_id]}])["InternetGateways"]
        if not gateways:
            return None
        return {"VpcId": vpc_id, "InternetGatewayId": gateways[0]["InternetGatewayId"]}


class RouteTable(ResourceType):
    """AWS::EC2::RouteTable. Ref: the route table id."""

    type_name = "AWS::EC2::RouteTable"

    def create(self, ctx: Context, props: dict) -> Result:
        only(self.type_name, props, ("VpcId", "Tags"))
        table = ctx.client("ec2").create_route_table(
            VpcId=props.get("VpcId", ""), TagSpecifications=_tag_specifications(ctx, props, "route-table"))["RouteTable"]
        return Result(table["RouteTableId"], {"RouteTableId": table["RouteTableId"]})

    def update(self, ctx: Context, physical_id: str, old: dict, new: dict) -> Result:
        only(self.type_name, new, ("VpcId", "Tags"))
        _retag(ctx, physical_id, old, new)
        return Result(physical_id, {"RouteTableId": physical_id})

    def delete(self, ctx: Context, physical_id: str, props: dict) -> None:
        ec2 = ctx.client("ec2")
        _delete(ctx, lambda: ec2.delete_route_table(RouteTableId=physical_id), ("InvalidRouteTableID.NotFound",),
                f"Route table {physical_id}")

    def read(self, ctx: Context, physical_id: str, props: dict) -> dict | None:
        table = unless_gone(lambda: ctx.client("ec2").describe_route_tables(RouteTableIds=[physical_id])["RouteTables"][0],
                            "InvalidRouteTableID.NotFound")
        if table is None:
            return None
        return {"VpcId": table["VpcId"], "Tags": user_tags(table.get("Tags"))}


_ROUTE_TARGETS = ("GatewayId", "NatGatewayId", "InstanceId", "NetworkInterfaceId", "VpcPeeringConnectionId",
                  "TransitGatewayId", "EgressOnlyInternetGatewayId", "VpcEndpointId", "CarrierGatewayId",
                  "LocalGatewayId")
_ROUTE_DESTINATIONS = ("DestinationCidrBlock", "DestinationIpv6CidrBlock", "DestinationPrefixListId")


class Route(ResourceType):
    """AWS::EC2::Route. Ref: ``<route table id>|<destination>``; GetAtt CidrBlock."""

    type_name = "AWS::EC2::Route"

    @staticmethod
    def _destination(props: dict) -> str:
        given = [props[name] for name in _ROUTE_DESTINATIONS if props.get(name)]
        if len(given) != 1:
            raise HandlerError("Exactly one of DestinationCidrBlock, DestinationIpv6CidrBlock or DestinationPrefixListId "
                               "is required")
        return str(given[0])

    def create(self, ctx: Context, props: dict) -> Result:
        refuse(self.type_name, props, ("CoreNetworkArn", "OdbNetworkArn"))
        only(self.type_name, props, ("RouteTableId",) + _ROUTE_DESTINATIONS + _ROUTE_TARGETS)
        destination = self._destination(props)
        ctx.client("ec2").create_route(**to_api("ec2", "CreateRoute", props))
        return self._result(props, destination)

    @staticmethod
    def _result(props: dict, destination: str) -> Result:
        return Result(f"{props['RouteTableId']}|{destination}", {"CidrBlock": props.get("DestinationCidrBlock", "")})

    def update(self, ctx: Context, physical_id: str, old: dict, new: dict) -> Result:
        only(self.type_name, new, ("RouteTableId",) + _ROUTE_DESTINATIONS + _ROUTE_TARGETS)
        ctx.client("ec2").replace_route(**to_api("ec2", "ReplaceRoute", new))
        return self._result(new, self._destination(new))

    def delete(self, ctx: Context, physical_id: str, props: dict) -> None:
        args = {name: props[name] for name in ("RouteTableId",) + _ROUTE_DESTINATIONS if props.get(name)}
        unless_gone(lambda: ctx.client("ec2").delete_route(**args), "InvalidRoute.NotFound",
                    "InvalidRouteTableID.NotFound")

    def read(self, ctx: Context, physical_id: str, props: dict) -> dict | None:
        table = unless_gone(lambda: ctx.client("ec2").describe_route_tables(RouteTableIds=[props["RouteTableId"]])["RouteTables"][0],
                            "InvalidRouteTableID.NotFound")
        if table is None:
            return None
        destination = self._destination(props)
        for route in table.get("Routes", []):
            if destination in (route.get(name) for name in _ROUTE_DESTINATIONS):
                return {name: route[name] for name in ("RouteTableId",) + _ROUTE_DESTINATIONS + _ROUTE_TARGETS
                        if name in props and name in route} | {"RouteTableId": props["RouteTableId"]}
        return None


class SubnetRouteTableAssociation(ResourceType):
    """AWS::EC2::SubnetRouteTableAssociation. Ref: the association id; GetAtt Id."""

    type_name = "AWS::EC2::SubnetRouteTableAssociation"

    def create(self, ctx: Context, props: dict) -> Result:
        only(self.type_name, props, ("SubnetId", "RouteTableId"))
        found = ctx.client("ec2").associate_route_table(SubnetId=props.get("SubnetId", ""),
                                                        RouteTableId=props.get("RouteTableId", ""))
        return Result(found["AssociationId"], {"Id": found["AssociationId"]})

    def delete(self, ctx: Context, physical_id: str, props: dict) -> None:
        unless_gone(lambda: ctx.client("ec2").disassociate_route_table(AssociationId=physical_id),
                    "InvalidAssociationID.NotFound")

    def read(self, ctx: Context, physical_id: str, props: dict) -> dict | None:
        tables = ctx.client("ec2").describe_route_tables(
            Filters=[{"Name": "association.route-table-association-id", "Values": [physical_id]}])["RouteTables"]
        for table in tables:
            for association in table.get("Associations", []):
                if association.get("RouteTableAssociationId") == physical_id:
                    return {"SubnetId": association.get("SubnetId"), "RouteTableId": table["RouteTableId"]}
        return None


# -- security groups --------------------------------------------------------------------------------------------

_INGRESS = ("IpProtocol", "FromPort", "ToPort", "CidrIp", "CidrIpv6", "Description", "SourcePrefixListId",
            "SourceSecurityGroupId", "SourceSecurityGroupName", "SourceSecurityGroupOwnerId")
_EGRESS = ("IpProtocol", "FromPort", "ToPort", "CidrIp", "CidrIpv6", "Description", "DestinationPrefixListId",
           "DestinationSecurityGroupId")


def _rules_of(props: dict, name: str) -> list[dict]:
    """The rules a security group lists under ``name``, checked to be a list of objects."""
    rules = props.get(name) or []
    if not isinstance(rules, list) or not all(isinstance(rule, dict) for rule in rules):
        raise HandlerError(f"Value of property {name} must be of type List of Object")
    return rules


def _permission(rule: dict, egress: bool) -> dict:
    """One template rule as EC2's IpPermission."""
    for name in rule:
        if name not in (_EGRESS if egress else _INGRESS):
            raise HandlerError(f"Encountered unsupported property {name}")
    if "IpProtocol" not in rule:
        raise HandlerError("Property IpProtocol cannot be empty.")
    protocol = str(rule["IpProtocol"])
    permission: dict[str, Any] = {"IpProtocol": protocol}
    if protocol not in ("-1", "all"):
        permission["FromPort"] = integer(rule.get("FromPort", -1))
        permission["ToPort"] = integer(rule.get("ToPort", -1))
    described = {"Description": rule["Description"]} if rule.get("Description") else {}
    if rule.get("CidrIp"):
        permission["IpRanges"] = [{"CidrIp": rule["CidrIp"], **described}]
    if rule.get("CidrIpv6"):
        permission["Ipv6Ranges"] = [{"CidrIpv6": rule["CidrIpv6"], **described}]
    prefix = rule.get("DestinationPrefixListId" if egress else "SourcePrefixListId")
    if prefix:
        permission["PrefixListIds"] = [{"PrefixListId": prefix, **described}]
    group = rule.get("DestinationSecurityGroupId" if egress else "SourceSecurityGroupId")
    name = None if egress else rule.get("SourceSecurityGroupName")
    if group or name:
        pair: dict[str, Any] = {"GroupId": group} if group else {"GroupName": name}
        if rule.get("SourceSecurityGroupOwnerId") and not egress:
            pair["UserId"] = str(rule["SourceSecurityGroupOwnerId"])
        permission["UserIdGroupPairs"] = [{**pair, **described}]
    if len(permission) == 1 + (2 if "FromPort" in permission else 0):
        raise HandlerError("A rule needs one of CidrIp, CidrIpv6, a prefix list or a security group")
    return permission


def _key(rule: dict) -> tuple:
    """A rule's identity for diffs: every property, ports as numbers."""
    return tuple(sorted((k, str(integer(v)) if k in ("FromPort", "ToPort") else str(v)) for k, v in rule.items()))


def _authorize(ctx: Context, group_id: str, rules: list[dict], egress: bool) -> list[str]:
    if not rules:
        return []
    ec2 = ctx.client("ec2")
    call = ec2.authorize_security_group_egress if egress else ec2.authorize_security_group_ingress
    answer = call(GroupId=group_id, IpPermissions=[_permission(rule, egress) for rule in rules])
    return [r["SecurityGroupRuleId"] for r in answer.get("SecurityGroupRules", [])]


def _revoke(ctx: Context, group_id: str, rules: list[dict], egress: bool) -> None:
    if not rules:
        return
    ec2 = ctx.client("ec2")
    call = ec2.revoke_security_group_egress if egress else ec2.revoke_security_group_ingress
    unless_gone(lambda: call(GroupId=group_id, IpPermissions=[_permission(rule, egress) for rule in rules]), "InvalidPermission.NotFound",
                "InvalidGroup.NotFound")


_ALLOW_ALL = {"IpProtocol": "-1", "CidrIp": "0.0.0.0/0"}


class SecurityGroup(ResourceType):
    """AWS::EC2::SecurityGroup with its ingress and egress rules. Ref: the group id (in a VPC); GetAtt
    GroupId, VpcId. Rules the template lists replace EC2's default allow-all egress, as on AWS."""

    type_name = "AWS::EC2::SecurityGroup"
    SUPPORTED = ("GroupDescription", "GroupName", "VpcId", "SecurityGroupIngress", "SecurityGroupEgress", "Tags")

    def create(self, ctx: Context, props: dict) -> Result:
        only(self.type_name, props, self.SUPPORTED)
        if not props.get("GroupDescription"):
            raise HandlerError("Property GroupDescription cannot be empty.")
        ingress, egress = _rules_of(props, "SecurityGroupIngress"), _rules_of(props, "SecurityGroupEgress")
        for rule in ingress:
            _permission(rule, False)
        for rule in egress:
            _permission(rule, True)
        ec2 = ctx.client("ec2")
        args: dict[str, Any] = {"Description": props["GroupDescription"],
                                "GroupName": props.get("GroupName") or ctx.name(255),
                                "TagSpecifications": _tag_specifications(ctx, props, "security-group")}
        if props.get("VpcId"):
            args["VpcId"] = props["VpcId"]
        group_id = ec2.create_security_group(**args)["GroupId"]
        _authorize(ctx, group_id, ingress, False)
        if egress and props.get("VpcId"):
            _revoke(ctx, group_id, [_ALLOW_ALL], True)
            _authorize(ctx, group_id, egress, True)
        return self._result(ctx, group_id, props)

    @staticmethod
    def _result(ctx: Context, group_id: str, props: dict) -> Result:
        """Ref is the group's id, or its name for a group the template puts in the default VPC (no VpcId)."""
        group = ctx.client("ec2").describe_security_groups(GroupIds=[group_id])["SecurityGroups"][0]
        return Result(group_id, {"GroupId": group_id, "VpcId": group.get("VpcId", "")},
                      ref=None if props.get("VpcId") else group["GroupName"])

    def update(self, ctx: Context, physical_id: str, old: dict, new: dict) -> Result:
        only(self.type_name, new, self.SUPPORTED)
        for field, egress in (("SecurityGroupIngress", False), ("SecurityGroupEgress", True)):
            before, after = _rules_of(old, field), _rules_of(new, field)
            if egress:  # no listed egress rule means EC2's default allow-all
                before, after = before or [_ALLOW_ALL], after or [_ALLOW_ALL]
            kept = {_key(rule) for rule in after}
            had = {_key(rule) for rule in before}
            _revoke(ctx, physical_id, [rule for rule in before if _key(rule) not in kept], egress)
            _authorize(ctx, physical_id, [rule for rule in after if _key(rule) not in had], egress)
        _retag(ctx, physical_id, old, new)
        return self._result(ctx, physical_id, new)

    def delete(self, ctx: Context, physical_id: str, props: dict) -> None:
        ec2 = ctx.client("ec2")
        _delete(ctx, lambda: ec2.delete_security_group(GroupId=physical_id), ("InvalidGroup.NotFound",),
                f"Security group {physical_id}")

    def read(self, ctx: Context, physical_id: str, props: dict) -> dict | None:
        group = unless_gone(lambda: ctx.client("ec2").describe_security_groups(GroupIds=[physical_id])["SecurityGroups"][0],
                            "InvalidGroup.NotFound")
        if group is None:
            return None
        live: dict[str, Any] = {"GroupDescription": group["Description"], "Tags": user_tags(group.get("Tags"))}
        if group.get("VpcId"):
            live["VpcId"] = group["VpcId"]
        if "GroupName" in props:
            live["GroupName"] = group["GroupName"]
        live["SecurityGroupIngress"] = _rules(group.get("IpPermissions", []), False)
        egress = _rules(group.get("IpPermissionsEgress", []), True)
        if "SecurityGroupEgress" in props or egress != [_ALLOW_ALL]:
            live["SecurityGroupEgress"] = egress
        return live


def _rules(permissions: list[dict], egress: bool) -> list[dict]:
    """EC2's IpPermissions as the template's rules, one per source."""
    rules = []
    for permission in permissions:
        base: dict[str, Any] = {"IpProtocol": permission["IpProtocol"]}
        if permission["IpProtocol"] != "-1":
            base |= {"FromPort": permission.get("FromPort"), "ToPort": permission.get("ToPort")}
        sources: list[dict[str, Any]] = []
        sources += [{"CidrIp": r["CidrIp"], **_described(r)} for r in permission.get("IpRanges", [])]
        sources += [{"CidrIpv6": r["CidrIpv6"], **_described(r)} for r in permission.get("Ipv6Ranges", [])]
        prefix, group = ("DestinationPrefixListId", "DestinationSecurityGroupId") if egress else (
            "SourcePrefixListId", "SourceSecurityGroupId")
        sources += [{prefix: r["PrefixListId"], **_described(r)} for r in permission.get("PrefixListIds", [])]
        sources += [{group: r["GroupId"], **_described(r)} for r in permission.get("UserIdGroupPairs", [])]
        rules += [base | source for source in sources]
    return rules


def _described(entry: dict) -> dict:
    return {"Description": entry["Description"]} if entry.get("Description") else {}


class _Rule(ResourceType):
    """A standalone security group rule (ingress or egress). Ref: the rule id (sgr-...); GetAtt Id."""

    egress: bool = False

    def _fields(self) -> tuple[str, ...]:
        return ("GroupId",) + (_EGRESS if self.egress else _INGRESS + ("GroupName",))

    def create(self, ctx: Context, props: dict) -> Result:
        only(self.type_name, props, self._fields())
        rule = {k: v for k, v in props.items() if k not in ("GroupId", "GroupName")}
        group_id = props.get("GroupId") or self._group_named(ctx, props.get("GroupName"))
        made = _authorize(ctx, group_id, [rule], self.egress)
        if not made:
            raise HandlerError("EC2 answered no security group rule id", "GeneralServiceException")
        return Result(made[0], {"Id": made[0]})

    @staticmethod
    def _group_named(ctx: Context, name: str | None) -> str:
        if not name:
            raise HandlerError("Property GroupId cannot be empty.")
        return ctx.client("ec2").describe_security_groups(GroupNames=[name])["SecurityGroups"][0]["GroupId"]

    def update(self, ctx: Context, physical_id: str, old: dict, new: dict) -> Result:
        only(self.type_name, new, self._fields())
        ec2 = ctx.client("ec2")
        group_id = new.get("GroupId") or self._group_named(ctx, new.get("GroupName"))
        rule = {k: v for k, v in new.items() if k not in ("GroupId", "GroupName")}
        call = (ec2.update_security_group_rule_descriptions_egress if self.egress
                else ec2.update_security_group_rule_descriptions_ingress)
        call(GroupId=group_id, IpPermissions=[_permission(rule | {"Description": new.get("Description", "")}, self.egress)])
        return Result(physical_id, {"Id": physical_id})

    def delete(self, ctx: Context, physical_id: str, props: dict) -> None:
        ec2 = ctx.client("ec2")
        call = ec2.revoke_security_group_egress if self.egress else ec2.revoke_security_group_ingress
        unless_gone(lambda: call(GroupId=props.get("GroupId") or self._group_named(ctx, props.get("GroupName")),
                                 SecurityGroupRuleIds=[physical_id]),
                    "InvalidPermission.NotFound", "InvalidGroup.NotFound", "InvalidSecurityGroupRuleId.NotFound")

    def read(self, ctx: Context, physical_id: str, props: dict) -> dict | None:
        found = ctx.client("ec2").describe_security_group_rules(
            Filters=[{"Name": "security-group-rule-id", "Values": [physical_id]}])["SecurityGroupRules"]
        found = [rule for rule in found if rule["SecurityGroupRuleId"] == physical_id]
        if not found:
            return None
        rule = found[0]
        live: dict[str, Any] = {"GroupId": rule["GroupId"], "IpProtocol": rule["IpProtocol"]}
        if rule["IpProtocol"] != "-1":
            live |= {"FromPort": rule.get("FromPort"), "ToPort": rule.get("ToPort")}
        source = "Destination" if self.egress else "Source"
        for api, template in (("CidrIpv4", "CidrIp"), ("CidrIpv6", "CidrIpv6"), ("PrefixListId", f"{source}PrefixListId"),
                              ("Description", "Description")):
            if rule.get(api):
                live[template] = rule[api]
        if (rule.get("ReferencedGroupInfo") or {}).get("GroupId"):
            live[f"{source}SecurityGroupId"] = rule["ReferencedGroupInfo"]["GroupId"]
        return live


class SecurityGroupIngress(_Rule):
    """AWS::EC2::SecurityGroupIngress."""

    type_name = "AWS::EC2::SecurityGroupIngress"


class SecurityGroupEgress(_Rule):
    """AWS::EC2::SecurityGroupEgress."""

    type_name = "AWS::EC2::SecurityGroupEgress"
    egress = True


TYPES: list[ResourceType] = [Vpc(), Subnet(), InternetGateway(), VpcGatewayAttachment(), RouteTable(), Route(),
                             SubnetRouteTableAssociation(), SecurityGroup(), SecurityGroupIngress(), SecurityGroupEgress()]
