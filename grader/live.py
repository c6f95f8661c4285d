"""Live views for the pipeline labs: an output that redraws in place while something runs, the
pipeline's stages as a table, real requests counted by the version that answered, the inbox.

Everything here reads the backend through boto3 or plain HTTP, so it works on labstack and AWS
alike; only :func:`listener_url` and :func:`inbox` know where labstack differs.
"""

from __future__ import annotations

import http.client
import json
import threading
import time
import urllib.request
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest

from grader import progress
from grader.backends import LabSession

MARKS = {"Succeeded": "✓", "Failed": "✗", "InProgress": "…", "Stopped": "■", "Stopping": "■", "Abandoned": "–",
         "Superseded": "–", "Cancelled": "–"}


class Live:
    """One output that redraws in place under a Jupyter cell; elsewhere each new frame is printed."""

    def __init__(self) -> None:
        self._handle: Any = None
        self._last: str | None = None

    def show(self, text: str) -> None:
        """Show ``text`` (monospace), replacing what this view showed before; unchanged text is skipped."""
        if text == self._last:
            return
        self._last = text
        try:
            from IPython import get_ipython
            from IPython.display import Pretty, display
        except ImportError:
            print(text)
            return
        if get_ipython() is None:
            print(text)
        elif self._handle is None:
            self._handle = display(Pretty(text), display_id=True)
        else:
            self._handle.update(Pretty(text))


def pipeline_table(session: LabSession, name: str) -> str:
    """Each stage of pipeline ``name`` with its actions' latest status and summary, as text."""
    state = session.client("codepipeline").get_pipeline_state(name=name)
    lines = [f"pipeline {name}"]
    for stage in state["stageStates"]:
        latest = stage.get("latestExecution", {})
        status = latest.get("status", "—")
        lines.append(f"{MARKS.get(status, ' ')} {stage['stageName']:<20} {status:<11} {latest.get('pipelineExecutionId', '')[:8]}")
        for action in stage.get("actionStates", []):
            run = action.get("latestExecution", {})
            said = (run.get("summary") or (run.get("errorDetails") or {}).get("message") or "").split("\n")[0]
            lines.append(f"    {MARKS.get(run.get('status', ''), ' ')} {action['actionName']:<16} "
                         f"{run.get('status', '—'):<11} {said[:60]}".rstrip())
    return "\n".join(lines)


def execution_status(session: LabSession, name: str, execution_id: str) -> str:
    """The status of one execution of pipeline ``name``."""
    execution = session.client("codepipeline").get_pipeline_execution(pipelineName=name, pipelineExecutionId=execution_id)
    return str(execution["pipelineExecution"]["status"])


def approval_token(session: LabSession, name: str, execution_id: str) -> str | None:
    """The token of the Manual approval that execution ``execution_id`` of pipeline ``name`` waits at, if any."""
    for stage in session.client("codepipeline").get_pipeline_state(name=name)["stageStates"]:
        if stage.get("latestExecution", {}).get("pipelineExecutionId") != execution_id:
            continue
        for action in stage.get("actionStates", []):
            run = action.get("latestExecution", {})
            if run.get("status") == "InProgress" and run.get("token"):
                return str(run["token"])
    return None


def stop_waiting_approvals(session: LabSession, name: str) -> list[str]:
    """Stop (abandon) the executions of pipeline ``name`` left waiting for an approval, or still on their way
    to one, which would hold the stage against every newer run; the ids of those stopped, once they are.
    A pipeline without an approval action is left alone."""
    client = session.client("codepipeline")
    stages = client.get_pipeline(name=name)["pipeline"]["stages"]
    if not any(a["actionTypeId"]["category"] == "Approval" for stage in stages for a in stage["actions"]):
        return []
    running = [summary["pipelineExecutionId"]
               for summary in client.list_pipeline_executions(pipelineName=name)["pipelineExecutionSummaries"]
               if summary["status"] == "InProgress"]
    for execution_id in running:
        client.stop_pipeline_execution(pipelineName=name, pipelineExecutionId=execution_id, abandon=True,
                                       reason="left waiting for an approval; a newer run replaces it")
        progress.wait(lambda e=execution_id: execution_status(session, name, e) not in ("InProgress", "Stopping"),
                      timeout=60, label=f"stopping {execution_id[:8]}")
    return running


def newest_execution(session: LabSession, name: str, revision: str | None = None) -> dict[str, Any] | None:
    """The newest execution of pipeline ``name`` (of source ``revision``, when given), or None."""
    for summary in session.client("codepipeline").list_pipeline_executions(pipelineName=name)["pipelineExecutionSummaries"]:
        revisions = [r.get("revisionId") for r in summary.get("sourceRevisions", [])]
        if revision is None or revision in revisions:
            return dict(summary)
    return None


def stage_status(session: LabSession, name: str, stage: str, execution_id: str) -> str | None:
    """The status of ``stage`` in execution ``execution_id`` of pipeline ``name``, once that execution reached it."""
    for state in session.client("codepipeline").get_pipeline_state(name=name)["stageStates"]:
        latest = state.get("latestExecution", {})
        if state["stageName"] == stage and latest.get("pipelineExecutionId") == execution_id:
            return str(latest["status"])
    return None


def watch(session: LabSession, name: str, execution_id: str, *, timeout: float = 300,
          stop_at_approval: bool = False, stop_after: str | None = None, also: Callable[[], str] | None = None) -> str:
    """Redraw pipeline ``name``'s stages (and what ``also()`` says) under a progress bar until execution
    ``execution_id`` ends, or waits for an approval (``stop_at_approval``), or is through the stage
    ``stop_after``; its status (``WaitingForApproval``, ``<stage> Succeeded`` in the last two cases)."""
    view = Live()

    def frame() -> str:
        return pipeline_table(session, name) + (f"\n\n{also()}" if also else "")

    def settled() -> str | None:
        view.show(frame())
        status = execution_status(session, name, execution_id)
        if status not in ("InProgress", "Stopping"):
            return status
        if stop_at_approval and approval_token(session, name, execution_id):
            return "WaitingForApproval"
        done = stop_after and stage_status(session, name, stop_after, execution_id)
        if done in ("Succeeded", "Failed", "Stopped"):
            return f"{stop_after} {done}"
        return None

    status = progress.wait(settled, timeout=timeout, label=f"{name} {execution_id[:8]}")
    view.show(frame())
    return status


def listener_url(session: LabSession, load_balancer: str, port: int) -> str:
    """Where requests to ``load_balancer``'s listener on ``port`` go: on AWS its DNS name, on
    labstack the local port that listener answers on (``/_labstack/endpoints``)."""
    balancer = session.client("elbv2").describe_load_balancers(Names=[load_balancer])["LoadBalancers"][0]
    endpoint = session.backend.endpoint_for("elbv2")
    if endpoint is None:
        return f"http://{balancer['DNSName']}:{port}"
    listed = labstack_json(session, f"{endpoint.rstrip('/')}/_labstack/endpoints")["endpoints"]
    for entry in listed:
        if entry["loadBalancerArn"] == balancer["LoadBalancerArn"] and entry["port"] == port:
            return str(entry["url"])
    raise LookupError(f"{load_balancer} has no listener on port {port} yet")


def listener_weights(session: LabSession, listener_arn: str) -> dict[str, int]:
    """How the listener splits its traffic: weight per target group name (what CodeDeploy shifts)."""
    listener = session.client("elbv2").describe_listeners(ListenerArns=[listener_arn])["Listeners"][0]
    weights: dict[str, int] = {}
    for action in listener["DefaultActions"]:
        groups = action.get("ForwardConfig", {}).get("TargetGroups") or [{"TargetGroupArn": action.get("TargetGroupArn"), "Weight": 1}]
        for group in groups:
            if group.get("TargetGroupArn"):
                weights[group["TargetGroupArn"].split("/")[-2]] = int(group.get("Weight", 1))
    total = sum(weights.values()) or 1
    return {name: round(100 * weight / total) for name, weight in weights.items()}


def inbox(session: LabSession) -> list[dict[str, Any]]:
    """What SNS delivered to email subscriptions in this account, oldest first (labstack's local
    inbox; where labstack does not serve SNS the messages are in the subscribed mailbox instead,
    so this is empty)."""
    endpoint = session.backend.endpoint_for("sns")
    if endpoint is None or endpoint != session.backend.endpoint:
        return []
    return list(labstack_json(session, f"{endpoint.rstrip('/')}/_labstack/inbox?account={session.account}")["messages"])


def labstack_json(session: LabSession, url: str) -> dict[str, Any]:
    """A GET of one of labstack's own endpoints, signed (SigV4) with the lab's credentials: a labstack
    that serves a class answers each learner about their own account only."""
    request = AWSRequest(method="GET", url=url)
    credentials = session.boto.get_credentials()
    if credentials is not None:
        SigV4Auth(credentials.get_frozen_credentials(), "labstack", session.region).add_auth(request)
    with urllib.request.urlopen(urllib.request.Request(url, headers=dict(request.headers.items())),
                                timeout=10) as response:
        return dict(json.loads(response.read()))


def request(url: str, timeout: float = 5.0) -> tuple[int, str]:
    """One ``GET url``: (status, the version that answered: its ``X-App-Version`` header)."""
    parts = urlsplit(url)
    connection = http.client.HTTPConnection(parts.hostname or "127.0.0.1", parts.port or 80, timeout=timeout)
    try:
        connection.request("GET", parts.path or "/")
        response = connection.getresponse()
        response.read()
        return response.status, response.getheader("X-App-Version") or "?"
    finally:
        connection.close()


@dataclass
class Traffic:
    """Steady requests to ``url`` in a background thread, counted per second by version and status.

    ``start()`` begins, ``stop()`` ends; :meth:`recent` and :meth:`timeline` read what came back.
    """

    url: str
    rps: float = 20.0
    seconds: list[Counter] = field(default_factory=list)
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def start(self) -> Traffic:
        """Start sending; returns self."""
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop sending and wait for the last request."""
        self._stop.set()
        if self._thread:
            self._thread.join(timeout=10)

    def _run(self) -> None:
        started = time.monotonic()
        while not self._stop.is_set():
            second = int(time.monotonic() - started)
            while len(self.seconds) <= second:
                self.seconds.append(Counter())
            try:
                status, version = request(self.url)
                self.seconds[second][(version, status)] += 1
            except OSError:
                self.seconds[second][("no answer", 0)] += 1
            time.sleep(1 / self.rps)

    def recent(self, seconds: int = 2) -> Counter:
        """Answers of the last ``seconds`` whole seconds, by (version, status)."""
        total: Counter = Counter()
        for counts in self.seconds[-seconds - 1:-1] or self.seconds[-1:]:
            total.update(counts)
        return total

    def timeline(self, width: int = 30) -> str:
        """One line per second of the last ``width``: each version's share of the answers, and 5xx."""
        lines = []
        for index, counts in list(enumerate(self.seconds))[-width:]:
            total = sum(counts.values()) or 1
            versions: Counter = Counter()
            for (version, _status), n in counts.items():
                versions[version] += n
            errors = sum(n for (_v, status), n in counts.items() if status >= 500)
            shares = "  ".join(f"{v} {100 * n / total:3.0f}%" for v, n in sorted(versions.items()))
            lines.append(f"t={index:3d}s  {shares:<28} 5xx {errors}")
        return "\n".join(lines)
