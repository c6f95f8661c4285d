"""The rule types AWS offers for stage conditions (owner AWS, category Rule), as ListRuleTypes
describes them: configuration properties and how many input artifacts each takes.

The facts follow CodePipeline's rule reference (one page per provider, each at version 1).
Where a page shows input artifacts without saying how many, the count is that of the action
the rule runs like (a CodeBuild build, a Lambda invocation, a Commands action). labstack lists
them all; ``rules.EVALUATORS`` has those it evaluates, and a pipeline with a rule of another type
is refused at CreatePipeline and UpdatePipeline.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

import botocore.session

from labstack.services.codepipeline.action_types import (
    LISTED_COUNT,
    LISTED_PROPERTIES,
    Property,
)


@dataclass(frozen=True)
class RuleType:
    """One rule type: its provider, configuration properties and input artifact counts (min, max)."""

    provider: str
    properties: tuple[Property, ...]
    inputs: tuple[int, int]
    owner: str = "AWS"
    version: str = "1"

    def describe(self) -> dict:
        """The ``RuleType`` shape."""
        return {
            "id": {"category": "Rule", "owner": self.owner, "provider": self.provider, "version": self.version},
            "ruleConfigurationProperties": [p.describe() for p in self.properties[:LISTED_PROPERTIES]],
            "inputArtifactDetails": {"minimumCount": self.inputs[0], "maximumCount": min(self.inputs[1], LISTED_COUNT)},
        }


def _required(name: str, description: str) -> Property:
    return Property(name, required=True, key=True, description=description)


def _optional(name: str, description: str) -> Property:
    return Property(name, description=description)


BUILTIN: tuple[RuleType, ...] = (
    RuleType("CloudWatchAlarm", (
        _required("AlarmName", "The name of the CloudWatch alarm the rule watches"),
        _optional("AlarmStates", "The alarm states the rule watches for: ALARM, OK, INSUFFICIENT_DATA"),
        _optional("WaitTime", "Minutes to allow for a state change before the rule's result applies"),
    ), (0, 0)),
    RuleType("CodeBuild", (
        _required("ProjectName", "The name of the CodeBuild project whose build must succeed"),
        _optional("PrimarySource", "The input artifact holding the buildspec, when there are several"),
        _optional("BatchEnabled", "Whether the build runs as a batch of builds"),
        _optional("CombineArtifacts", "Whether a batch's build artifacts are combined into one"),
        _optional("EnvironmentVariables", "Environment variables for the build, as a JSON array"),
    ), (1, 5)),
    RuleType("Commands", (
        _required("Commands", "The shell commands to run, one single-line command per entry"),
    ), (1, 5)),
    RuleType("DeploymentWindow", (
        _required("Cron", "The cron expression of the days and times when deployments are allowed"),
        _optional("TimeZone", "The time zone the cron expression is read in"),
    ), (0, 0)),
    RuleType("LambdaInvoke", (
        _required("FunctionName", "The name of the Lambda function the rule invokes"),
        _optional("UserParameters", "Input for the function, as key-value pairs"),
    ), (0, 5)),
    RuleType("VariableCheck", (
        _required("Operator", "The check to make: EQ, NE, CONTAINS or MATCHES"),
        _required("Value", "The value the variable is checked against"),
        _required("Variable", "The pipeline variable to check, such as #{SourceVariables.RepositoryName}"),
    ), (0, 0)),
)


def find(type_id: dict) -> RuleType | None:
    """The rule type a ``RuleTypeId`` names; None if AWS offers none such."""
    return next((t for t in BUILTIN if (t.owner, t.provider, t.version) == (type_id["owner"], type_id["provider"],
                                                                            type_id["version"])
                 and type_id["category"] == "Rule"), None)


@cache
def _regions() -> frozenset[str]:
    session = botocore.session.get_session()
    return frozenset(region for partition in session.get_available_partitions()
                     for region in session.get_available_regions("codepipeline", partition))


def listed(owner: str | None, region: str | None) -> list[dict]:
    """The ``RuleType`` shapes of the rule types of ``owner`` offered in ``region`` (either None: any)."""
    if region is not None and region not in _regions():
        return []
    return [t.describe() for t in BUILTIN if owner is None or t.owner == owner]
