"""The rules of stage conditions labstack evaluates, one function per rule type (CodePipeline's rule
reference): CloudWatchAlarm, VariableCheck, DeploymentWindow and LambdaInvoke. A rule passes by
returning and fails by raising ``ActionFailed`` with the sentence its rule execution shows.

A rule acts as the pipeline's role (or its own ``roleArn``), as actions do (``acting``): every call it
makes (DescribeAlarms, Invoke) is decided by that role's policies.
"""

from __future__ import annotations

import datetime as dt
import json
import re
import zoneinfo
from collections.abc import Callable
from dataclasses import dataclass

from botocore.exceptions import ClientError
from croniter import CroniterBadDateError, croniter

from labstack.services.codebuild import patterns
from labstack.services.codepipeline import acting
from labstack.services.codepipeline.action_job import Abandoned, ActionFailed, ActionJob
from labstack.services.codepipeline.model import ConditionRun

TICK = 0.05  # real seconds between looks at an override or a stop while a rule waits
ALARM_POLL_LAB_SECONDS = 10
OPERATORS = ("EQ", "NE", "CONTAINS", "MATCHES")
ALARM_STATES = ("ALARM", "OK", "INSUFFICIENT_DATA")
YEARS = 200  # how far ahead a deployment window is looked for (AWS's cron years go to 2199; croniter's to 2099)
_WEEKDAY = re.compile(r"(?<![#/\d])([1-7])(?!\d)")


@dataclass
class RuleJob(ActionJob):
    """One running rule: an ActionJob whose ``run`` is a RuleRun, within one condition evaluation."""

    condition: ConditionRun | None = None

    @property
    def session_id(self) -> str:
        return self.run.rule_execution_id  # type: ignore[attr-defined]

    def check(self) -> None:
        """Raise :class:`Abandoned` once the condition is overridden or the execution stopped."""
        if (self.condition is not None and self.condition.overridden.is_set()) or self.execution.abandon.is_set() \
                or self.execution.stopping or self.execution.cancelled:
            raise Abandoned()

    def wait(self, lab_seconds: float) -> None:
        """Sleep on the lab clock, looking for an override or a stop meanwhile."""
        clock = self.labstack.clock
        deadline = clock.deadline(lab_seconds)
        while not deadline.expired():
            self.check()
            clock.sleep(clock.lab_seconds(min(deadline.remaining_real(), TICK)))
        self.check()


# -- DeploymentWindow's cron ------------------------------------------------------------------
def window_cron(expression: str) -> str:
    """``expression`` (AWS's form: seconds minutes hours day-of-month month day-of-week [year], the
    days of the week 1-7 or SUN-SAT) as croniter reads it; ValueError if it is not one."""
    fields = expression.split()
    if len(fields) not in (6, 7):
        raise ValueError("a cron expression has 6 fields and an optional year, separated by white space")
    if fields[0] != "*":
        raise ValueError("the seconds field of a deployment window must be *")
    fields[5] = _WEEKDAY.sub(lambda m: str(int(m.group(1)) - 1), fields[5])  # AWS's 1 is Sunday, croniter's 0
    converted = " ".join(fields)
    if not croniter.is_valid(converted, second_at_beginning=True):
        raise ValueError(f"{expression} is not a valid cron expression")
    return converted


def time_zone(name: str | None) -> zoneinfo.ZoneInfo:
    """The IANA time zone ``name`` (UTC when absent); ValueError if unknown."""
    try:
        return zoneinfo.ZoneInfo(name or "UTC")
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"{name} is not a time zone") from None


def deployment_window(job: RuleJob) -> None:
    """Pass once the time is within the window (a minute the cron expression matches). The time runs
    on from now at the lab clock's pace: a window an hour away opens after a lab hour. With the
    rule's ``timeoutInMinutes`` the rule fails when the window has not opened by then."""
    config = job.configuration
    cron, zone = window_cron(config["Cron"]), time_zone(config.get("TimeZone"))
    start = dt.datetime.now(zone).replace(second=0, microsecond=0)
    if croniter.match(cron, start, second_at_beginning=True):
        job.update(summary=f"{start:%Y-%m-%d %H:%M} {zone.key} is within the deployment window")
        return
    try:
        opens = croniter(cron, start, second_at_beginning=True, max_years_between_matches=YEARS).get_next(dt.datetime)
    except CroniterBadDateError:
        raise ActionFailed(f"The deployment window {config['Cron']} never opens", "ConfigurationError") from None
    wait = (opens - start).total_seconds()
    job.update(summary=f"Waiting for the deployment window, which opens at {opens:%Y-%m-%d %H:%M} {zone.key}")
    limit = job.declaration.get("timeoutInMinutes")
    if limit is not None and limit * 60 < wait:
        job.wait(limit * 60)
        raise ActionFailed(f"The deployment window did not open within {limit} minutes: it opens at "
                           f"{opens:%Y-%m-%d %H:%M} {zone.key}", "RuleTimeout")
    job.wait(wait)
    job.update(summary=f"The deployment window opened at {opens:%Y-%m-%d %H:%M} {zone.key}")


# -- VariableCheck ----------------------------------------------------------------------------
def variable_check(job: RuleJob) -> None:
    """Compare the (resolved) Variable with Value: EQ, NE, CONTAINS, or MATCHES (a regular expression
    found in the variable)."""
    config = job.configuration
    variable, value, operator = config["Variable"], config["Value"], config["Operator"]
    said = f"Variable {job.declaration['configuration']['Variable']} is '{variable}': {operator} '{value}' is"
    if operator == "MATCHES":  # a learner's pattern, matched under a time limit
        try:
            passed = patterns.found(patterns.compile_pattern(value), variable)
        except patterns.PatternError as exc:
            raise ActionFailed(f"Value {exc}", "ConfigurationError") from None
        if passed is None:
            raise ActionFailed(f"{said} undecided: the pattern took too long to match", "VariableCheckFailed")
    else:
        passed = {"EQ": variable == value, "NE": variable != value, "CONTAINS": value in variable}[operator]
    if not passed:
        raise ActionFailed(f"{said} false", "VariableCheckFailed")
    job.update(summary=f"{said} true")


# -- CloudWatchAlarm --------------------------------------------------------------------------
def _alarm(job: RuleJob, name: str) -> dict:
    try:
        found = job.client("cloudwatch").describe_alarms(AlarmNames=[name])
    except ClientError as exc:
        raise acting.failed_call(exc, "Amazon CloudWatch", f"Could not describe alarm {name}") from None
    alarms = found.get("MetricAlarms", []) + found.get("CompositeAlarms", [])
    if not alarms:
        raise ActionFailed(f"The CloudWatch alarm {name} does not exist", "ConfigurationError")
    return alarms[0]


def cloudwatch_alarm(job: RuleJob) -> None:
    """Fail while the alarm is in one of AlarmStates (default ALARM). With WaitTime (minutes, on the
    lab clock) the rule waits that long for the alarm to leave those states before it fails."""
    config = job.configuration
    name = config["AlarmName"]
    watched = [s.strip() for s in config.get("AlarmStates", "ALARM").split(",") if s.strip()]
    waiting = float(config.get("WaitTime") or 0) * 60
    alarm = _alarm(job, name)
    job.update(external_id=alarm["AlarmArn"])
    deadline = job.labstack.clock.deadline(waiting)
    while alarm["StateValue"] in watched and not deadline.expired():
        job.update(summary=f"Alarm {name} is {alarm['StateValue']}; waiting up to {config.get('WaitTime')} minutes "
                           "for it to change")
        job.wait(min(ALARM_POLL_LAB_SECONDS, job.labstack.clock.lab_seconds(deadline.remaining_real())))
        alarm = _alarm(job, name)
    if alarm["StateValue"] in watched:
        raise ActionFailed(f"Alarm {name} is in state {alarm['StateValue']}: {alarm.get('StateReason', '')}"[:2048],
                           "AlarmStateMatched")
    job.update(summary=f"Alarm {name} is in state {alarm['StateValue']}")


# -- LambdaInvoke -----------------------------------------------------------------------------
def lambda_invoke(job: RuleJob) -> None:
    """Invoke the function (RequestResponse) with the rule's context; the rule fails when the
    function fails (its error message is the rule's summary) and passes when it returns."""
    function = job.configuration["FunctionName"]
    run = job.run
    event = {"pipelineName": job.pipeline.name, "pipelineExecutionId": job.execution.execution_id,
             "stageName": run.stage, "ruleName": run.name, "ruleExecutionId": job.session_id,
             "configuration": dict(job.configuration),
             "inputArtifacts": [{"name": n, **job.execution.artifacts.get(n, {})} for n in job.input_names()]}
    if "UserParameters" in job.configuration:
        event["UserParameters"] = job.configuration["UserParameters"]
    try:
        answer = job.client("lambda").invoke(FunctionName=function, InvocationType="RequestResponse",
                                             Payload=json.dumps(event, default=str).encode())
    except ClientError as exc:
        raise acting.failed_call(exc, "AWS Lambda", f"Error invoking Lambda function {function}", ) from None
    job.update(external_id=answer["ResponseMetadata"].get("RequestId"),
               external_url=f"https://{job.region}.console.aws.amazon.com/lambda/home?region={job.region}#/functions/{function}")
    payload = answer["Payload"].read().decode(errors="replace")
    if answer.get("FunctionError"):
        try:
            message = json.loads(payload).get("errorMessage") or payload
        except (ValueError, AttributeError):
            message = payload
        raise ActionFailed(f"Lambda function {function} failed: {message}"[:2048], "LambdaFunctionError")
    job.update(summary=f"Lambda function {function} returned {payload[:200]}")


EVALUATORS: dict[str, Callable[[RuleJob], None]] = {
    "CloudWatchAlarm": cloudwatch_alarm,
    "DeploymentWindow": deployment_window,
    "LambdaInvoke": lambda_invoke,
    "VariableCheck": variable_check,
}
