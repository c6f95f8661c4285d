"""Elastic Load Balancing v2 for stacks: LoadBalancer, TargetGroup (attributes, health checks, targets),
Listener (default actions, weighted forwards) and ListenerRule, made through ELBv2's API on labstack,
whose ELB runtime gives each listener a local port.

Ref and Fn::GetAtt as AWS's template reference says:
https://docs.aws.amazon.com/AWSCloudFormation/latest/TemplateReference/aws-resource-elasticloadbalancingv2-loadbalancer.html
(Ref: ARN; CanonicalHostedZoneID, DNSName, LoadBalancerArn, LoadBalancerFullName, LoadBalancerName, SecurityGroups),
.../aws-resource-elasticloadbalancingv2-targetgroup.html (Ref: ARN; LoadBalancerArns, TargetGroupArn,
TargetGroupFullName, TargetGroupName), .../aws-resource-elasticloadbalancingv2-listener.html (Ref: ARN;
ListenerArn), .../aws-resource-elasticloadbalancingv2-listenerrule.html (Ref: ARN; IsDefault, RuleArn).
"""

from __future__ import annotations

from typing import Any

from labstack.services.cloudformation.convert import from_api, to_api
from labstack.services.cloudformation.resource import Context, HandlerError, ResourceType, Result
from labstack.services.cloudformation.types.common import (all_tags, key_values, refuse, tag_changes,
                                                           unless_gone, user_tags)

ACTIVE_LAB_SECONDS = 10 * 60  # a new load balancer's wait for the active state


def _retag(ctx: Context, arn: str, old: dict, new: dict) -> None:
    added, removed = tag_changes(old, new)
    elb = ctx.client("elbv2")
    if removed:
        elb.remove_tags(ResourceArns=[arn], TagKeys=removed)
    if added:
        elb.add_tags(ResourceArns=[arn], Tags=added)


def _live_tags(ctx: Context, arn: str) -> list[dict]:
    found = ctx.client("elbv2").describe_tags(ResourceArns=[arn])["TagDescriptions"]
    return user_tags(found[0].get("Tags") if found else [])


def _attributes(old: dict, new: dict, name: str) -> list[dict]:
    """The ``[{Key, Value}]`` attributes ``name`` of ``new`` that ``old`` did not have with the same value."""
    before = {a["Key"]: a["Value"] for a in key_values(old, name)}
    return [a for a in key_values(new, name) if before.get(a["Key"]) != a["Value"]]


def _live_attributes(live: list[dict], props: Any) -> list[dict]:
    """The live values of the attributes the template names (ELB answers every attribute)."""
    values = {a["Key"]: a["Value"] for a in live}
    return [{"Key": a["Key"], "Value": values.get(a["Key"])} for a in props or []]


def _changed(old: dict, new: dict, names: tuple[str, ...]) -> dict:
    return {k: new[k] for k in names if k in new and old.get(k) != new[k]}


class LoadBalancer(ResourceType):
    """AWS::ElasticLoadBalancingV2::LoadBalancer."""

    type_name = "AWS::ElasticLoadBalancingV2::LoadBalancer"
    UNSUPPORTED = ("EnableCapacityReservationProvisionStabilize", "MinimumLoadBalancerCapacity", "Ipv4IpamPoolId",
                   "EnforceSecurityGroupInboundRulesOnPrivateLinkTraffic")

    def create(self, ctx: Context, props: dict) -> Result:
        refuse(self.type_name, props, self.UNSUPPORTED)
        name = props.get("Name") or ctx.name(32)
        args = to_api("elbv2", "CreateLoadBalancer", props | {"Name": name}, drop=("Tags", "LoadBalancerAttributes"))
        changed = _attributes({}, props, "LoadBalancerAttributes")  # checked before anything is made
        elb = ctx.client("elbv2")
        arn = elb.create_load_balancer(**args, Tags=all_tags(ctx, props))["LoadBalancers"][0]["LoadBalancerArn"]
        if changed:
            elb.modify_load_balancer_attributes(LoadBalancerArn=arn, Attributes=changed)
        ctx.wait(lambda: self._balancer(ctx, arn)["State"]["Code"] == "active", ACTIVE_LAB_SECONDS,
                 f"Load balancer {name}")
        return self._result(ctx, arn)

    @staticmethod
    def _balancer(ctx: Context, arn: str) -> dict:
        return ctx.client("elbv2").describe_load_balancers(LoadBalancerArns=[arn])["LoadBalancers"][0]

    def _result(self, ctx: Context, arn: str) -> Result:
        balancer = self._balancer(ctx, arn)
        return Result(arn, {
            "LoadBalancerArn": arn, "LoadBalancerName": balancer["LoadBalancerName"],
            "LoadBalancerFullName": arn.split(":loadbalancer/", 1)[1], "DNSName": balancer["DNSName"],
            "CanonicalHostedZoneID": balancer.get("CanonicalHostedZoneId", ""),
            "SecurityGroups": balancer.get("SecurityGroups", []),
        })

    def update(self, ctx: Context, physical_id: str, old: dict, new: dict) -> Result:
        refuse(self.type_name, new, self.UNSUPPORTED)
        elb = ctx.client("elbv2")
        if old.get("SecurityGroups") != new.get("SecurityGroups"):
            elb.set_security_groups(LoadBalancerArn=physical_id, SecurityGroups=new.get("SecurityGroups") or [])
        if old.get("Subnets") != new.get("Subnets") or old.get("SubnetMappings") != new.get("SubnetMappings"):
            elb.set_subnets(LoadBalancerArn=physical_id,
                            **to_api("elbv2", "SetSubnets", _changed({}, new, ("Subnets", "SubnetMappings"))))
        if old.get("IpAddressType") != new.get("IpAddressType") and new.get("IpAddressType"):
            elb.set_ip_address_type(LoadBalancerArn=physical_id, IpAddressType=new["IpAddressType"])
        changed = _attributes(old, new, "LoadBalancerAttributes")
        if changed:
            elb.modify_load_balancer_attributes(LoadBalancerArn=physical_id, Attributes=changed)
        _retag(ctx, physical_id, old, new)
        return self._result(ctx, physical_id)

    def delete(self, ctx: Context, physical_id: str, props: dict) -> None:
        elb = ctx.client("elbv2")
        unless_gone(lambda: elb.delete_load_balancer(LoadBalancerArn=physical_id), "LoadBalancerNotFound")

    def read(self, ctx: Context, physical_id: str, props: dict) -> dict | None:
        elb = ctx.client("elbv2")
        balancer = unless_gone(lambda: self._balancer(ctx, physical_id), "LoadBalancerNotFound")
        if balancer is None:
            return None
        like = {k: v for k, v in props.items() if k not in ("Tags", "LoadBalancerAttributes", "Subnets", "Name")}
        live = from_api("elbv2", "LoadBalancer", balancer, like)
        if "Name" in props:
            live["Name"] = balancer["LoadBalancerName"]
        if "Subnets" in props:
            live["Subnets"] = [zone["SubnetId"] for zone in balancer.get("AvailabilityZones", [])]
        if "LoadBalancerAttributes" in props:
            attributes = elb.describe_load_balancer_attributes(LoadBalancerArn=physical_id)["Attributes"]
            live["LoadBalancerAttributes"] = _live_attributes(attributes, props["LoadBalancerAttributes"])
        live["Tags"] = _live_tags(ctx, physical_id)
        return live


_HEALTH = ("HealthCheckProtocol", "HealthCheckPort", "HealthCheckPath", "HealthCheckEnabled",
           "HealthCheckIntervalSeconds", "HealthCheckTimeoutSeconds", "HealthyThresholdCount",
           "UnhealthyThresholdCount", "Matcher")


def _targets(items: Any) -> list[dict]:
    return to_api("elbv2", "RegisterTargets", {"TargetGroupArn": "-", "Targets": items or []})["Targets"]


class TargetGroup(ResourceType):
    """AWS::ElasticLoadBalancingV2::TargetGroup."""

    type_name = "AWS::ElasticLoadBalancingV2::TargetGroup"
    UNSUPPORTED = ("TargetControlPort",)

    def create(self, ctx: Context, props: dict) -> Result:
        refuse(self.type_name, props, self.UNSUPPORTED)
        name = props.get("Name") or ctx.name(32)
        args = to_api("elbv2", "CreateTargetGroup", props | {"Name": name},
                      drop=("Tags", "TargetGroupAttributes", "Targets"))
        changed = _attributes({}, props, "TargetGroupAttributes")
        targets = _targets(props.get("Targets"))
        elb = ctx.client("elbv2")
        arn = elb.create_target_group(**args, Tags=all_tags(ctx, props))["TargetGroups"][0]["TargetGroupArn"]
        if changed:
            elb.modify_target_group_attributes(TargetGroupArn=arn, Attributes=changed)
        if targets:
            elb.register_targets(TargetGroupArn=arn, Targets=targets)
        return self._result(ctx, arn)

    @staticmethod
    def _group(ctx: Context, arn: str) -> dict:
        return ctx.client("elbv2").describe_target_groups(TargetGroupArns=[arn])["TargetGroups"][0]

    def _result(self, ctx: Context, arn: str) -> Result:
        group = self._group(ctx, arn)
        return Result(arn, {
            "TargetGroupArn": arn, "TargetGroupName": group["TargetGroupName"],
            "TargetGroupFullName": arn.split(":", 5)[5], "LoadBalancerArns": list(group.get("LoadBalancerArns", [])),
        })

    def update(self, ctx: Context, physical_id: str, old: dict, new: dict) -> Result:
        refuse(self.type_name, new, self.UNSUPPORTED)
        elb = ctx.client("elbv2")
        health = _changed(old, new, _HEALTH)
        if health:
            elb.modify_target_group(TargetGroupArn=physical_id, **to_api("elbv2", "ModifyTargetGroup", health))
        changed = _attributes(old, new, "TargetGroupAttributes")
        if changed:
            elb.modify_target_group_attributes(TargetGroupArn=physical_id, Attributes=changed)
        before, after = _targets(old.get("Targets")), _targets(new.get("Targets"))
        removed = [t for t in before if t not in after]
        added = [t for t in after if t not in before]
        if removed:
            elb.deregister_targets(TargetGroupArn=physical_id, Targets=removed)
        if added:
            elb.register_targets(TargetGroupArn=physical_id, Targets=added)
        _retag(ctx, physical_id, old, new)
        return self._result(ctx, physical_id)

    def delete(self, ctx: Context, physical_id: str, props: dict) -> None:
        unless_gone(lambda: ctx.client("elbv2").delete_target_group(TargetGroupArn=physical_id), "TargetGroupNotFound")

    def read(self, ctx: Context, physical_id: str, props: dict) -> dict | None:
        elb = ctx.client("elbv2")
        group = unless_gone(lambda: self._group(ctx, physical_id), "TargetGroupNotFound")
        if group is None:
            return None
        like = {k: v for k, v in props.items() if k not in ("Tags", "TargetGroupAttributes", "Targets", "Name")}
        live = from_api("elbv2", "TargetGroup", group, like)
        if "Name" in props:
            live["Name"] = group["TargetGroupName"]
        if "TargetGroupAttributes" in props:
            attributes = elb.describe_target_group_attributes(TargetGroupArn=physical_id)["Attributes"]
            live["TargetGroupAttributes"] = _live_attributes(attributes, props["TargetGroupAttributes"])
        if "Targets" in props:
            health = elb.describe_target_health(TargetGroupArn=physical_id)["TargetHealthDescriptions"]
            live["Targets"] = from_api("elbv2", "TargetDescriptions", [h["Target"] for h in health], props["Targets"])
        live["Tags"] = _live_tags(ctx, physical_id)
        return live


_LISTENER_MODIFIABLE = ("Port", "Protocol", "SslPolicy", "Certificates", "DefaultActions", "AlpnPolicy",
                        "MutualAuthentication")


class Listener(ResourceType):
    """AWS::ElasticLoadBalancingV2::Listener."""

    type_name = "AWS::ElasticLoadBalancingV2::Listener"

    def create(self, ctx: Context, props: dict) -> Result:
        if not props.get("DefaultActions"):
            raise HandlerError("Property DefaultActions cannot be empty.")
        changed = _attributes({}, props, "ListenerAttributes")
        elb = ctx.client("elbv2")
        args = to_api("elbv2", "CreateListener", props, drop=("ListenerAttributes",))
        arn = elb.create_listener(**args)["Listeners"][0]["ListenerArn"]
        if changed:
            elb.modify_listener_attributes(ListenerArn=arn, Attributes=changed)
        return Result(arn, {"ListenerArn": arn})

    def update(self, ctx: Context, physical_id: str, old: dict, new: dict) -> Result:
        elb = ctx.client("elbv2")
        changed = _changed(old, new, _LISTENER_MODIFIABLE)
        if changed:
            elb.modify_listener(ListenerArn=physical_id, **to_api("elbv2", "ModifyListener", changed))
        attributes = _attributes(old, new, "ListenerAttributes")
        if attributes:
            elb.modify_listener_attributes(ListenerArn=physical_id, Attributes=attributes)
        _retag(ctx, physical_id, old, new)
        return Result(physical_id, {"ListenerArn": physical_id})

    def delete(self, ctx: Context, physical_id: str, props: dict) -> None:
        unless_gone(lambda: ctx.client("elbv2").delete_listener(ListenerArn=physical_id), "ListenerNotFound",
                    "LoadBalancerNotFound")

    def read(self, ctx: Context, physical_id: str, props: dict) -> dict | None:
        listener = unless_gone(lambda: ctx.client("elbv2").describe_listeners(ListenerArns=[physical_id])["Listeners"][0],
                               "ListenerNotFound")
        if listener is None:
            return None
        like = {k: v for k, v in props.items() if k not in ("Tags", "ListenerAttributes")}
        return from_api("elbv2", "Listener", listener, like)


class ListenerRule(ResourceType):
    """AWS::ElasticLoadBalancingV2::ListenerRule."""

    type_name = "AWS::ElasticLoadBalancingV2::ListenerRule"

    def create(self, ctx: Context, props: dict) -> Result:
        rule = ctx.client("elbv2").create_rule(**to_api("elbv2", "CreateRule", props))["Rules"][0]
        return self._result(rule)

    @staticmethod
    def _result(rule: dict) -> Result:
        return Result(rule["RuleArn"], {"RuleArn": rule["RuleArn"], "IsDefault": bool(rule.get("IsDefault"))})

    def update(self, ctx: Context, physical_id: str, old: dict, new: dict) -> Result:
        elb = ctx.client("elbv2")
        changed = _changed(old, new, ("Conditions", "Actions", "Transforms"))
        if changed:
            elb.modify_rule(RuleArn=physical_id, **to_api("elbv2", "ModifyRule", changed))
        if str(old.get("Priority")) != str(new.get("Priority")):
            elb.set_rule_priorities(RulePriorities=[{"RuleArn": physical_id, "Priority": int(new["Priority"])}])
        _retag(ctx, physical_id, old, new)
        return self._result(elb.describe_rules(RuleArns=[physical_id])["Rules"][0])

    def delete(self, ctx: Context, physical_id: str, props: dict) -> None:
        unless_gone(lambda: ctx.client("elbv2").delete_rule(RuleArn=physical_id), "RuleNotFound", "ListenerNotFound")

    def read(self, ctx: Context, physical_id: str, props: dict) -> dict | None:
        rule = unless_gone(lambda: ctx.client("elbv2").describe_rules(RuleArns=[physical_id])["Rules"][0],
                           "RuleNotFound")
        if rule is None:
            return None
        like = {k: v for k, v in props.items() if k not in ("Tags", "ListenerArn")}
        live = from_api("elbv2", "Rule", rule, like)
        if "ListenerArn" in props:
            live["ListenerArn"] = props["ListenerArn"]
        return live


TYPES: list[ResourceType] = [LoadBalancer(), TargetGroup(), Listener(), ListenerRule()]
