"""docker-compose.yml and the Dockerfile, checked without a Docker engine: the compose file
keeps to the Compose Specification's structure for what it uses, and the image builds from
files the repository has."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
COMPOSE = ROOT / "docker-compose.yml"
DOCKERFILE = ROOT / "Dockerfile"
TOP_LEVEL = {"version", "name", "include", "services", "networks", "volumes", "secrets", "configs", "models"}
# The service attributes of the Compose Specification (services.<name>.*).
SERVICE = {
    "annotations", "attach", "blkio_config", "build", "cap_add", "cap_drop", "cgroup", "cgroup_parent", "command",
    "configs", "container_name", "cpu_count", "cpu_percent", "cpu_period", "cpu_quota", "cpu_rt_period",
    "cpu_rt_runtime", "cpu_shares", "cpus", "cpuset", "credential_spec", "depends_on", "deploy", "develop",
    "device_cgroup_rules", "devices", "dns", "dns_opt", "dns_search", "domainname", "entrypoint", "env_file",
    "environment", "expose", "extends", "external_links", "extra_hosts", "gpus", "group_add", "healthcheck",
    "hostname", "image", "init", "ipc", "isolation", "label_file", "labels", "links", "logging", "mac_address",
    "mem_limit", "mem_reservation", "mem_swappiness", "memswap_limit", "network_mode", "networks", "oom_kill_disable",
    "oom_score_adj", "pid", "pids_limit", "platform", "ports", "post_start", "pre_stop", "privileged", "profiles",
    "pull_policy", "read_only", "restart", "runtime", "scale", "secrets", "security_opt", "shm_size", "stdin_open",
    "stop_grace_period", "stop_signal", "storage_opt", "sysctls", "tmpfs", "tty", "ulimits", "user", "userns_mode",
    "uts", "volumes", "volumes_from", "working_dir",
}
BUILD = {"context", "dockerfile", "dockerfile_inline", "args", "ssh", "labels", "cache_from", "cache_to", "no_cache",
         "additional_contexts", "network", "pull", "target", "shm_size", "extra_hosts", "isolation", "privileged",
         "secrets", "tags", "ulimits", "platforms", "entitlements"}
HEALTHCHECK = {"disable", "interval", "retries", "test", "timeout", "start_period", "start_interval"}
CONDITIONS = {"service_started", "service_healthy", "service_completed_successfully"}
PORT = re.compile(r"^((\d{1,3}\.){3}\d{1,3}:)?(\d+:)?\d+(/(tcp|udp))?$")
DURATION = re.compile(r"^(\d+(\.\d+)?(us|ms|s|m|h))+$")
# ${VAR}, ${VAR:-default}, ${VAR-default}, ${VAR:?error}; `$$` is a literal dollar.
VARIABLE = re.compile(r"(?<!\$)\$\{([A-Za-z_][A-Za-z0-9_]*)(:?[-?+][^}]*)?\}")


LOCALSTACK_PROFILE = {"localstack", "labstack-localstack", "jupyterlab-localstack"}


def compose() -> dict[str, Any]:
    return yaml.safe_load(COMPOSE.read_text())


def strings(value: Any) -> list[str]:
    """Every string anywhere in ``value``."""
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [s for v in value.values() for s in strings(v)]
    if isinstance(value, list):
        return [s for v in value for s in strings(v)]
    return []


def test_the_compose_file_keeps_to_the_specification_structure() -> None:
    spec = compose()
    assert {k for k in spec if not k.startswith("x-")} <= TOP_LEVEL
    services = spec["services"]
    assert {name for name, service in services.items() if "profiles" not in service} == {"labstack", "jupyterlab"}
    assert set(services) == {"labstack", "jupyterlab", *LOCALSTACK_PROFILE}
    for name, service in services.items():
        assert re.fullmatch(r"[a-zA-Z0-9._-]+", name)
        unknown = {k for k in service if not k.startswith("x-")} - SERVICE
        assert not unknown, f"{name}: {unknown} are not Compose service attributes"
        if "build" in service:
            assert isinstance(service["build"], dict) and set(service["build"]) <= BUILD
            assert (ROOT / service["build"]["context"] / service["build"]["dockerfile"]).is_file()
        else:  # an image from a registry, at a fixed release
            assert re.fullmatch(r"[a-z0-9./-]+:\d[\w.]*", service["image"]), service["image"]
        for port in service.get("ports", []):
            assert isinstance(port, str) and PORT.match(port), port
        for value in service.get("environment", {}).values():
            assert isinstance(value, (str, int, float, bool)) or value is None
        for volume in service.get("volumes", []):
            source, target = volume.split(":")[:2]
            assert (ROOT / source).exists() and target.startswith("/"), volume
        if "healthcheck" in service:
            check = service["healthcheck"]
            assert set(check) <= HEALTHCHECK and check["test"][0] in ("CMD", "CMD-SHELL", "NONE")
            assert all(DURATION.match(check[k]) for k in ("interval", "timeout") if k in check)
        for dependency, how in service.get("depends_on", {}).items():
            assert dependency in services and how["condition"] in CONDITIONS


def test_every_variable_has_a_default_so_compose_needs_no_env_file() -> None:
    for text in strings(compose()):
        for _name, default in VARIABLE.findall(text):
            assert default.startswith((":-", "-")), text


def test_jupyterlab_shares_labstacks_network_and_waits_until_it_is_healthy() -> None:
    services = compose()["services"]
    labstack, jupyterlab = services["labstack"], services["jupyterlab"]
    assert jupyterlab["network_mode"] == "service:labstack"
    assert "ports" not in jupyterlab  # a service in another's namespace cannot publish ports; labstack does
    published = {p.rsplit(":", 1)[-1] for p in labstack["ports"]}
    assert published == {"4566", "8888"}
    assert jupyterlab["depends_on"]["labstack"]["condition"] == "service_healthy"
    assert "/_labstack/health" in " ".join(labstack["healthcheck"]["test"])
    assert jupyterlab["environment"]["AWS_ENDPOINT_URL"] == "http://127.0.0.1:4566"
    assert "./labs:/kit/labs" in jupyterlab["volumes"]
    command = " ".join(jupyterlab["command"])
    assert "Open http://127.0.0.1:8888/lab?token=" in command and "--ServerApp.root_dir=/kit/labs" in command
    # labstack refuses 0.0.0.0 without --learners; --insecure-shared is safe only while the port is
    # published on the host's loopback alone
    assert labstack["command"] == "labstack serve --host 0.0.0.0 --port 4566 --insecure-shared"
    assert all(port.startswith("127.0.0.1:") for port in labstack["ports"])
    assert labstack["image"] == jupyterlab["image"] and labstack["build"] == jupyterlab["build"]


def test_the_image_builds_from_files_the_repository_has() -> None:
    lines = [line.strip() for line in DOCKERFILE.read_text().splitlines() if line.strip() and not line.lstrip().startswith("#")]
    assert lines[0].startswith("FROM python:3.")
    ignored = {line.strip() for line in (ROOT / ".dockerignore").read_text().splitlines() if line.strip() and not line.startswith("#")}
    for line in lines:
        if line.startswith("COPY "):
            *sources, _target = line.split()[1:]
            for source in sources:
                assert (ROOT / source).exists() and source not in ignored, source
    assert {"pyproject.toml", "requirements.lock", "infra", "grader", "labs"}.isdisjoint(ignored)
    assert ".venv" in ignored and ".labstack" in ignored
    # 0.0.0.0 needs --learners or --insecure-shared; the image's default is for ports published on 127.0.0.1
    assert lines[-1] == 'CMD ["labstack", "serve", "--host", "0.0.0.0", "--port", "4566", "--insecure-shared"]'


def test_docker_compose_config_accepts_the_file() -> None:
    """`docker compose config` (or the standalone docker-compose, which .ci/run installs from Debian)
    reads and validates the file, with and without the localstack profile; no engine is needed for that."""
    if shutil.which("docker") and subprocess.run(["docker", "compose", "version"], capture_output=True,
                                                 check=False).returncode == 0:
        command = ["docker", "compose"]
    elif shutil.which("docker-compose"):
        command = ["docker-compose"]
    else:
        pytest.skip("neither `docker compose` nor docker-compose is installed (`apt-get install docker-compose`)")
    for profile in ([], ["--profile", "localstack"]):
        checked = subprocess.run([*command, "-f", str(COMPOSE), *profile, "config", "--quiet"], cwd=ROOT,
                                 capture_output=True, text=True, timeout=60, check=False)
        assert checked.returncode == 0, checked.stderr


def test_the_localstack_profile_puts_labstack_beside_localstack_and_jupyterlab_on_that_backend() -> None:
    services = compose()["services"]
    localstack, labstack, jupyterlab = (services[name] for name in
                                        ("localstack", "labstack-localstack", "jupyterlab-localstack"))
    assert all(services[name]["profiles"] == ["localstack"] for name in LOCALSTACK_PROFILE)
    assert localstack["image"] == "localstack/localstack:2026.03.0"
    assert localstack["environment"]["LOCALSTACK_AUTH_TOKEN"] == "${LOCALSTACK_AUTH_TOKEN:-}"
    assert "ports" not in localstack  # reached through the compose network only
    assert labstack["command"] == ("labstack serve --host 0.0.0.0 --port 4577 --upstream http://localstack:4566 "
                                   "--insecure-shared")
    assert all(port.startswith("127.0.0.1:") for port in labstack["ports"])
    assert labstack["depends_on"]["localstack"]["condition"] == "service_healthy"
    assert "4577" in " ".join(labstack["healthcheck"]["test"])
    # CloudWatch's alarms are labstack's beside LocalStack too, so its lab clock runs at 60 there as well
    assert labstack["environment"]["LABSTACK_TIME_SCALE"] == "${LABSTACK_TIME_SCALE:-60}"
    assert services["labstack"]["environment"]["LABSTACK_TIME_SCALE"] == "${LABSTACK_TIME_SCALE:-60}"
    published = [port.split(":")[1] for port in labstack["ports"]]
    default_published = [port.split(":")[1] for port in services["labstack"]["ports"]]
    assert published == ["4577", "8889"] and not set(published) & set(default_published)
    assert jupyterlab["network_mode"] == "service:labstack-localstack" and "ports" not in jupyterlab
    assert jupyterlab["depends_on"]["labstack-localstack"]["condition"] == "service_healthy"
    env = jupyterlab["environment"]
    assert env["LAB_BACKEND"] == "localstack" and env["LOCALSTACK_ENDPOINT"] == "http://localstack:4566"
    assert env["LABSTACK_ENDPOINT"] == "http://127.0.0.1:4577"
    command = " ".join(jupyterlab["command"])
    assert command.index('eval "$$(grader env)"') < command.index("exec jupyter lab")
    assert "http://127.0.0.1:8889/lab?token=" in command
