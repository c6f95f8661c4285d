"""CloudFormation templates: JSON and YAML with the short-form tags, the structural checks, and hostile templates
refused cleanly (pure: no labstack process)."""

from __future__ import annotations

import json

import pytest

from labstack.services.cloudformation import template
from labstack.services.cloudformation.template import TemplateError, load, parse

MINIMAL = {"Resources": {"Bucket": {"Type": "AWS::S3::Bucket"}}}


def _fails(text: str | bytes, message: str, **kwargs) -> TemplateError:
    with pytest.raises(TemplateError) as caught:
        load(text, **kwargs)
    assert caught.value.code == "ValidationError" and caught.value.status == 400
    assert caught.value.message == message, caught.value.message
    return caught.value


def test_json_and_yaml_load_to_the_same_template() -> None:
    """https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/template-formats.html: a template is JSON or
    YAML; both describe the same sections."""
    yaml_text = """
AWSTemplateFormatVersion: 2010-09-09
Description: one bucket
Resources:
  Bucket:
    Type: AWS::S3::Bucket
    Properties:
      BucketName: my-bucket
"""
    as_json = json.dumps({"AWSTemplateFormatVersion": "2010-09-09", "Description": "one bucket",
                          "Resources": {"Bucket": {"Type": "AWS::S3::Bucket",
                                                   "Properties": {"BucketName": "my-bucket"}}}})
    assert load(yaml_text) == load(as_json)
    assert load(yaml_text)["AWSTemplateFormatVersion"] == "2010-09-09"  # an unquoted YAML date stays text


def test_short_form_tags_become_the_long_forms() -> None:
    """https://docs.aws.amazon.com/AWSCloudFormation/latest/TemplateReference/intrinsic-function-reference.html:
    each function's short form (``!GetAtt logicalName.attributeName`` among them) means its full form."""
    loaded = load("""
Conditions:
  IsProd: !Equals [!Ref Env, prod]
  Both: !And [!Condition IsProd, !Not [!Condition IsProd]]
  Either: !Or [!Condition IsProd, !Condition Both]
Parameters:
  Env: {Type: String}
Mappings:
  M: {a: {b: c}}
Resources:
  Bucket:
    Type: AWS::S3::Bucket
    Properties:
      A: !Ref Env
      B: !GetAtt Other.Arn
      C: !GetAtt [Other, Arn]
      D: !Sub '${AWS::Region}-x'
      E: !Sub ['${X}', {X: !Ref Env}]
      F: !If [IsProd, a, !Ref AWS::NoValue]
      G: !Join [',', [a, b]]
      H: !Select [0, !Split [',', 'a,b']]
      I: !FindInMap [M, a, b]
      J: !ImportValue shared
      K: !Base64 text
      L: !Cidr [10.0.0.0/16, 2, 8]
      M: !GetAZs ''
  Other: {Type: AWS::SNS::Topic}
""")
    props = loaded["Resources"]["Bucket"]["Properties"]
    assert props["A"] == {"Ref": "Env"}
    assert props["B"] == props["C"] == {"Fn::GetAtt": ["Other", "Arn"]}
    assert props["D"] == {"Fn::Sub": "${AWS::Region}-x"}
    assert props["E"] == {"Fn::Sub": ["${X}", {"X": {"Ref": "Env"}}]}
    assert props["F"] == {"Fn::If": ["IsProd", "a", {"Ref": "AWS::NoValue"}]}
    assert props["H"] == {"Fn::Select": [0, {"Fn::Split": [",", "a,b"]}]}
    assert props["I"] == {"Fn::FindInMap": ["M", "a", "b"]}
    assert props["J"] == {"Fn::ImportValue": "shared"}
    assert props["K"] == {"Fn::Base64": "text"}
    assert props["L"] == {"Fn::Cidr": ["10.0.0.0/16", 2, 8]}
    assert props["M"] == {"Fn::GetAZs": ""}
    assert loaded["Conditions"]["Both"] == {"Fn::And": [{"Condition": "IsProd"},
                                                         {"Fn::Not": [{"Condition": "IsProd"}]}]}
    assert type(props["A"]["Ref"]) is str  # plain builtins, not the decoder's marked nodes


def test_malformed_json_and_yaml_get_awss_format_errors() -> None:
    """https://docs.aws.amazon.com/AWSCloudFormation/latest/APIReference/API_ValidateTemplate.html: CloudFormation
    checks JSON, then YAML, and answers a template validation error when neither parses."""
    error = _fails('{"Resources": {"A": }', "Template format error: JSON not well-formed. (line 1,  column 21)")
    assert error.code == "ValidationError"
    with pytest.raises(TemplateError) as caught:
        load("Resources:\n  A: [unclosed\n")
    assert caught.value.message.startswith("Template format error: YAML not well-formed. (line ")
    assert load("{Resources: {A: {Type: AWS::SNS::Topic}}}") == {"Resources": {"A": {"Type": "AWS::SNS::Topic"}}}
    _fails("just a string", "Template format error: unsupported structure.")
    _fails("- a\n- b\n", "Template format error: unsupported structure.")


def test_sections_are_checked_with_awss_messages() -> None:
    """https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/template-anatomy.html: the sections a
    template may have; Resources is the one required section."""
    _fails(json.dumps({"Resources": {"A": {"Type": "AWS::S3::Bucket"}}, "Outputz": {}}),
           "Template format error: Invalid template property or properties [Outputz]")
    _fails(json.dumps({"Description": "no resources"}),
           "Template format error: At least one Resources member must be defined.")
    _fails(json.dumps({"Resources": {"A": {"Properties": {}}}}),
           "Template format error: [/Resources/A] Every Resources object must contain a Type member.")
    _fails(json.dumps({"Resources": {"my-bucket": {"Type": "AWS::S3::Bucket"}}}),
           "Template format error: Resource name my-bucket is non alphanumeric.")
    _fails(json.dumps({"Resources": {"A": {"Type": "AWS::S3::Bucket", "Propertiess": {}}}}),
           "Template format error: Invalid template resource property 'Propertiess'")
    _fails(json.dumps({"AWSTemplateFormatVersion": "2011-01-01", **MINIMAL}),
           "Template format error: unsupported value for AWSTemplateFormatVersion.")
    _fails(json.dumps({"Outputs": {"O": {"Description": "no value"}}, **MINIMAL}),
           "Template format error: Every Outputs member must contain a Value object")
    _fails(json.dumps({"Parameters": {"P": {"Default": "x"}}, **MINIMAL}),
           "Template format error: Every Parameters object must contain a Type member.")
    _fails(json.dumps({"Parameters": {"P": {"Type": "Strin"}}, **MINIMAL}),
           "Template format error: Unrecognized parameter type: Strin")


def test_unknown_functions_are_refused() -> None:
    """A short-form tag or ``Fn::`` key (in any case) that names no function is refused with the list CloudFormation
    answers; the rule functions belong to the Rules section only."""
    for text, name in (("Properties: {TopicName: !Concat [a, b]}", "Fn::Concat"),
                       ("Properties: {TopicName: {'fn::GetAtt': [B, Name]}}", "fn::GetAtt")):
        with pytest.raises(TemplateError) as caught:
            load("Resources:\n  A:\n    Type: AWS::SNS::Topic\n    " + text + "\n")
        assert caught.value.message == (
            f"Template Error: Encountered unsupported function: {name} Supported functions are: [Fn::Base64, "
            "Fn::GetAtt, Fn::GetAZs, Fn::ImportValue, Fn::Join, Fn::Split, Fn::FindInMap, Fn::Select, Ref, "
            "Fn::Equals, Fn::If, Fn::Not, Condition, Fn::And, Fn::Or, Fn::Contains, Fn::EachMemberEquals, "
            "Fn::EachMemberIn, Fn::ValueOf, Fn::ValueOfAll, Fn::RefAll, Fn::Sub, Fn::Cidr]")
    with pytest.raises(TemplateError) as caught:
        load("Resources:\n  A:\n    Type: AWS::SNS::Topic\n    Properties: {X: !Contains [[a], a]}\n")
    assert caught.value.message == "Template format error: Fn::Contains can only be used in the Rules section"
    assert load("Rules:\n  R:\n    Assertions:\n      - Assert: !Contains [[a], a]\n"
                "Resources:\n  A: {Type: AWS::SNS::Topic}\n")


def test_quotas_on_sections_and_description() -> None:
    """https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/cloudformation-limits.html: 500 resources,
    200 parameters, 200 outputs, 200 mappings per template; a description of at most 1024 bytes."""
    resources = {f"R{i}": {"Type": "AWS::SNS::Topic"} for i in range(501)}
    _fails(json.dumps({"Resources": resources}),
           "Template format error: Number of resources, 501, is greater than maximum allowed, 500")
    parameters = {f"P{i}": {"Type": "String", "Default": "x"} for i in range(201)}
    _fails(json.dumps({"Parameters": parameters, **MINIMAL}),
           "Template format error: Number of parameters, 201, is greater than maximum allowed, 200")
    _fails(json.dumps({"Description": "d" * 1025, **MINIMAL}),
           "Template format error: Description must be no longer than 1024 bytes.")
    resources.pop("R500")
    assert len(load(json.dumps({"Resources": resources}), limit=template.URL_LIMIT)["Resources"]) == 500


def test_a_body_over_51200_bytes_is_refused_and_a_url_template_may_be_1_mb() -> None:
    """https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/cloudformation-limits.html: a template body
    in a request is at most 51,200 bytes; one in an S3 object at most 1 MB."""
    body = json.dumps({"Description": "x", "Metadata": {"Pad": "p" * 60_000}, **MINIMAL})
    _fails(body, "1 validation error detected: Value at 'templateBody' failed to satisfy constraint: Member must "
                 "have length less than or equal to 51200")
    assert load(body, limit=template.URL_LIMIT)["Metadata"]["Pad"] == "p" * 60_000


def test_ten_megabytes_is_refused_before_it_is_parsed() -> None:
    """A hostile 10 MB template is refused on its size alone (AWS's 1 MB quota for a template in S3)."""
    huge = "Resources:\n  A:\n    Type: AWS::SNS::Topic\n" + "# pad\n" * (10 * 1024 * 1024 // 6)
    _fails(huge, "Template may not exceed 1048576 bytes in size.", limit=template.URL_LIMIT)
    _fails(huge, "1 validation error detected: Value at 'templateBody' failed to satisfy constraint: Member must "
                 "have length less than or equal to 51200")


def test_yaml_aliases_are_refused_so_a_billion_laughs_never_expands() -> None:
    """CloudFormation does not resolve YAML anchors and aliases (cfn-lint's rule W1101 documents it, citing
    https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/template-formats.html); labstack refuses them
    before anything is expanded."""
    lol = ["a: &a [lol, lol, lol, lol, lol, lol, lol, lol, lol]"]
    for level in "bcdefghi":
        previous = chr(ord(level) - 1)
        lol.append(f"{level}: &{level} [" + ", ".join(f"*{previous}" for _ in range(9)) + "]")
    bomb = "Metadata:\n" + "\n".join("  " + line for line in lol) + "\nResources:\n  A:\n    Type: AWS::SNS::Topic\n"
    _fails(bomb, "Template error: YAML aliases are not allowed in CloudFormation templates")
    assert load("Resources:\n  A:\n    Type: AWS::SNS::Topic\n    Properties: {TopicName: 'a*b'}\n")


def test_deep_nesting_is_refused_cleanly() -> None:
    """Nesting deep enough to exhaust a recursive walker is refused as a format error (JSON and YAML)."""
    deep_json = '{"Resources": {"A": {"Type": "AWS::SNS::Topic", "Metadata": ' + "[" * 5000 + "]" * 5000 + "}}}"
    with pytest.raises(TemplateError) as caught:
        load(deep_json)
    assert caught.value.message.startswith("Template format error:")
    deep_yaml = "Resources:\n  A:\n    Type: AWS::SNS::Topic\n    Metadata: " + "[" * 2000 + "]" * 2000 + "\n"
    with pytest.raises(TemplateError) as caught:
        load(deep_yaml)
    assert caught.value.message.startswith("Template format error:")
    moderate = '{"Resources": {"A": {"Type": "AWS::SNS::Topic", "Metadata": ' + "[" * 40 + "]" * 40 + "}}}"
    assert load(moderate)


def test_a_number_of_thousands_of_digits_is_a_format_error() -> None:
    """A number too long to convert (JSON or YAML) is refused as a format error, not an internal failure."""
    for text in ('{"Resources": {"A": {"Type": "AWS::SNS::Topic", "Metadata": ' + "1" * 5000 + "}}}",
                 "Resources:\n  A: {Type: AWS::SNS::Topic, Metadata: " + "1" * 5000 + "}\n"):
        with pytest.raises(TemplateError) as caught:
            load(text)
        assert caught.value.message.startswith("Template format error:")


def test_duplicate_yaml_keys_and_bad_bytes_are_format_errors() -> None:
    """Text that is not a template's (a mapping key twice, bytes that are not UTF-8) is a format error."""
    with pytest.raises(TemplateError) as caught:
        load("Resources:\n  A:\n    Type: AWS::SNS::Topic\n  A:\n    Type: AWS::SQS::Queue\n")
    assert caught.value.message.startswith("Template format error: YAML not well-formed. Duplicate found 'A'")
    _fails(b"\xff\xfe{}", "Template format error: the template is not valid UTF-8 text")
    _fails("   \n", "Template format error: the template is empty.")


def test_transforms_are_listed() -> None:
    """https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/transform-section-structure.html: Transform
    is one macro name or a list of them."""
    assert template.transforms(parse(json.dumps({"Transform": "AWS::Serverless-2016-10-31", **MINIMAL}))) == [
        "AWS::Serverless-2016-10-31"]
    assert template.transforms(parse(json.dumps(
        {"Transform": ["AWS::LanguageExtensions", {"Name": "AWS::Include", "Parameters": {}}], **MINIMAL}))) == [
        "AWS::LanguageExtensions", "AWS::Include"]
    assert template.transforms(MINIMAL) == []
