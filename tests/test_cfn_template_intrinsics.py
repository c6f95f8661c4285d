"""CloudFormation's intrinsic functions and pseudo parameters, on the examples of AWS's reference pages (pure)."""

from __future__ import annotations

import json

import pytest

from labstack.services.cloudformation.conditions import evaluate_conditions
from labstack.services.cloudformation.intrinsics import NO_VALUE, Scope, evaluate, pseudo_parameters
from labstack.services.cloudformation.template import TemplateError, load

STACK_ID = "arn:aws:cloudformation:us-east-1:123456789012:stack/teststack/51af3dc0-da77-11e4-872e-1234567db123"


def _scope(text: str = "Resources: {A: {Type: AWS::SNS::Topic}}", parameters: dict | None = None,
           region: str = "us-east-1", **callbacks) -> Scope:
    document = load(text)
    scope = Scope(document, parameters or {}, pseudo_parameters("123456789012", region, "teststack", STACK_ID,
                                                                ["arn:aws:sns:us-east-1:123456789012:MyTopic"]),
                  **callbacks)
    evaluate_conditions(document, scope)
    return scope


def _eval(value: str, scope: Scope | None = None):
    """Evaluate one YAML value (short forms allowed) in ``scope``."""
    scope = scope or _scope()
    document = load("Resources: {A: {Type: AWS::SNS::Topic}}\nMetadata:\n  V: " + value + "\n")
    return evaluate(document["Metadata"]["V"], scope)


def test_pseudo_parameters() -> None:
    """https://docs.aws.amazon.com/AWSCloudFormation/latest/TemplateReference/pseudo-parameter-reference.html:
    AWS::AccountId, AWS::NotificationARNs, AWS::NoValue, AWS::Partition, AWS::Region, AWS::StackId,
    AWS::StackName, AWS::URLSuffix."""
    scope = _scope()
    assert _eval("!Ref AWS::AccountId", scope) == "123456789012"
    assert _eval("!Ref AWS::Region", scope) == "us-east-1"
    assert _eval("!Ref AWS::StackName", scope) == "teststack"
    assert _eval("!Ref AWS::StackId", scope) == STACK_ID
    assert _eval("!Ref AWS::Partition", scope) == "aws"
    assert _eval("!Ref AWS::URLSuffix", scope) == "amazonaws.com"
    assert _eval("!Ref AWS::NotificationARNs", scope) == ["arn:aws:sns:us-east-1:123456789012:MyTopic"]
    assert _eval("!Ref AWS::NoValue", scope) is NO_VALUE
    china = _scope(region="cn-north-1")
    assert (_eval("!Ref AWS::Partition", china), _eval("!Ref AWS::URLSuffix", china)) == ("aws-cn",
                                                                                          "amazonaws.com.cn")
    assert _eval("!Ref AWS::Partition", _scope(region="us-gov-west-1")) == "aws-us-gov"


def test_no_value_removes_the_property_and_the_list_item() -> None:
    """https://docs.aws.amazon.com/AWSCloudFormation/latest/TemplateReference/pseudo-parameter-reference.html
    (AWS::NoValue) and the Fn::If page's example: ``DBSnapshotIdentifier: !If [UseDBSnapshot, !Ref
    DBSnapshotName, !Ref AWS::NoValue]`` removes the property when the condition is false."""
    scope = _scope("""
Parameters:
  DBSnapshotName: {Type: String, Default: ''}
Conditions:
  UseDBSnapshot: !Not [!Equals [!Ref DBSnapshotName, '']]
Resources: {A: {Type: AWS::SNS::Topic}}
""", {"DBSnapshotName": ""})
    value = _eval("{Engine: MySQL, DBSnapshotIdentifier: !If [UseDBSnapshot, !Ref DBSnapshotName, "
                  "!Ref AWS::NoValue], List: [a, !Ref AWS::NoValue, b]}", scope)
    assert value == {"Engine": "MySQL", "List": ["a", "b"]}
    scope.parameters["DBSnapshotName"] = "snap"
    scope.conditions.clear()
    evaluate_conditions(scope.template, scope)
    assert _eval("!If [UseDBSnapshot, !Ref DBSnapshotName, !Ref AWS::NoValue]", scope) == "snap"


def test_sub_both_forms_and_the_literal_escape() -> None:
    """https://docs.aws.amazon.com/AWSCloudFormation/latest/TemplateReference/intrinsic-function-reference-sub.html:
    ``!Sub ['www.${Domain}', {Domain: !Ref RootDomainName}]``; ``${AWS::Partition}`` etc. in the string form;
    ``${MyInstance.PublicIp}`` is Fn::GetAtt; ``${!Literal}`` is written as ``${Literal}``."""
    scope = _scope("""
Parameters:
  RootDomainName: {Type: String}
  vpc: {Type: String}
Resources:
  MyInstance: {Type: AWS::EC2::Instance}
""", {"RootDomainName": "example.com", "vpc": "vpc-1"},
        ref=lambda name: f"i-{name}", get_att=lambda name, attribute: f"{name}:{attribute}")
    assert _eval("!Sub ['www.${Domain}', {Domain: !Ref RootDomainName}]", scope) == "www.example.com"
    assert _eval("!Sub 'arn:${AWS::Partition}:ec2:${AWS::Region}:${AWS::AccountId}:vpc/${vpc}'", scope) == \
        "arn:aws:ec2:us-east-1:123456789012:vpc/vpc-1"
    assert _eval("!Sub 'ip=${MyInstance.PublicIp} id=${MyInstance}'", scope) == "ip=MyInstance:PublicIp id=i-MyInstance"
    assert _eval("!Sub 'echo ${!Literal} ${AWS::StackName}'", scope) == "echo ${Literal} teststack"
    with pytest.raises(TemplateError) as caught:
        _eval("!Sub '${Nowhere}'", scope)
    assert caught.value.message == ("Template format error: Unresolved resource dependencies [Nowhere] in the "
                                    "Resources block of the template")


def test_join_select_split() -> None:
    """https://docs.aws.amazon.com/AWSCloudFormation/latest/TemplateReference/intrinsic-function-reference-join.html
    (``!Join [':', [a, b, c]]`` is ``a:b:c``),
    https://docs.aws.amazon.com/AWSCloudFormation/latest/TemplateReference/intrinsic-function-reference-select.html
    (``!Select ['1', [apples, grapes, oranges, mangoes]]`` is ``grapes``),
    https://docs.aws.amazon.com/AWSCloudFormation/latest/TemplateReference/intrinsic-function-reference-split.html
    (``!Split ['|', 'a|b|c']`` and ``'a||c|'`` keep the empty strings)."""
    assert _eval("!Join [':', [a, b, c]]") == "a:b:c"
    assert _eval("!Join ['', ['arn:', !Ref AWS::Partition, ':s3:::elasticbeanstalk-*-', !Ref AWS::AccountId]]") == \
        "arn:aws:s3:::elasticbeanstalk-*-123456789012"
    assert _eval("!Select ['1', [apples, grapes, oranges, mangoes]]") == "grapes"
    assert _eval("!Split ['|', 'a|b|c']") == ["a", "b", "c"]
    assert _eval("!Split ['|', 'a||c|']") == ["a", "", "c", ""]
    scope = _scope(import_value=lambda name: {"AccountSubnetIDs": "s-1,s-2,s-3"}[name])
    assert _eval("!Select [2, !Split [',', !ImportValue AccountSubnetIDs]]", scope) == "s-3"
    with pytest.raises(TemplateError) as caught:
        _eval("!Select [4, [a, b]]")
    assert caught.value.message == "Template error: Fn::Select cannot select nonexistent value at index 4"
    with pytest.raises(TemplateError) as caught:
        _eval("!Join [',', a]")
    assert caught.value.message.startswith("Template error: every Fn::Join object requires two parameters")


def test_find_in_map_with_and_without_default() -> None:
    """https://docs.aws.amazon.com/AWSCloudFormation/latest/TemplateReference/intrinsic-function-reference-findinmap.html:
    the RegionMap example, and DefaultValue (AWS::LanguageExtensions) when a key is missing."""
    scope = _scope("""
Transform: AWS::LanguageExtensions
Mappings:
  RegionMap:
    us-east-1: {HVM64: ami-0ff8a91507f77f867, HVMG2: ami-0a584ac55a7631c0c}
    us-west-1: {HVM64: ami-0bdb828fd58c52235, HVMG2: ami-066ee5fd4a9ef77f1}
Resources: {A: {Type: AWS::SNS::Topic}}
""")
    assert _eval("!FindInMap [RegionMap, !Ref 'AWS::Region', HVM64]", scope) == "ami-0ff8a91507f77f867"
    assert _eval("!FindInMap [RegionMap, eu-west-9, HVM64, {DefaultValue: ami-default}]", scope) == "ami-default"
    with pytest.raises(TemplateError) as caught:
        _eval("!FindInMap [RegionMap, eu-west-9, HVM64]", scope)
    assert caught.value.message == "Template error: Unable to get mapping for RegionMap::eu-west-9::HVM64"
    without = _scope("Mappings: {M: {a: {b: c}}}\nResources: {A: {Type: AWS::SNS::Topic}}")
    assert _eval("!FindInMap [M, a, b]", without) == "c"
    with pytest.raises(TemplateError) as caught:
        _eval("!FindInMap [M, x, b, {DefaultValue: d}]", without)
    assert "needs the AWS::LanguageExtensions transform" in caught.value.message


def test_get_att_both_forms_and_undefined_resources() -> None:
    """https://docs.aws.amazon.com/AWSCloudFormation/latest/TemplateReference/intrinsic-function-reference-getatt.html:
    ``!GetAtt myELB.DNSName`` and the list form; the attribute name may be a Ref."""
    seen = []
    scope = _scope("""
Parameters:
  Attr: {Type: String}
Resources:
  myELB: {Type: AWS::ElasticLoadBalancing::LoadBalancer}
""", {"Attr": "DNSName"}, get_att=lambda name, attribute: seen.append((name, attribute)) or "elb.example")
    assert _eval("!GetAtt myELB.DNSName", scope) == "elb.example"
    assert _eval("{'Fn::GetAtt': [myELB, !Ref Attr]}", scope) == "elb.example"
    assert seen == [("myELB", "DNSName"), ("myELB", "DNSName")]
    with pytest.raises(TemplateError) as caught:
        _eval("!GetAtt Nothing.Arn", scope)
    assert caught.value.message == "Template error: instance of Fn::GetAtt references undefined resource Nothing"


def test_base64_cidr_getazs_length_tojsonstring() -> None:
    """https://docs.aws.amazon.com/AWSCloudFormation/latest/TemplateReference/intrinsic-function-reference-base64.html
    (``!Base64 AWS CloudFormation`` is ``QVdTIENsb3VkRm9ybWF0aW9u``),
    https://docs.aws.amazon.com/AWSCloudFormation/latest/TemplateReference/intrinsic-function-reference-cidr.html
    (``!Cidr ['192.168.0.0/24', 6, 5]`` is six /27s),
    https://docs.aws.amazon.com/AWSCloudFormation/latest/TemplateReference/intrinsic-function-reference-getavailabilityzones.html
    (``!GetAZs ''`` is the stack's region's zones),
    https://docs.aws.amazon.com/AWSCloudFormation/latest/TemplateReference/intrinsic-function-reference-length.html and
    https://docs.aws.amazon.com/AWSCloudFormation/latest/TemplateReference/intrinsic-function-reference-ToJsonString.html
    (both need the AWS::LanguageExtensions transform)."""
    assert _eval("!Base64 AWS CloudFormation") == "QVdTIENsb3VkRm9ybWF0aW9u"
    assert _eval("!Cidr ['192.168.0.0/24', 6, 5]") == [
        "192.168.0.0/27", "192.168.0.32/27", "192.168.0.64/27", "192.168.0.96/27", "192.168.0.128/27",
        "192.168.0.160/27"]
    assert _eval("{'Fn::Cidr': ['192.168.0.0/24', '6', '5']}") == _eval("!Cidr ['192.168.0.0/24', 6, 5]")
    assert _eval("!Cidr ['2001:db8::/56', 2, 64]") == ["2001:db8::/64", "2001:db8:0:1::/64"]
    with pytest.raises(TemplateError):
        _eval("!Cidr ['192.168.0.0/24', 9, 5]")  # only eight /27s fit in a /24
    zones = _scope(azs=lambda region: [f"{region}a", f"{region}b"])
    assert _eval("!GetAZs ''", zones) == ["us-east-1a", "us-east-1b"]
    assert _eval("!Select [0, !GetAZs {Ref: 'AWS::Region'}]", zones) == "us-east-1a"
    assert _eval("!GetAZs eu-west-1", zones) == ["eu-west-1a", "eu-west-1b"]
    extended = _scope("Transform: AWS::LanguageExtensions\nResources: {A: {Type: AWS::SNS::Topic}}")
    assert _eval("{'Fn::Length': [a, b, c]}", extended) == 3
    assert json.loads(_eval("{'Fn::ToJsonString': {key: value, list: [1, 2]}}", extended)) == {
        "key": "value", "list": [1, 2]}
    for function in ("{'Fn::Length': [a]}", "{'Fn::ToJsonString': {a: b}}"):
        with pytest.raises(TemplateError) as caught:
            _eval(function)
        assert "needs the AWS::LanguageExtensions transform" in caught.value.message


def test_condition_functions() -> None:
    """https://docs.aws.amazon.com/AWSCloudFormation/latest/TemplateReference/intrinsic-function-reference-conditions.html:
    Fn::And, Fn::Equals, Fn::If, Fn::Not, Fn::Or and Condition, on the page's examples."""
    document = """
Parameters:
  EnvironmentType: {Type: String}
  EnvType: {Type: String}
Conditions:
  IsProduction: !Equals [!Ref EnvironmentType, prod]
  MyNotCondition: !Not [!Equals [!Ref EnvType, prod]]
  SomeOtherCondition: !Equals [!Ref EnvType, test]
  MyAndCondition: !And [!Equals [sg-mysggroup, sg-mysggroup], !Condition SomeOtherCondition]
  MyOrCondition: !Or [!Equals [sg-mysggroup, sg-mysggroup], !Condition SomeOtherCondition]
Resources: {A: {Type: AWS::SNS::Topic}}
"""
    scope = _scope(document, {"EnvironmentType": "prod", "EnvType": "dev"})
    assert scope.conditions == {"IsProduction": True, "MyNotCondition": True, "SomeOtherCondition": False,
                                "MyAndCondition": False, "MyOrCondition": True}
    assert _eval("!If [IsProduction, m5.large, t3.micro]", scope) == "m5.large"
    with pytest.raises(TemplateError) as caught:
        _eval("!If [Unknown, a, b]", scope)
    assert caught.value.message == "Template error: unresolved condition dependency Unknown in Fn::If"


def test_conditions_cannot_reference_resources_or_loop() -> None:
    """https://docs.aws.amazon.com/AWSCloudFormation/latest/TemplateReference/conditions-section-structure.html:
    conditions use parameters, pseudo parameters and other conditions, never resources."""
    with pytest.raises(TemplateError) as caught:
        _scope("Conditions: {C: !Equals [!Ref A, x]}\nResources: {A: {Type: AWS::SNS::Topic}}")
    assert caught.value.message == ("Template format error: Unresolved dependencies [A]. Cannot reference "
                                    "resources in the Conditions block of the template")
    with pytest.raises(TemplateError) as caught:
        _scope("Conditions: {C: !Condition D, D: !Not [!Condition C]}\nResources: {A: {Type: AWS::SNS::Topic}}")
    assert caught.value.message == "Template error: Circular dependency between conditions: [C, D]"
    with pytest.raises(TemplateError) as caught:
        _scope("Conditions: {C: !Condition D}\nResources: {A: {Type: AWS::SNS::Topic}}")
    assert "Unresolved condition dependencies [D]" in caught.value.message


def test_resource_refs_go_through_the_engines_callback() -> None:
    """Ref to a resource is the engine's answer (the type's documented Ref value); with no callback the function
    fails clearly instead of inventing a value."""
    scope = _scope(ref=lambda name: f"physical-{name}")
    assert _eval("!Ref A", scope) == "physical-A"
    with pytest.raises(TemplateError) as caught:
        _eval("!Ref A")
    assert "cannot be evaluated here" in caught.value.message


def test_text_amplification_is_refused_before_it_exhausts_memory() -> None:
    """A few hundred bytes of template can describe gigabytes: Fn::Join of Fn::Split of a long run of commas, its
    result the next join's items. labstack charges every text function's output to one budget per stack operation
    and refuses the template past it, as a template error."""
    gadget = "!Join ['" + "x" * 1000 + "', !Split [',', '" + "," * 20_000 + "']]"  # 20,001 items, 1 KB between
    scope = _scope()
    with pytest.raises(TemplateError) as caught:
        _eval(gadget, scope)
    assert caught.value.message.startswith("Template error: Fn::Join makes more text than labstack evaluates")
    assert len(_eval("!Join ['-', [a, b, !Sub '${AWS::Region}']]", _scope())) == len("a-b-us-east-1")
