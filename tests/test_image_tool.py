"""The daemonless image tool: a Dockerfile becomes a real OCI image, pushed to ECR as `docker` would."""

from __future__ import annotations

import gzip
import hashlib
import http.server
import io
import json
import os
import subprocess
import sys
import tarfile
import threading
from pathlib import Path
from typing import Any

import pytest
from labstack.images.engine import MARK, push_through_labstack
from labstack.images.layout import LocalImages

from tests.support.classmode import engine_request
from tests.support.server import LabstackProcess

ACCOUNT = "258025802580"
REGISTRY = f"{ACCOUNT}.dkr.ecr.us-east-1.amazonaws.com"
DOCKERFILE = """\
# the sample app, as a learner would write it
FROM python:3.12-slim
ARG GREETING=hello
ENV APP_HOME=/app \\
    GREETING=$GREETING
WORKDIR $APP_HOME
COPY requirements.txt .
RUN pip --version > pip-version.txt && echo built > built.txt
COPY app/ ./
EXPOSE 8080
LABEL org.example.version="1"
HEALTHCHECK --interval=5s --retries=3 CMD ["python", "-c", "print('ok')"]
CMD ["python", "app.py"]
"""


def image(tmp_path: Path, dockerfile: str = DOCKERFILE) -> Path:
    context = tmp_path / "context"
    (context / "app").mkdir(parents=True)
    (context / "Dockerfile").write_text(dockerfile)
    (context / "requirements.txt").write_text("")
    (context / "app" / "app.py").write_text("print('hi')\n")
    (context / "app" / "secret.env").write_text("x")
    (context / ".dockerignore").write_text("app/secret.env\n")
    return context


def tool(tmp_path: Path, labstack: LabstackProcess | None, *args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, LABSTACK_IMAGE_STORE=str(tmp_path / "store"), AWS_ACCESS_KEY_ID=ACCOUNT,
               AWS_SECRET_ACCESS_KEY="x", AWS_DEFAULT_REGION="us-east-1")
    if labstack is not None:
        env["AWS_ENDPOINT_URL"] = labstack.endpoint
    return subprocess.run([sys.executable, "-m", "labstack", "image", *args], env=env, input=stdin, check=False,
                          capture_output=True, text=True, timeout=120)


def files_of(store: Path, manifest: dict[str, Any]) -> dict[str, bytes]:
    found = {}
    for layer in manifest["layers"]:
        data = (store / "blobs" / "sha256" / layer["digest"][7:]).read_bytes()
        with tarfile.open(fileobj=io.BytesIO(gzip.decompress(data))) as archive:
            for member in archive.getmembers():
                if member.isfile():
                    found[member.name] = archive.extractfile(member).read()  # type: ignore[union-attr]
    return found


def test_a_dockerfile_becomes_an_oci_image(tmp_path: Path) -> None:
    built = tool(tmp_path, None, "build", "-t", "app:v1", "--build-arg", "GREETING=hej", str(image(tmp_path)))
    assert built.returncode == 0, built.stderr + built.stdout
    assert "Successfully tagged app:v1" in built.stdout
    inspected = json.loads(tool(tmp_path, None, "inspect", "app:v1").stdout)[0]
    config, manifest = inspected["Config"], inspected["Manifest"]
    assert config["config"]["Cmd"] == ["python", "app.py"] and config["config"]["WorkingDir"] == "/app"
    assert "GREETING=hej" in config["config"]["Env"] and config["config"]["ExposedPorts"] == {"8080/tcp": {}}
    assert config["config"]["Healthcheck"]["Test"] == ["CMD", "python", "-c", "print('ok')"]
    assert config["config"]["Labels"]["dev.labstack.base"] == "python:3.12-slim"
    store = tmp_path / "store"
    for blob in [manifest["config"], *manifest["layers"]]:  # real digests: sha256 of the bytes
        data = (store / "blobs" / "sha256" / blob["digest"][7:]).read_bytes()
        assert "sha256:" + hashlib.sha256(data).hexdigest() == blob["digest"] and len(data) == blob["size"]
    files = files_of(store, manifest)
    assert files["app/app.py"] == b"print('hi')\n" and files["app/built.txt"] == b"built\n"
    assert b"pip" in files["app/pip-version.txt"]
    assert "app/secret.env" not in files  # .dockerignore
    assert len(config["rootfs"]["diff_ids"]) == len(manifest["layers"]) == 3  # COPY, RUN, COPY


def test_push_needs_a_login_then_lands_in_ecr(tmp_path: Path, labstack: LabstackProcess) -> None:
    labstack.client("ecr", account=ACCOUNT).create_repository(repositoryName="app")
    reference = f"{REGISTRY}/app:v1"
    assert tool(tmp_path, labstack, "build", "-t", reference, str(image(tmp_path))).returncode == 0
    refused = tool(tmp_path, labstack, "push", reference)
    assert refused.returncode == 1 and "no basic auth credentials" in refused.stderr
    password = labstack.client("ecr", account=ACCOUNT).get_authorization_token()["authorizationData"][0]["authorizationToken"]
    logged_in = tool(tmp_path, labstack, "login", "--username", "AWS", "--password-stdin", REGISTRY, stdin=password)
    assert logged_in.stdout.strip() == "Login Succeeded"
    pushed = tool(tmp_path, labstack, "push", reference)
    assert pushed.returncode == 0, pushed.stderr
    local = json.loads(tool(tmp_path, labstack, "inspect", reference).stdout)[0]["Id"]
    described = labstack.client("ecr", account=ACCOUNT).describe_images(repositoryName="app")["imageDetails"]
    assert [(d["imageDigest"], d["imageTags"]) for d in described] == [(local, ["v1"])]
    again = tool(tmp_path, labstack, "push", reference)
    assert again.returncode == 0 and "Layer already exists" in again.stdout


@pytest.mark.parametrize(("dockerfile", "message"), [
    ("FROM node:18\n", "FROM python:<version> only"),
    ("FROM python:3.12\nVOLUME /data\n", "does not support VOLUME"),
    ("FROM python:3.12\nCOPY --from=builder /a /b\n", "COPY --from is not supported"),
    ("FROM python:3.12\nRUN exit 3\n", "returned a non-zero code: 3"),
    ("FROM python:3.12\nCOPY missing.txt /\n", "missing.txt: no such file or directory in the build context"),
    ("FROM python:3.12\nADD https://example.com/x.tgz /\n", "ADD from a URL is not supported"),
    ("RUN echo no base\n", "must start with FROM"),
])
def test_what_is_not_supported_is_named(tmp_path: Path, dockerfile: str, message: str) -> None:
    result = tool(tmp_path, None, "build", "-t", "bad", str(image(tmp_path, dockerfile)))
    assert result.returncode == 1 and message in result.stderr, result.stderr


def test_only_ecr_repositories_are_pushed_to(tmp_path: Path) -> None:
    assert tool(tmp_path, None, "build", "-t", "docker.io/me/app:v1", str(image(tmp_path))).returncode == 0
    result = tool(tmp_path, None, "push", "docker.io/me/app:v1")
    assert result.returncode == 1 and "labstack pushes to ECR repositories only" in result.stderr


def _engine(labstack: LabstackProcess, body: bytes, method: str = "POST", key: str | None = ACCOUNT) -> tuple[int, dict[str, Any]]:
    """The engine's answer to a push request signed by ``key`` (unsigned when None), as the docker tool sends it."""
    return engine_request(labstack.endpoint, body, method, key, "test")


def test_a_push_is_labstacks_to_make_and_bad_requests_are_named(tmp_path: Path, labstack: LabstackProcess) -> None:
    """`docker push` hands the push to labstack, as the docker CLI hands it to its daemon."""
    store, reference = tmp_path / "store", f"{REGISTRY}/engine:v1"
    labstack.client("ecr", account=ACCOUNT).create_repository(repositoryName="engine")
    assert tool(tmp_path, labstack, "build", "-t", reference, str(image(tmp_path))).returncode == 0
    assert tool(tmp_path, labstack, "login", "-u", "AWS", "--password-stdin", REGISTRY, stdin="token").returncode == 0
    asked = {"store": str(store), "reference": reference}
    status, answer = _engine(labstack, json.dumps(asked).encode())
    assert status == 200 and answer["digest"].startswith("sha256:")
    assert answer["log"][0] == f"The push refers to repository [{REGISTRY}/engine]"
    described = labstack.client("ecr", account=ACCOUNT).describe_images(repositoryName="engine")["imageDetails"]
    assert [d["imageDigest"] for d in described] == [answer["digest"]]  # in the caller's account
    refused = [
        (b"{not json", 400, "a push request is a JSON object"),
        (json.dumps({**asked, "store": "relative/store"}).encode(), 400, "no local image store"),
        (json.dumps({**asked, "reference": ""}).encode(), 400, "must be non-empty strings"),
        (json.dumps({**asked, "reference": f"{REGISTRY}/engine:missing"}).encode(), 400, "An image does not exist locally"),
        (json.dumps({**asked, "reference": "docker.io/me/app:v1"}).encode(), 400, "labstack pushes to ECR repositories only"),
    ]
    for body, code, message in refused:
        status, answer = _engine(labstack, body)
        assert (status, answer["engine"]) == (code, MARK) and message in answer["message"], answer
    assert _engine(labstack, b"", method="GET")[0] == 405
    status, answer = _engine(labstack, json.dumps(asked).encode(), key=None)
    assert status == 403 and "sign the push request" in answer["message"]
    assert labstack.client("ecr", account=ACCOUNT).describe_repositories()["repositories"]  # still up


def test_a_push_elsewhere_than_labstack_is_made_by_the_tool_itself(tmp_path: Path) -> None:
    """An endpoint without labstack's engine (LocalStack, AWS): the tool pushes with its own ECR client."""

    class NotLabstack(http.server.BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            self.send_response(404)
            self.send_header("Content-Type", "application/json")
            self.end_headers()
            self.wfile.write(b'{"message": "not found"}')

        def log_message(self, *args: Any) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), NotLabstack)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        env = {"AWS_ENDPOINT_URL": f"http://127.0.0.1:{server.server_address[1]}", "AWS_ACCESS_KEY_ID": ACCOUNT}
        with pytest.MonkeyPatch.context() as patch:
            for name, value in env.items():
                patch.setenv(name, value)
            assert push_through_labstack(LocalImages(tmp_path), f"{REGISTRY}/app:v1", print) is False
            patch.delenv("AWS_ACCESS_KEY_ID")
            assert push_through_labstack(LocalImages(tmp_path), f"{REGISTRY}/app:v1", print) is False
    finally:
        server.shutdown()
