"""A template's Parameters: types, constraints with CloudFormation's messages, NoEcho, Default, UsePreviousValue
and the Systems Manager types (pure).

AWS's page for all of these:
https://docs.aws.amazon.com/AWSCloudFormation/latest/TemplateReference/parameters-section-structure.html
"""

from __future__ import annotations

import pytest

from labstack.services.cloudformation import parameters
from labstack.services.cloudformation.template import TemplateError, load


def _declared(text: str) -> dict:
    return load(text + "\nResources: {A: {Type: AWS::SNS::Topic}}")["Parameters"]


def _given(**values: str) -> list[dict]:
    return [{"ParameterKey": key, "ParameterValue": value} for key, value in values.items()]


def _refused(declared: dict, given: list[dict], message: str, **kwargs) -> None:
    with pytest.raises(TemplateError) as caught:
        parameters.resolve(declared, given, **kwargs)
    assert caught.value.code == "ValidationError"
    assert caught.value.message == message, caught.value.message


def test_types_and_what_ref_returns() -> None:
    """Ref of a Number is its text; CommaDelimitedList and List<Number> are lists (members space-trimmed);
    an AWS-specific list type is a list of ids."""
    declared = _declared("""
Parameters:
  Name: {Type: String}
  Size: {Type: Number}
  Sizes: {Type: 'List<Number>'}
  Zones: {Type: CommaDelimitedList}
  Subnets: {Type: 'List<AWS::EC2::Subnet::Id>'}
  Vpc: {Type: 'AWS::EC2::VPC::Id'}
""")
    resolved = parameters.resolve(declared, _given(Name="web", Size="10", Sizes="1,2, 3", Zones="a, b ,c",
                                                   Subnets="subnet-1,subnet-2", Vpc="vpc-1"))
    assert parameters.ref_values(resolved) == {
        "Name": "web", "Size": "10", "Sizes": ["1", "2", "3"], "Zones": ["a", "b", "c"],
        "Subnets": ["subnet-1", "subnet-2"], "Vpc": "vpc-1"}


def test_missing_and_unknown_parameters() -> None:
    """A parameter with no Default needs a value; a value for an undeclared parameter is refused."""
    declared = _declared("Parameters: {A: {Type: String}, B: {Type: String}, C: {Type: String, Default: c}}")
    _refused(declared, _given(B="b"), "Parameters: [A] must have values")
    _refused(declared, [], "Parameters: [A, B] must have values")
    _refused(declared, _given(A="a", B="b", Extra="x"), "Parameters: [Extra] do not exist in the template")
    assert parameters.ref_values(parameters.resolve(declared, _given(A="a", B="b")))["C"] == "c"


def test_allowed_values_and_pattern() -> None:
    """AllowedValues and AllowedPattern (the pattern matches the whole value); a ConstraintDescription words the
    failure."""
    declared = _declared("""
Parameters:
  Env: {Type: String, AllowedValues: [dev, prod]}
  Name: {Type: String, AllowedPattern: '[a-z]+'}
  Key: {Type: String, AllowedPattern: '[A-Za-z0-9]+', ConstraintDescription: must only contain letters and numbers}
  Default: {Type: String, Default: ok}
""")
    good = dict(Env="dev", Name="abc", Key="Abc1")
    assert parameters.resolve(declared, _given(**good))
    _refused(declared, _given(**{**good, "Env": "test"}), "Parameter 'Env' must be one of AllowedValues")
    _refused(declared, _given(**{**good, "Name": "abc1"}), "Parameter 'Name' must match pattern [a-z]+")
    _refused(declared, _given(**{**good, "Key": "a-b"}),
             "Parameter 'Key' failed to satisfy constraint: must only contain letters and numbers")


def test_a_catastrophic_allowed_pattern_is_stopped_not_left_to_hang() -> None:
    """A hostile AllowedPattern that backtracks exponentially (``(a|a)*`` on a long non-matching value) is stopped
    after labstack's time limit and the value refused with a message saying so."""
    declared = _declared("Parameters: {Name: {Type: String, AllowedPattern: '(a|a)*'}}")
    assert parameters.resolve(declared, _given(Name="aaaa"))
    with pytest.raises(TemplateError) as caught:
        parameters.resolve(declared, _given(Name="a" * 60 + "b"))
    assert caught.value.message.startswith("Parameter 'Name' could not be matched against AllowedPattern (a|a)*")


def test_lengths_and_numeric_bounds() -> None:
    """MinLength/MaxLength for String, MinValue/MaxValue for Number (each member of a List<Number>)."""
    declared = _declared("""
Parameters:
  Name: {Type: String, MinLength: 3, MaxLength: 8}
  Count: {Type: Number, MinValue: 1, MaxValue: 10}
  Ports: {Type: 'List<Number>', MaxValue: 65535}
""")
    good = dict(Name="abcd", Count="5", Ports="80,443")
    assert parameters.resolve(declared, _given(**good))
    _refused(declared, _given(**{**good, "Name": "ab"}), "Parameter 'Name' must contain at least 3 characters")
    _refused(declared, _given(**{**good, "Name": "abcdefghi"}), "Parameter 'Name' must contain at most 8 characters")
    _refused(declared, _given(**{**good, "Count": "0"}), "Parameter 'Count' must be a number not less than 1")
    _refused(declared, _given(**{**good, "Count": "11"}), "Parameter 'Count' must be a number not greater than 10")
    _refused(declared, _given(**{**good, "Count": "five"}), "Parameter 'Count' must be a number")
    _refused(declared, _given(**{**good, "Ports": "80,70000"}),
             "Parameter 'Ports' must be a number not greater than 65535")


def test_defaults_are_checked_too() -> None:
    """A Default that breaks its own constraints fails when it is used."""
    declared = _declared("Parameters: {Env: {Type: String, Default: test, AllowedValues: [dev, prod]}}")
    _refused(declared, [], "Parameter 'Env' must be one of AllowedValues")
    assert parameters.ref_values(parameters.resolve(declared, _given(Env="prod"))) == {"Env": "prod"}


def test_no_echo_is_masked_in_describe_stacks() -> None:
    """NoEcho: DescribeStacks masks the value with asterisks; Ref still gives the real value."""
    declared = _declared("Parameters: {Password: {Type: String, NoEcho: true}, User: {Type: String}}")
    resolved = parameters.resolve(declared, _given(Password="s3cret", User="admin"))
    assert parameters.describe(resolved) == [{"ParameterKey": "Password", "ParameterValue": "****"},
                                             {"ParameterKey": "User", "ParameterValue": "admin"}]
    assert parameters.ref_values(resolved)["Password"] == "s3cret"
    assert parameters.stored_values(resolved)["Password"] == "s3cret"


def test_use_previous_value_on_update() -> None:
    """https://docs.aws.amazon.com/AWSCloudFormation/latest/APIReference/API_Parameter.html: UsePreviousValue
    keeps the stack's current value; it cannot come with a value, nor name a key the stack did not have."""
    declared = _declared("Parameters: {Env: {Type: String}, Size: {Type: Number, Default: 1}}")
    previous = {"Env": "prod", "Size": "3"}
    resolved = parameters.resolve(declared, [{"ParameterKey": "Env", "UsePreviousValue": True}], previous)
    assert parameters.ref_values(resolved) == {"Env": "prod", "Size": "1"}
    _refused(declared, [{"ParameterKey": "Env", "UsePreviousValue": True, "ParameterValue": "dev"}],
             "Invalid input for parameter key Env. Cannot specify usePreviousValue as true and non empty value for "
             "a parameter", previous=previous)
    _refused(declared, [{"ParameterKey": "Env", "UsePreviousValue": True}],
             "Invalid input for parameter key Env. Cannot specify usePreviousValue as true for a parameter key not "
             "in the previous template", previous={"Size": "3"})


def test_ssm_parameter_types_resolve_through_the_engines_reader() -> None:
    """https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/cloudformation-ssm-parameters.html (the
    AWS::SSM::Parameter::Value<...> types): the value given is a Systems Manager parameter's name; Ref returns
    that parameter's value; DescribeStacks shows the name and the ResolvedValue."""
    declared = _declared("""
Parameters:
  ImageId: {Type: 'AWS::SSM::Parameter::Value<AWS::EC2::Image::Id>', Default: /lab/ami}
  Subnets: {Type: 'AWS::SSM::Parameter::Value<List<String>>'}
""")
    store = {"/lab/ami": "ami-123", "/lab/subnets": "subnet-1,subnet-2"}
    read = []
    resolved = parameters.resolve(declared, _given(Subnets="/lab/subnets"),
                                  ssm=lambda name: read.append(name) or store.get(name))
    assert parameters.ref_values(resolved) == {"ImageId": "ami-123", "Subnets": ["subnet-1", "subnet-2"]}
    assert parameters.describe(resolved)[0] == {"ParameterKey": "ImageId", "ParameterValue": "/lab/ami",
                                                "ResolvedValue": "ami-123"}
    assert read == ["/lab/ami", "/lab/subnets"]
    _refused(declared, _given(Subnets="/lab/none"),
             "Unable to fetch parameters [/lab/none] from parameter store for this account.", ssm=store.get)


def test_aws_specific_types_are_checked_when_the_engine_can() -> None:
    """AWS-specific parameter types: CloudFormation validates the values against the account's existing ones."""
    declared = _declared("Parameters: {Groups: {Type: 'List<AWS::EC2::SecurityGroup::Id>'}}")
    existing = {("AWS::EC2::SecurityGroup::Id", "sg-1")}
    assert parameters.resolve(declared, _given(Groups="sg-1"), exists=lambda kind, value: (kind, value) in existing)
    _refused(declared, _given(Groups="sg-1,sg-9"),
             "Parameter validation failed: parameter value sg-9 for parameter name Groups does not exist.",
             exists=lambda kind, value: (kind, value) in existing)


def test_declarations_are_checked_when_the_template_loads() -> None:
    """An unknown type, a non-numeric bound, a bad pattern or an unknown property fails the template."""
    for text, message in (
            ("Parameters: {P: {Type: 'List<Strings>'}}", "Template format error: Unrecognized parameter type: "
                                                         "List<Strings>"),
            ("Parameters: {P: {Type: Number, MinValue: low}}", "Template format error: Parameter 'P' MinValue must "
                                                                "be a number."),
            ("Parameters: {P: {Type: String, AllowedPattern: '[a-'}}", "Parameter 'P' AllowedPattern must be a "
                                                                        "valid regular expression."),
            ("Parameters: {P: {Type: String, Secret: true}}", "Template format error: Invalid template parameter "
                                                               "property 'Secret'")):
        with pytest.raises(TemplateError) as caught:
            _declared(text)
        assert caught.value.message == message


def test_summary_and_declarations_for_validate_template() -> None:
    """https://docs.aws.amazon.com/AWSCloudFormation/latest/APIReference/API_TemplateParameter.html and
    API_ParameterDeclaration.html: key, default, NoEcho, description (and type, allowed values)."""
    declared = _declared("""
Parameters:
  Env: {Type: String, Default: dev, AllowedValues: [dev, prod], Description: where}
  Password: {Type: String, NoEcho: 'true'}
""")
    assert parameters.summary(declared) == [
        {"ParameterKey": "Env", "NoEcho": False, "DefaultValue": "dev", "Description": "where"},
        {"ParameterKey": "Password", "NoEcho": True}]
    assert parameters.declarations(declared)[0]["ParameterConstraints"] == {"AllowedValues": ["dev", "prod"]}
    assert parameters.declarations(declared)[1]["ParameterType"] == "String"
