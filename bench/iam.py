"""What enforcing IAM costs (issue 20), each figure beside the same work with ``LABSTACK_IAM=off``:

1. one authorization decision, in process: the gate deciding a call of an IAM user with 10 attached
   managed policies (policies read from moto's state, parsed once, evaluated), p50;
2. the same call end to end through a labstack's gateway (signed ``ssm.DescribeParameters`` replayed
   over HTTP), p50, on a labstack that enforces beside one that does not;
3. the six lab solutions with papermill, in order, each on a fresh account, the two labstacks taking
   turns lab by lab so drift on the machine affects them alike.
"""

from __future__ import annotations

import json
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import boto3

from bench.core import Figure, Options
from bench.measure import interleaved, percentile, prepare, timed_sender
from bench.servers import HOST, healthy_labstack
from grader import catchup, checks, notebooks
from grader.backends import Backend, LabSession, fresh_account

POLICIES = 10


def _statements(index: int, account: str) -> dict[str, Any]:
    """A realistic managed policy: a few statements on narrow resources, one on the call measured last."""
    return {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": ["s3:GetObject", "s3:PutObject"], "Resource": f"arn:aws:s3:::bucket-{index}/*"},
        {"Effect": "Allow", "Action": "logs:PutLogEvents",
         "Resource": f"arn:aws:logs:us-east-1:{account}:log-group:/aws/codebuild/p{index}:*"},
        {"Effect": "Allow", "Action": ["ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer"],
         "Resource": f"arn:aws:ecr:us-east-1:{account}:repository/r{index}",
         "Condition": {"StringEquals": {"aws:RequestedRegion": "us-east-1"}}},
        {"Effect": "Allow", "Action": "ssm:DescribeParameters" if index == POLICIES - 1 else f"ssm:GetParameter{index}",
         "Resource": "*"}]}


def _user_with_policies(iam: Any, account: str) -> dict[str, str]:
    """An IAM user with ``POLICIES`` customer managed policies attached; its access key."""
    iam.create_user(UserName="bench")
    for index in range(POLICIES):
        arn = iam.create_policy(PolicyName=f"bench-{index}", PolicyDocument=json.dumps(_statements(index, account)))
        iam.attach_user_policy(UserName="bench", PolicyArn=arn["Policy"]["Arn"])
    return iam.create_access_key(UserName="bench")["AccessKey"]


def _client(endpoint: str, service: str, key: dict[str, str] | None = None, account: str = "") -> Any:
    keys = (key["AccessKeyId"], key["SecretAccessKey"]) if key else (account, "test")
    return boto3.session.Session(aws_access_key_id=keys[0], aws_secret_access_key=keys[1],
                                 region_name="us-east-1").client(service, endpoint_url=endpoint)


def decision_figures(options: Options) -> list[Figure]:
    """Figure 1, in this process: labstack's gate over moto's in-process state, enforce beside off."""
    from moto import mock_aws

    from labstack.config import Settings
    from labstack.context import RequestContext
    from labstack.errors import JSON
    from labstack.instance import Labstack

    account = fresh_account()
    with mock_aws(), tempfile.TemporaryDirectory() as home:
        iam = boto3.client("iam", region_name="us-east-1", aws_access_key_id=account, aws_secret_access_key="x")
        from moto.core import DEFAULT_ACCOUNT_ID  # moto's in-process state lives in its default account

        key = _user_with_policies(iam, DEFAULT_ACCOUNT_ID)
        stacks = {mode: Labstack(Settings(home=Path(home) / mode, iam_mode=mode)) for mode in ("enforce", "off")}
        identity = stacks["enforce"].keyring.lookup(key["AccessKeyId"])
        ctx = RequestContext(DEFAULT_ACCOUNT_ID, "us-east-1", service="ssm")

        def sampler(mode: str) -> Callable[[], float]:
            gate = stacks[mode].gate

            def once() -> float:
                started = time.perf_counter()
                gate.check(ctx, identity, "DescribeParameters", {}, JSON)
                return time.perf_counter() - started
            return once

        samples = interleaved({mode: sampler(mode) for mode in stacks}, options.requests * 10, options.warmup * 10)
    on, off = (percentile(samples[m], 50) * 1000 for m in ("enforce", "off"))
    figure = Figure("iam_decision_p50_ms", f"one authorization decision, {POLICIES} attached managed policies, in "
                    "process (reference: the gate with LABSTACK_IAM=off)", "ms", on, off, target="<= 0.2 ms",
                    detail={"samples": len(samples["enforce"])})
    figure.met = on <= 0.2
    return [figure]


def call_figures(options: Options) -> list[Figure]:
    """Figure 2: the same call end to end, a labstack enforcing beside one with LABSTACK_IAM=off."""
    samplers: dict[str, Callable[[], float]] = {}
    with healthy_labstack(LABSTACK_IAM="enforce") as on, healthy_labstack(LABSTACK_IAM="off") as off:
        for name, server in (("enforce", on), ("off", off)):
            account = fresh_account()
            key = _user_with_policies(_client(server.endpoint, "iam", account=account), account)
            request = prepare(_client(server.endpoint, "ssm", key), "describe_parameters")
            samplers[name] = timed_sender(HOST, server.port, request)
        samples = interleaved(samplers, options.requests, options.warmup)
    enforce, reference = (percentile(samples[m], 50) * 1000 for m in ("enforce", "off"))
    return [Figure("iam_call_p50_ms", f"ssm.DescribeParameters by an IAM user with {POLICIES} attached policies, "
                   "through the gateway (reference: the same on a labstack with LABSTACK_IAM=off)", "ms",
                   enforce, reference)]


def labs_figures(progress: Callable[[str], None]) -> list[Figure]:
    """Figure 3: the six solutions with papermill, enforce beside off, taking turns lab by lab."""
    spent = {"enforce": 0.0, "off": 0.0}
    with healthy_labstack(LABSTACK_IAM="enforce") as on, healthy_labstack(LABSTACK_IAM="off") as off, \
            tempfile.TemporaryDirectory() as folder:
        sessions = {mode: LabSession.for_key(Backend("embedded", server.endpoint), fresh_account())
                    for mode, server in (("enforce", on), ("off", off))}
        for mode in sessions:
            (Path(folder) / mode).mkdir()
        for number in checks.lab_numbers():
            for mode, session in sessions.items():
                started = time.perf_counter()
                report = catchup.solve(number, session, Path(folder) / mode / f"{notebooks.slug(number)}.ipynb")
                spent[mode] += time.perf_counter() - started
                if not report.passed:
                    raise RuntimeError(f"lab {number:02d} with LABSTACK_IAM={mode}: its checks fail:\n{report.text()}")
            progress(f"lab {number:02d} solution, enforce and off")
    figure = Figure("iam_labs_total_s", "the six lab solutions with papermill, in order, LABSTACK_IAM=enforce "
                    "(reference: the same on a labstack with LABSTACK_IAM=off, taking turns lab by lab)", "s",
                    spent["enforce"], spent["off"], target="<= 1.05x")
    figure.met = figure.ratio <= 1.05
    return [figure]


def run(options: Options, progress: Callable[[str], None]) -> list[Figure]:
    """All three figures."""
    figures = decision_figures(options)
    progress("decision in process")
    figures += call_figures(options)
    progress("call through the gateway")
    return figures + labs_figures(progress)
