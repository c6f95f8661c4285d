"""AWS::CloudWatch::Alarm (a metric, or metric math through Metrics), made through CloudWatch's API
(labstack's alarm runtime evaluates what it makes)."""

from __future__ import annotations

from labstack.services.cloudformation.convert import from_api, to_api
from labstack.services.cloudformation.properties import gone_ok, only, retag, tag_list, without_empty
from labstack.services.cloudformation.resource import Context, ResourceType, Result

ALARM = ("AlarmName", "AlarmDescription", "ActionsEnabled", "AlarmActions", "OKActions", "InsufficientDataActions",
         "ComparisonOperator", "DatapointsToAlarm", "EvaluationPeriods", "EvaluateLowSampleCountPercentile",
         "Threshold", "ThresholdMetricId", "TreatMissingData", "MetricName", "Namespace", "Dimensions", "Period",
         "Statistic", "ExtendedStatistic", "Unit", "Metrics")


class Alarm(ResourceType):
    """AWS::CloudWatch::Alarm: Ref is the alarm's name; GetAtt Arn."""

    type_name = "AWS::CloudWatch::Alarm"
    SUPPORTED = ALARM + ("Tags",)

    def create(self, ctx: Context, props: dict) -> Result:
        only(self.type_name, props, self.SUPPORTED, ctx)
        name = props.get("AlarmName") or ctx.name(255)
        cloudwatch = ctx.client("cloudwatch")
        cloudwatch.put_metric_alarm(**to_api("cloudwatch", "PutMetricAlarm", {**props, "AlarmName": name}))
        return Result(name, {"Arn": self._arn(ctx, name)})

    @staticmethod
    def _arn(ctx: Context, name: str) -> str:
        return ctx.client("cloudwatch").describe_alarms(AlarmNames=[name])["MetricAlarms"][0]["AlarmArn"]

    def update(self, ctx: Context, physical_id: str, old: dict, new: dict) -> Result:
        """PutMetricAlarm replaces the whole definition (what the template dropped is dropped); tags apart."""
        only(self.type_name, new, self.SUPPORTED, ctx)
        cloudwatch = ctx.client("cloudwatch")
        cloudwatch.put_metric_alarm(**to_api("cloudwatch", "PutMetricAlarm", {**new, "AlarmName": physical_id},
                                             drop=("Tags",)))
        arn = self._arn(ctx, physical_id)
        retag(old, new, lambda remove: cloudwatch.untag_resource(ResourceARN=arn, TagKeys=remove),
              lambda put: cloudwatch.tag_resource(ResourceARN=arn, Tags=tag_list(put)))
        return Result(physical_id, {"Arn": arn})

    def delete(self, ctx: Context, physical_id: str, props: dict) -> None:
        with gone_ok("ResourceNotFound"):
            ctx.client("cloudwatch").delete_alarms(AlarmNames=[physical_id])

    def read(self, ctx: Context, physical_id: str, props: dict) -> dict | None:
        found = ctx.client("cloudwatch").describe_alarms(AlarmNames=[physical_id])["MetricAlarms"]
        if not found:
            return None
        like = {key: value for key, value in props.items() if key in ALARM}
        return without_empty({"AlarmName": physical_id, **from_api("cloudwatch", "MetricAlarm", found[0], like)})


TYPES: list[ResourceType] = [Alarm()]
