"""Where labstack knowingly differs from AWS: the one list of them, rendered into docs/fidelity.md by
:mod:`labstack.fidelity`. Add a difference here (and regenerate the table) when labstack departs from
what AWS documents, on purpose or not yet fixed."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Difference:
    """One known difference: the area it concerns (a service, or "All") and what differs, in a sentence or two."""

    area: str
    text: str


DIFFERENCES: tuple[Difference, ...] = (
    Difference("All", "Waits AWS imposes (deployment intervals, termination waits, alarm periods, approval timeouts, "
                      "health-check intervals, deregistration delays) run on the lab clock, `LABSTACK_TIME_SCALE` times "
                      "faster (60 by default); work (builds, hooks, requests) runs in real time."),
    Difference("All", "One process on 127.0.0.1 serves every account and region; the access key id picks the account."),
    Difference("CodeBuild", "A build is a shell in a workspace of its own on the host (confined by bubblewrap where it "
                            "works), not a container of a CodeBuild image; its `python3` and `pip` are a virtual "
                            "environment over the kit's Python."),
    Difference("CodeBuild", "`docker` inside a build is labstack's daemonless subset: FROM python, WORKDIR, COPY, ADD "
                            "(local), ENV, ARG, EXPOSE, USER, LABEL, RUN, CMD, ENTRYPOINT, HEALTHCHECK; anything else "
                            "fails the build with a message that names it."),
    Difference("ECS", "A task is a process on the host, not a container: `FROM python:<version>` means the host's "
                      "Python, and each container port is a free port on 127.0.0.1 the process reads from `PORT`."),
    Difference("ECS", "A rolling deployment counts as COMPLETED once its new tasks have stayed RUNNING for one lab "
                      "minute (AWS does not publish how long it watches)."),
    Difference("Lambda", "Python runtimes only; other runtimes answer InvalidRuntimeException. A worker idle for a "
                         "real minute is retired (the next invoke is a cold start)."),
    Difference("Elastic Load Balancing", "Listeners are local ports speaking HTTP/1.1; WebSocket upgrades are not "
                                         "proxied. A steady target is health-checked at most every 2 real seconds."),
    Difference("Elastic Load Balancing", "Targets of a group take turns round robin (ALB's default); the "
                                         "`load_balancing.algorithm.type` attribute (least outstanding requests, "
                                         "weighted random) is ignored."),
    Difference("ECS", "If UpdateService lands while the deployment circuit breaker is rolling back, the learner's "
                      "update wins and the rollback is not applied (AWS does not document the case); the breaker's "
                      "events stay."),
    Difference("All", "Tasks, Lambda workers and builds are local processes: if labstack dies without shutting down "
                      "(a crash, `kill -9`) they run on until the next `labstack start` (or a `labstack stop` that had "
                      "to kill it) on the same `LABSTACK_HOME` ends them."),
    Difference("CodeDeploy", "EC2/on-premises deployments fail (NO_INSTANCES or AGENT_ISSUE): labstack runs no "
                             "CodeDeploy agent; ECS and Lambda deployments run for real."),
    Difference("CodeDeploy", "The replacement task set gets at least 30 real seconds to turn healthy, whatever the time "
                             "scale. A deployment that fails without automatic rollback still puts traffic back on the "
                             "original and removes the replacement."),
    Difference("CodeDeploy", "AWS documents no wording for a deployment that ends at BeforeInstall with automatic "
                             "rollback configured; labstack makes no rollback deployment (\"A rollback is not possible "
                             "at this point\") and says so in `rollbackInfo.rollbackMessage` in its own words."),
    Difference("CodePipeline", "Action providers other than the ones labstack runs are accepted and fail their action "
                               "with a message naming them."),
    Difference("CodePipeline", "Stage conditions evaluate CloudWatchAlarm, VariableCheck, DeploymentWindow and "
                               "LambdaInvoke rules; a pipeline with a CodeBuild or Commands rule is refused (501 "
                               "NotImplemented) at CreatePipeline and UpdatePipeline. Rollback executions evaluate no "
                               "conditions, and a stage a beforeEntry condition skips sends no stage event (the "
                               "documented stage event states have no SKIPPED)."),
    Difference("CodePipeline", "A LambdaInvoke rule invokes its function synchronously with an event of labstack's own "
                               "(pipeline, execution, stage and rule names, configuration, UserParameters, input "
                               "artifacts): the rule fails when the function fails and passes when it returns. AWS "
                               "documents no event or answer for this rule."),
    Difference("CodePipeline", "A DeploymentWindow waits on the lab clock (time runs on from the real time at the lab "
                               "clock's pace); its cron is read by croniter, so years after 2099, a day-of-month `L-n` "
                               "and a day-of-week `L` or `<day>L` are refused. A closed window waits until it opens, the rule's "
                               "timeoutInMinutes passes, or the condition is overridden. Other rules ignore "
                               "timeoutInMinutes."),
    Difference("CodePipeline", "A CloudWatchAlarm rule fails while its alarm is in one of AlarmStates (default ALARM), "
                               "after waiting up to WaitTime lab minutes (at most 1440) for it to leave them; "
                               "VariableCheck MATCHES finds its pattern anywhere in the value (Python's `regex`, not "
                               "Java's), and a pattern that backtracks for over 0.2 s fails the rule as undecided."),
    Difference("CodePipeline", "Trigger filter globs are read with wcmatch, a little more loosely than AWS: nested `{}` "
                               "groups are accepted (AWS forbids them), and a pattern whose braces expand past 1000 "
                               "variants matches nothing."),
    Difference("CodePipeline", "UpdatePipeline ends running executions `Cancelled` once their running actions finish, "
                               "as the API reference defines it; the edit-pipeline guide says they fail."),
    Difference("CodePipeline", "`entityUrl` points into labstack's console (builds, deployments, the pipeline) or at the "
                               "local repository's clone URL, not AWS's console; `revisionUrl` still points at AWS's "
                               "console, or github.com for the local GitHub, as labstack has no commit pages."),
    Difference("CodePipeline", "A variable namespace with an artifact's name is refused with "
                               "InvalidActionDeclarationException; AWS documents the rule but not the error code."),
    Difference("CodePipeline", "Executions started by a pull request record trigger type `WebhookV2` with the "
                               "connection ARN, as push-filtered ones do (botocore's TriggerType has no pull-request "
                               "value); for UPDATED, `filePaths` is matched over the whole pull request's diff."),
    Difference("CodeStar Connections", "The local GitHub serves only the pull-request part of GitHub's REST API (no "
                                       "reviews, comments, drafts, forks, labels or `refs/pull/N/head`); merge methods "
                                       "are merge and squash. In class mode it takes an access key id and secret as "
                                       "HTTP Basic credentials, not GitHub tokens."),
    Difference("CodeBuild", "`on-failure: RETRY…` runs the failed phase again inside the same build, in one phase record; "
                            "AWS says only that it retries. An explicit `ABORT` also skips UPLOAD_ARTIFACTS."),
    Difference("CodeBuild", "Webhooks serve GITHUB sources on the local GitHub only (CodeCommit has none, on AWS too). "
                            "The record has no `url`, `payloadUrl` or `secret`; RELEASED, PRERELEASED and "
                            "WORKFLOW_JOB_QUEUED are accepted but never fire; a filter pattern that runs past 0.2 s (1 s "
                            "per webhook per event) is undecided and starts no build."),
    Difference("CodeBuild", "A batch has at most 100 builds (`LABSTACK_CODEBUILD_BATCH_MAX_BUILDS`), whatever "
                            "`maximumBuildsAllowed` says; build-fanout is refused by name and `batchReportMode` is "
                            "stored only. A group not started yet has no `currentBuildSummary`, and builds skipped after "
                            "a failed dependency or a stop have no build record (AWS shows STOPPED builds). "
                            "Idempotency tokens never expire; the batch timeout counts from IN_PROGRESS."),
    Difference("CodeBuild", "`combineArtifacts` combines artifacts only for a pipeline's batch action (one zip, a folder "
                            "per build); matrix builds are named `build_matrix_<n>` in labstack's own wording."),
    Difference("CodeBuild", "labstack caps an account's in-progress batch builds (`LABSTACK_CODEBUILD_MAX_BATCHES`, 10) "
                            "and waiting builds (`LABSTACK_CODEBUILD_MAX_QUEUED_BUILDS`); past them StartBuildBatch and "
                            "RetryBuildBatch answer AccountLimitExceededException, which AWS's model lists only for "
                            "StartBuild and RetryBuild."),
    Difference("CodeBuild", "An account's webhooks get at most 3 s of filter matching per event; those left unmatched "
                            "start no build for it (logged). `ACTOR_ACCOUNT_ID` is the repository owner's account (its "
                            "owner name on a laptop), for pushes and pull requests alike."),
    Difference("CodeStar Connections", "The local GitHub reserves the owner name `api` (its REST API's path). In class "
                                       "mode another learner's repository answers the pull-request API 404, as GitHub "
                                       "does for private repositories; git answers 403 with the reason."),
    Difference("EventBridge", "Targets labstack does not emulate (anything but CodePipeline, SQS, CloudWatch Logs and "
                              "event buses) are skipped with a log line; AWS would deliver to them."),
    Difference("CloudWatch", "Only metric alarms on one metric are evaluated; metric-math and composite alarms keep "
                             "the state moto gives them."),
    Difference("CloudWatch", "The evaluation range is EvaluationPeriods + 2 periods (AWS's documented example: 5 for 3; "
                             "AWS's own depends on the period and the metric's resolution), and periods end at the "
                             "evaluation instant instead of on period boundaries."),
    Difference("CloudWatch", "With TreatMissingData `missing`, a range whose real datapoints all breach but are too few "
                             "to alarm (`- - - - X`, 3 of 3) is INSUFFICIENT_DATA; AWS's guide says only that it is not "
                             "ALARM yet. `ignore` keeps the state there."),
    Difference("CloudTrail", "Event history is kept in memory (the last `LABSTACK_TRAIL_EVENTS` events an account), "
                             "events appear at once, data events are kept too, and `requestParameters` / "
                             "`responseElements` hold only identifiers."),
    Difference("CloudFormation", "CreateStack, UpdateStack, DeleteStack and ExecuteChangeSet answer once the stack "
                                 "settles or `LABSTACK_CFN_SETTLE_SECONDS` (5 by default) pass, so boto3's waiters "
                                 "(which poll every 30 s) find it done; AWS answers at once, IN_PROGRESS."),
    Difference("CloudFormation", "Stacks are kept in memory (a restart or reset forgets them); nested stacks nest at "
                                 "most 5 levels; a resource whose update requires replacement is found from the type's "
                                 "registry schema (as cfn-lint ships it) and the handler; transforms (macros, "
                                 "AWS::Serverless) are refused."),
    Difference("CloudFormation", "A stack policy is kept (GetStackPolicy answers it) but not enforced during updates; "
                                 "an account starts at most `LABSTACK_CFN_MAX_OPERATIONS` (25) root stack operations at "
                                 "once (LimitExceededException beyond; nested stacks run under their root's, deletions "
                                 "and rollbacks are never refused); a root holds at most "
                                 "`LABSTACK_CFN_MAX_NESTED_STACKS` (50) nested stacks; an account runs at most 5 stack "
                                 "drift detections at once. The stacks quota per Region (2,000) is "
                                 "`LABSTACK_CFN_MAX_STACKS`."),
    Difference("CloudFormation", "A stack's NotificationARNs are kept but nothing is published to them, and no "
                                 "EventBridge `CloudFormation Stack Status Change` / `Resource Status Change` events are "
                                 "sent; DescribeStackEvents is the record."),
    Difference("CloudFormation", "Resources a stack makes carry neither the stack's tags nor the `aws:cloudformation:*` "
                                 "tags AWS propagates (labstack's CodePipeline and CodeCommit refuse `aws:` tag keys "
                                 "from callers); changing only a stack's tags does not re-tag its resources."),
    Difference("CloudFormation", "A property labstack cannot honour (e.g. a CodeBuild project's VpcConfig, a Lambda "
                                 "function's Layers or image code, a CodeCommit repository's KmsKeyId) fails the "
                                 "resource with the property's name instead of being made as AWS would make it."),
    Difference("CloudFormation", "Change sets are planned at once (CREATE_PENDING/CREATE_IN_PROGRESS are not seen); at "
                                 "most 100 per stack; ChangeSetType IMPORT is refused and IncludePropertyValues "
                                 "ignored; a stack made through a CREATE change set has no REVIEW_IN_PROGRESS event "
                                 "(botocore's ResourceStatus lacks it); an UPDATE change set whose only change is in "
                                 "a nested stack's template at an unchanged TemplateURL is not applied."),
    Difference("CloudFormation", "Drift compares only the properties the template set (write-only properties and "
                                 "KmsKeyId skipped); nested stacks, WaitConditionHandle and CDK metadata come out "
                                 "NOT_CHECKED; drift reads each resource with the caller's own permissions."),
    Difference("CloudFormation", "An AWS::ECS::Service must be stable before its stack completes (its image must be in "
                                 "ECR first): labstack waits up to 3 lab hours, as AWS waits 3 hours."),
    Difference("CodePipeline", "The CloudFormation action sends the template as TemplateBody, so a template over "
                               "51,200 bytes fails as CreateChangeSet would; an action whose change set has no changes "
                               "succeeds and leaves the stack as it is."),
    Difference("CodePipeline", "A Manual approval that expires fails its action with labstack's own sentence (AWS "
                               "documents only that the execution fails)."),
    Difference("IAM", "A role's PermissionsBoundary is stored but not applied by labstack's evaluator, and session "
                      "policies passed to AssumeRole are not enforced."),
    Difference("CloudWatch", "Metric-math alarms are evaluated for arithmetic, FILL, SUM, AVG, MIN and MAX; other "
                             "functions, anomaly bands and composite alarms stay unevaluated (one log line says so). On "
                             "the `localstack` backend CloudWatch is labstack's, since LocalStack's free CloudWatch "
                             "evaluates only single-metric alarms."),
)
