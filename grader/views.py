"""Views a learner would rather look at than read, redrawn live under a notebook cell: a pipeline
drawn the way the AWS console draws it, a build's phases and log tail, and a deployment's traffic
share per version, error rate, alarm state and lifecycle events on one time axis.

Everything is read through boto3 (and real HTTP requests, through :class:`grader.live.Traffic`),
so the views work on every backend where the data exists. Outside Jupyter they print text.
"""

from __future__ import annotations

import html
import time
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from grader import progress
from grader.backends import LabSession
from grader.live import Traffic, pipeline_table

# Status colours close to the AWS console's (each badge also says its status in words).
COLOURS = {"Succeeded": "#037f0c", "SUCCEEDED": "#037f0c", "InProgress": "#0972d3", "IN_PROGRESS": "#0972d3",
           "Failed": "#d91515", "FAILED": "#d91515", "FAULT": "#d91515", "TIMED_OUT": "#d91515",
           "Stopped": "#5f6b7a", "STOPPED": "#5f6b7a", "Stopping": "#5f6b7a", "Abandoned": "#5f6b7a",
           "Superseded": "#5f6b7a", "Cancelled": "#5f6b7a", "Skipped": "#5f6b7a", "Pending": "#5f6b7a",
           "Waiting": "#8d6605", "Ready": "#8d6605"}
VERSION_COLOURS = ("#0972d3", "#037f0c", "#c33d69", "#8d6605", "#7d33b8", "#1c8e81")
ALARM_COLOURS = {"OK": "#037f0c", "ALARM": "#d91515", "INSUFFICIENT_DATA": "#8c8c94"}
STYLE = ("font-family:system-ui,sans-serif;font-size:13px;color:#16191f")


def badge(status: str) -> str:
    """A coloured status label that says its status in words too."""
    colour = COLOURS.get(status, "#5f6b7a")
    return (f'<span style="background:{colour};color:#fff;border-radius:10px;padding:1px 8px;'
            f'font-weight:600;white-space:nowrap">{html.escape(status)}</span>')


class Panel:
    """One output under a Jupyter cell that each :meth:`show` replaces; elsewhere the text is printed
    (when it changed)."""

    def __init__(self) -> None:
        self._handle: Any = None
        self._last: str | None = None

    def show(self, markup: str, text: str) -> None:
        """Show ``markup`` (HTML) in Jupyter, ``text`` anywhere else."""
        try:
            from IPython import get_ipython
            from IPython.display import HTML, display
        except ImportError:
            get_ipython = None
        if get_ipython is None or get_ipython() is None:
            if text != self._last:
                print(text)
            self._last = text
            return
        if self._handle is None:
            self._handle = display(HTML(markup), display_id=True)
        else:
            self._handle.update(HTML(markup))


# -- pipelines ----------------------------------------------------------------------------
def pipeline_html(pipeline: dict[str, Any], state: dict[str, Any]) -> str:
    """Pipeline ``pipeline`` (GetPipeline's ``pipeline``) in ``state`` (GetPipelineState): stages top
    to bottom, actions of one runOrder side by side, transitions and approvals shown."""
    states = {s["stageName"]: s for s in state.get("stageStates", [])}
    parts = [(f'<div style="{STYLE}"><div style="font-size:15px;font-weight:700;margin-bottom:6px">'
             f'{html.escape(pipeline["name"])}</div>')]
    for index, stage in enumerate(pipeline["stages"]):
        current = states.get(stage["name"], {})
        transition = current.get("inboundTransitionState", {})
        if index and transition.get("enabled") is False:
            reason = html.escape(transition.get("disabledReason") or "")
            parts.append(f'<div style="margin:2px 0 2px 20px;color:#d91515">⛔ transition disabled {reason}</div>')
        elif index:
            parts.append('<div style="margin-left:28px;color:#5f6b7a">↓</div>')
        latest = current.get("latestExecution", {})
        parts.append('<div style="border:1px solid #c6c6cd;border-radius:8px;padding:6px 10px;margin:2px 0">'
                     f'<b>{html.escape(stage["name"])}</b> {badge(latest.get("status", "Not run"))} '
                     f'<span style="color:#5f6b7a">{html.escape(latest.get("pipelineExecutionId", "")[:8])}</span>')
        actions = {a["actionName"]: a for a in current.get("actionStates", [])}
        for order in sorted({a.get("runOrder", 1) for a in stage["actions"]}):
            row = [a for a in stage["actions"] if a.get("runOrder", 1) == order]
            parts.append('<div style="display:flex;gap:8px;margin-top:6px">')
            parts.extend(_action_card(action, actions.get(action["name"], {})) for action in row)
            parts.append("</div>")
        parts.append("</div>")
    parts.append("</div>")
    return "".join(parts)


def _action_card(action: dict[str, Any], state: dict[str, Any]) -> str:
    run = state.get("latestExecution", {})
    status = run.get("status", "Not run")
    kind = action["actionTypeId"]
    if kind["category"] == "Approval" and status == "InProgress":
        status = "Waiting"
    said = (run.get("summary") or (run.get("errorDetails") or {}).get("message") or "").split("\n")[0][:90]
    return ('<div style="border:1px solid #e9ebed;border-radius:6px;padding:4px 8px;min-width:150px">'
            f'<div><b>{html.escape(action["name"])}</b></div>'
            f'<div style="color:#5f6b7a">{html.escape(kind["provider"])}</div><div>{badge(status)}</div>'
            f'<div style="color:#414d5c;max-width:260px">{html.escape(said)}</div></div>')


def watch_pipeline(session: LabSession, name: str, execution_id: str, *, timeout: float = 300,
                   stop_at_approval: bool = False) -> str:
    """Draw pipeline ``name`` live until execution ``execution_id`` ends (or, with
    ``stop_at_approval``, waits for an approval); its status, or ``WaitingForApproval``."""
    client = session.client("codepipeline")
    pipeline = client.get_pipeline(name=name)["pipeline"]
    panel = Panel()

    def draw() -> dict[str, Any]:
        state = client.get_pipeline_state(name=name)
        panel.show(pipeline_html(pipeline, state), pipeline_table(session, name))
        return state

    def settled() -> str | None:
        state = draw()
        status = client.get_pipeline_execution(pipelineName=name, pipelineExecutionId=execution_id)[
            "pipelineExecution"]["status"]
        if status not in ("InProgress", "Stopping"):
            return str(status)
        if stop_at_approval and _waiting_approval(state, execution_id):
            return "WaitingForApproval"
        return None

    status = progress.wait(settled, timeout=timeout, label=f"{name} {execution_id[:8]}")
    draw()
    return status


def _waiting_approval(state: dict[str, Any], execution_id: str) -> bool:
    return any(a.get("latestExecution", {}).get("status") == "InProgress" and a.get("latestExecution", {}).get("token")
               for s in state.get("stageStates", []) if s.get("latestExecution", {}).get("pipelineExecutionId") == execution_id
               for a in s.get("actionStates", []))


# -- builds -------------------------------------------------------------------------------
def build_html(build: dict[str, Any], log: list[str]) -> str:
    """A build's phases with their status and duration, and the tail of its log."""
    rows = []
    for phase in build.get("phases", []):
        seconds = phase.get("durationInSeconds")
        rows.append(f'<tr><td>{html.escape(phase["phaseType"])}</td><td>{badge(phase.get("phaseStatus", "IN_PROGRESS"))}'
                    f'</td><td style="text-align:right">{"" if seconds is None else f"{seconds} s"}</td></tr>')
    tail = html.escape("\n".join(log[-15:]))
    return (f'<div style="{STYLE}"><b>{html.escape(build["id"])}</b> {badge(build["buildStatus"])}'
            '<table style="margin:6px 0"><caption style="text-align:left">Phases</caption>'
            '<tr><th scope="col">Phase</th><th scope="col">Status</th><th scope="col">Duration</th></tr>'
            f'{"".join(rows)}</table><pre style="background:#f4f4f4;padding:6px;max-height:260px;overflow:auto">'
            f'{tail}</pre></div>')


def build_text(build: dict[str, Any], log: list[str]) -> str:
    """The same as :func:`build_html`, as text."""
    lines = [f"{build['id']}  {build['buildStatus']}"]
    lines += [f"  {p['phaseType']:<18} {p.get('phaseStatus', 'IN_PROGRESS'):<12} {p.get('durationInSeconds', '')}"
              for p in build.get("phases", [])]
    return "\n".join(lines + ["", *log[-15:]])


def build_log(session: LabSession, build: dict[str, Any]) -> list[str]:
    """The build's log lines so far (CloudWatch Logs), or none yet."""
    logs = build.get("logs", {})
    if not logs.get("groupName") or not logs.get("streamName"):
        return []
    try:
        events = session.client("logs").get_log_events(logGroupName=logs["groupName"], logStreamName=logs["streamName"],
                                                       startFromHead=True)["events"]
    except session.client("logs").exceptions.ResourceNotFoundException:
        return []
    return [e["message"].rstrip("\n") for e in events]


def watch_build(session: LabSession, build_id: str, *, timeout: float = 300) -> dict[str, Any]:
    """Show build ``build_id``'s phases and log tail live until it completes; the build."""
    client = session.client("codebuild")
    panel = Panel()

    def done() -> dict[str, Any] | None:
        build = client.batch_get_builds(ids=[build_id])["builds"][0]
        log = build_log(session, build)
        panel.show(build_html(build, log), build_text(build, log))
        return build if build.get("buildComplete") else None

    return progress.wait(done, timeout=timeout, label=f"build {build_id.split(':')[-1][:8]}")


# -- deployments --------------------------------------------------------------------------
@dataclass
class Timeline:
    """What a deployment view has seen, second by second since it started."""

    alarms: list[str] = field(default_factory=list)  # per second: the worst alarm state
    events: dict[str, float] = field(default_factory=dict)  # "AllowTraffic started" -> second
    status: str = "Created"

    def note_events(self, events: Iterable[dict[str, Any]], second: float) -> None:
        for event in events:
            for word, key in (("started", "startTime"), ("ended", "endTime")):
                label = f"{event['lifecycleEventName']} {word}"
                if event.get(key) and label not in self.events and event.get("status") != "Skipped":
                    self.events[label] = second


def deployment_svg(seconds: list[Counter], timeline: Timeline, width: int = 720) -> str:
    """Traffic share per version (stacked bars per second), the 5xx rate (a red line), the alarm state
    (a band below) and lifecycle events (marked lines), on one time axis."""
    height, plot, band = 250, 170, 16
    count = max(len(seconds), 1)
    step = (width - 60) / count
    versions = sorted({v for c in seconds for (v, _s) in c if v != "no answer"} | ({"no answer"} if any(
        ("no answer", 0) in c for c in seconds) else set()))
    colours = {v: VERSION_COLOURS[i % len(VERSION_COLOURS)] for i, v in enumerate(versions)}
    parts = [(f'<svg role="img" aria-label="traffic by version, errors, alarm state and lifecycle events over time" '
             f'width="{width}" height="{height}" style="{STYLE}" xmlns="http://www.w3.org/2000/svg">'),
             f'<line x1="50" y1="{plot}" x2="{width - 10}" y2="{plot}" stroke="#8c8c94"/>',
             f'<text x="4" y="14">100%</text><text x="10" y="{plot}">0%</text>']
    errors = []
    for i, counts in enumerate(seconds):
        total = sum(counts.values())
        if not total:
            continue
        x, top = 50 + i * step, plot
        for version in versions:
            share = sum(n for (v, _s), n in counts.items() if v == version) / total
            if share:
                h = share * (plot - 10)
                top -= h
                parts.append(f'<rect x="{x:.1f}" y="{top:.1f}" width="{max(step - 1, 1):.1f}" height="{h:.1f}" '
                             f'fill="{colours[version]}"><title>{html.escape(version)} {share:.0%} at {i} s</title></rect>')
        errors.append((x + step / 2, plot - (plot - 10) * sum(n for (_v, s), n in counts.items() if s >= 500) / total))
    if errors:
        points = " ".join(f"{x:.1f},{y:.1f}" for x, y in errors)
        parts.append(f'<polyline points="{points}" fill="none" stroke="#d91515" stroke-width="2"/>')
    for i, state in enumerate(timeline.alarms):
        parts.append(f'<rect x="{50 + i * step:.1f}" y="{plot + 8}" width="{max(step, 1):.1f}" height="{band}" '
                     f'fill="{ALARM_COLOURS.get(state, "#e9ebed")}"><title>alarm {state} at {i} s</title></rect>')
    parts.append(f'<text x="4" y="{plot + 20}">alarm</text>')
    for n, (label, second) in enumerate(sorted(timeline.events.items(), key=lambda item: item[1])):
        x = 50 + second * step
        parts.append(f'<line x1="{x:.1f}" y1="4" x2="{x:.1f}" y2="{plot + 26}" stroke="#414d5c" stroke-dasharray="3,3"/>'
                     f'<text x="{x + 2:.1f}" y="{plot + 38 + 12 * (n % 4)}" font-size="10">{html.escape(label)}</text>')
    legend = "  ".join(f'<tspan fill="{colours[v]}">■ {html.escape(v)}</tspan>' for v in versions)
    parts.append(f'<text x="50" y="{height - 4}">{legend} <tspan fill="#d91515">— 5xx rate</tspan>'
                 f'  status: {html.escape(timeline.status)}</text></svg>')
    return "".join(parts)


def deployment_text(seconds: list[Counter], timeline: Timeline, traffic: Traffic) -> str:
    """The same as :func:`deployment_svg`, as text."""
    marks = ", ".join(f"{label} @{second:.0f}s" for label, second in sorted(timeline.events.items(), key=lambda i: i[1]))
    alarm = timeline.alarms[-1] if timeline.alarms else "-"
    return f"{timeline.status}  alarm {alarm}\n{traffic.timeline(10)}\n{marks}"


def watch_deployment(session: LabSession, deployment_id: str, traffic: Traffic, *, alarms: Iterable[str] = (),
                     timeout: float = 300, until: Callable[[dict[str, Any]], bool] | None = None) -> dict[str, Any]:
    """Draw deployment ``deployment_id`` live with the answers ``traffic`` (already started) gets, the
    state of ``alarms`` and the lifecycle events, until it ends (or ``until(info)`` is true); the info."""
    codedeploy, cloudwatch = session.client("codedeploy"), session.client("cloudwatch")
    names, timeline, panel, started = list(alarms), Timeline(), Panel(), time.monotonic()

    def frame() -> dict[str, Any]:
        info = codedeploy.get_deployment(deploymentId=deployment_id)["deploymentInfo"]
        timeline.status = info["status"]
        second = time.monotonic() - started
        try:
            ids = codedeploy.list_deployment_targets(deploymentId=deployment_id)["targetIds"]
            for target in codedeploy.batch_get_deployment_targets(deploymentId=deployment_id, targetIds=ids)["deploymentTargets"]:
                body = target.get("ecsTarget") or target.get("lambdaTarget") or {}
                timeline.note_events(body.get("lifecycleEvents", []), second)
        except codedeploy.exceptions.DeploymentNotStartedException:
            pass
        if names:
            states = {a["StateValue"] for a in cloudwatch.describe_alarms(AlarmNames=names)["MetricAlarms"]}
            worst = next((s for s in ("ALARM", "INSUFFICIENT_DATA", "OK") if s in states), "INSUFFICIENT_DATA")
            timeline.alarms.extend([worst] * max(0, int(second) + 1 - len(timeline.alarms)))
        panel.show(deployment_svg(traffic.seconds, timeline), deployment_text(traffic.seconds, timeline, traffic))
        return info

    def settled() -> dict[str, Any] | None:
        info = frame()
        ended = info["status"] in ("Succeeded", "Failed", "Stopped")
        return info if ended or (until is not None and until(info)) else None

    return progress.wait(settled, timeout=timeout, label=f"deployment {deployment_id}")
