"""Compute runtimes beside their references: a Lambda invoke beside calling the handler, a
request through an ELB listener beside the same request sent to the target directly."""

from __future__ import annotations

import http.client
import importlib.util
import io
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from labstack.ports import free_port

from bench.core import Figure, Options, client
from bench.measure import prepare, summary, timed_sender
from bench.servers import HOST, Server, healthy_labstack
from tests.support.webapp import VersionApp
from tests.support.webimage import push_web_image

HANDLER = "def handler(event, context):\n    return {'ok': True, 'event': event}\n"
ROLE = json.dumps({"Version": "2012-10-17", "Statement": [
    {"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}]})


def _zip(source: str) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("app.py", source)
    return buffer.getvalue()


def _ms_figure(key: str, label: str, lab: list[float], ref: list[float], reference: str,
               target: str = "", limit_ms: float | None = None) -> Figure:
    lab_p50, ref_p50 = summary(lab)["p50"] * 1000, summary(ref)["p50"] * 1000
    figure = Figure(key, label, "ms", lab_p50, ref_p50, target=target,
                    detail={"reference": reference, "labstack": summary(lab), "reference_stats": summary(ref)})
    if limit_ms is not None:
        figure.met = lab_p50 <= limit_ms
    return figure


def lambda_figures(server: Server, options: Options) -> list[Figure]:
    """Warm and cold invoke of a trivial Python handler."""
    role = client(server, "iam").create_role(RoleName="bench-lambda", AssumeRolePolicyDocument=ROLE)["Role"]["Arn"]
    lam = client(server, "lambda")
    lam.create_function(FunctionName="bench", Runtime="python3.12", Role=role, Handler="app.handler",
                        Code={"ZipFile": _zip(HANDLER)})
    request = prepare(lam, "invoke", FunctionName="bench", Payload=b'{"n": 1}')
    warm = timed_sender(HOST, server.port, request)
    for _ in range(options.warmup):
        warm()
    warm_samples = [warm() for _ in range(options.requests)]
    with tempfile.TemporaryDirectory() as folder:
        (Path(folder) / "app.py").write_text(HANDLER)
        spec = importlib.util.spec_from_file_location("bench_app", Path(folder) / "app.py")
        module = importlib.util.module_from_spec(spec)  # type: ignore[arg-type]
        spec.loader.exec_module(module)  # type: ignore[union-attr]
        in_process = []
        for _ in range(options.requests):
            started = time.perf_counter()
            module.handler({"n": 1}, None)
            in_process.append(time.perf_counter() - started)
        cold, fresh = [], []
        for round_ in range(options.repeat):
            # A configuration change retires the warm worker: the next invoke starts a new one.
            lam.update_function_configuration(FunctionName="bench", Environment={"Variables": {"ROUND": str(round_)}})
            cold.append(warm())
            started = time.perf_counter()
            subprocess.run([sys.executable, "-c", "import app; app.handler({'n': 1}, None)"], cwd=folder, check=True)
            fresh.append(time.perf_counter() - started)
    return [
        _ms_figure("lambda_warm_invoke_p50_ms", "Lambda warm invoke p50 (reference: handler called in-process)",
                   warm_samples, in_process, "the handler called in this process", "labstack p50 <= 20 ms", 20.0),
        _ms_figure("lambda_cold_invoke_p50_ms", f"Lambda cold invoke p50 of {options.repeat} (reference: python runs the handler)",
                   cold, fresh, "a new python process importing and calling the handler", "labstack p50 <= 500 ms", 500.0),
    ]


def _listener_url(server: Server, listener: str) -> str:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        with urllib.request.urlopen(server.endpoint + "/_labstack/endpoints", timeout=5) as response:
            for endpoint in json.loads(response.read())["endpoints"]:
                if endpoint["listenerArn"] == listener:
                    return endpoint["url"]
        time.sleep(0.05)
    raise RuntimeError("the listener never got a local port")


def _get_timer(host: str, port: int) -> Callable[[], float]:
    def once() -> float:
        started = time.perf_counter()
        conn = http.client.HTTPConnection(host, port, timeout=10)
        try:
            conn.request("GET", "/")
            response = conn.getresponse()
            response.read()
        finally:
            conn.close()
        if response.status != 200:
            raise RuntimeError(f"GET / answered {response.status}")
        return time.perf_counter() - started

    return once


def _throughput(once: Callable[[], float], seconds: float = 3.0, threads: int = 4) -> float:
    """Requests per second from ``threads`` clients for ``seconds``."""
    counts = [0] * threads
    stop = time.perf_counter() + seconds

    def loop(index: int) -> None:
        while time.perf_counter() < stop:
            once()
            counts[index] += 1

    workers = [threading.Thread(target=loop, args=(i,)) for i in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    return sum(counts) / seconds


def elb_figures(server: Server, options: Options) -> list[Figure]:
    """Latency added by a listener, and its throughput, beside the target hit directly."""
    app = VersionApp("bench", "127.0.0.4")
    try:
        ec2 = client(server, "ec2")
        vpc = ec2.create_vpc(CidrBlock="10.9.0.0/16")["Vpc"]["VpcId"]
        subnets = [ec2.create_subnet(VpcId=vpc, CidrBlock=f"10.9.{i}.0/24", AvailabilityZone=f"us-east-1{z}")["Subnet"]["SubnetId"]
                   for i, z in ((1, "a"), (2, "b"))]
        elb = client(server, "elbv2")
        group = elb.create_target_group(Name="bench", Protocol="HTTP", Port=app.port, VpcId=vpc, TargetType="ip",
                                        HealthCheckPath="/health")["TargetGroups"][0]["TargetGroupArn"]
        elb.register_targets(TargetGroupArn=group, Targets=[{"Id": app.host, "Port": app.port}])
        balancer = elb.create_load_balancer(Name="bench", Subnets=subnets)["LoadBalancers"][0]["LoadBalancerArn"]
        listener = elb.create_listener(LoadBalancerArn=balancer, Protocol="HTTP", Port=80, DefaultActions=[
            {"Type": "forward", "TargetGroupArn": group}])["Listeners"][0]["ListenerArn"]
        port = int(_listener_url(server, listener).rsplit(":", 1)[1])
        through, direct = _get_timer("127.0.0.1", port), _get_timer(app.host, app.port)
        for _ in range(options.warmup):
            through(), direct()
        lab, ref = [], []
        for _ in range(options.requests):
            lab.append(through())
            ref.append(direct())
        latency = _ms_figure("elb_request_p50_ms", "request through an ELB listener p50 (reference: target directly)",
                             lab, ref, "the same GET sent to the target directly")
        latency.target = "added p50 <= 2 ms"
        latency.met = latency.labstack - latency.moto <= 2.0
        rps = Figure("elb_requests_per_second", "requests/s through a listener, 4 clients (reference: target directly)",
                     "req/s", _throughput(through), _throughput(direct), target="labstack >= 500 req/s")
        rps.met = rps.labstack >= 500
        return [latency, rps]
    finally:
        app.stop()


def _answers(url: str, deadline: float) -> None:
    while time.perf_counter() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=1) as response:
                response.read()
                return
        except OSError:
            time.sleep(0.005)
    raise RuntimeError(f"{url} never answered")


def ecs_figures(server: Server, options: Options) -> list[Figure]:
    """RunTask until the task is RUNNING and answers, beside starting the same app with subprocess."""
    account = "123456789012"
    with tempfile.TemporaryDirectory() as folder:
        image = push_web_image(Endpoint(server), account, Path(folder))
        ecs = client(server, "ecs")
        ecs.create_cluster(clusterName="bench")
        ecs.register_task_definition(family="web", containerDefinitions=[
            {"name": "web", "image": image, "memory": 128, "portMappings": [{"containerPort": 8080}]}])
        lab, ref = [], []
        for _ in range(options.repeat):
            started = time.perf_counter()
            arn = ecs.run_task(cluster="bench", taskDefinition="web")["tasks"][0]["taskArn"]
            while True:
                task = ecs.describe_tasks(cluster="bench", tasks=[arn])["tasks"][0]
                if task["lastStatus"] == "RUNNING":
                    break
                if time.perf_counter() - started > 30:
                    raise RuntimeError(f"the task did not start: {task.get('stoppedReason')}")
                time.sleep(0.01)
            port = task["containers"][0]["networkBindings"][0]["hostPort"]
            _answers(f"http://127.0.0.1:{port}/", started + 30)
            lab.append(time.perf_counter() - started)
            ecs.stop_task(cluster="bench", task=arn)
            port = free_port()
            started = time.perf_counter()
            proc = subprocess.Popen([sys.executable, "app.py"], cwd=folder, env={
                **os.environ, "PORT": str(port), "HOST": "127.0.0.1", "VERSION": "v1"},
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            try:
                _answers(f"http://127.0.0.1:{port}/", started + 30)
                ref.append(time.perf_counter() - started)
            finally:
                proc.kill()
                proc.wait()
    figure = Figure("ecs_task_start_s", f"ECS task start to RUNNING and answering, median of {options.repeat} "
                    "(reference: subprocess starts the app)", "s", summary(lab)["p50"], summary(ref)["p50"],
                    target="labstack <= 1.5 s", detail={"reference": "the same app started with subprocess", "runs_s": lab})
    figure.met = figure.labstack <= 1.5
    return [figure]


class Endpoint:
    """What the tests' helpers need of a server: its endpoint, and boto3 clients for an account."""

    def __init__(self, server: Server) -> None:
        self.server = server
        self.endpoint = server.endpoint

    def client(self, service: str, account: str = "test") -> Any:
        return client(self.server, service, account)


def run(options: Options, progress: Callable[[str], None]) -> list[Figure]:
    """Start one labstack, measure Lambda and ELB, stop it."""
    with healthy_labstack() as server:
        figures = lambda_figures(server, options)
        progress("Lambda invoke")
        figures += elb_figures(server, options)
        progress("ELB listener")
        figures += ecs_figures(server, options)
        progress("ECS task start")
    return figures
