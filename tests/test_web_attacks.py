"""A web page the learner opens attacks the labstack on their laptop, and fails.

Every request here is one a browser sends for a hostile page (a cross-site form, a
``fetch(..., {mode: 'no-cors'})``, an ``<img>``, a page on a DNS-rebound name), sent raw to a real
labstack; each must be refused with a clear 403 and leave every account as it was. Then the
requests labstack's own clients send (the console, the CLI, boto3, git) still go through.
"""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import urlencode, urlsplit

import pytest
from labstack import daemon
from labstack.config import Settings
from labstack.ports import free_port
from labstack.server import build_server

from tests.support import raw
from tests.support.gitcli import git, new_work_tree
from tests.support.server import LabstackProcess, server_env, start_labstack
from tests.support.waiting import wait_for

ACCOUNT = "246824682468"
EVIL = "http://evil.example"
# What a browser adds to a form posted (or a no-cors fetch sent) from a page on another site.
CROSS_SITE = {"Origin": EVIL, "Sec-Fetch-Site": "cross-site", "Sec-Fetch-Mode": "navigate", "Sec-Fetch-Dest": "document"}
FORM = "application/x-www-form-urlencoded"
pytest_plugins = ["tests.support.browser_fixtures"]  # the `browser` fixture


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LabstackProcess]:
    """A labstack of its own (the reset test empties it) that also answers to ``lab.example``."""
    process = start_labstack(tmp_path_factory.mktemp("web-attacks"), LABSTACK_ALLOWED_HOSTS="lab.example")
    yield process
    process.stop()


@pytest.fixture(scope="module")
def holdings(server: LabstackProcess, tmp_path_factory: pytest.TempPathFactory) -> None:
    """Something in two accounts and in git, for the attacks to try to destroy."""
    server.client("s3").create_bucket(Bucket="precious")
    server.client("s3", account=ACCOUNT).create_bucket(Bucket="precious-too")
    server.client("sqs").create_queue(QueueName="orders")
    server.client("codecommit").create_repository(repositoryName="app")
    work = new_work_tree(tmp_path_factory.mktemp("git") / "work", {"app.py": "print('v1')\n"})
    git(work, "push", "--quiet", f"{server.endpoint}/github/org/app.git", "main")


def port(server: LabstackProcess) -> int:
    return urlsplit(server.endpoint).port or 80


def buckets(server: LabstackProcess, account: str = "test") -> list[str]:
    return [b["Name"] for b in server.client("s3", account=account).list_buckets()["Buckets"]]


def queues(server: LabstackProcess) -> list[str]:
    return server.client("sqs").list_queues().get("QueueUrls", [])


def query(action: str, **params: str) -> bytes:
    return urlencode({"Action": action, "Version": "2012-11-05", **params}).encode()


def forbidden_json(reply: raw.Reply) -> str:
    assert reply.status == 403 and reply.headers["content-type"] == "application/json", reply
    return reply.json()["message"]


# --- CSRF on labstack's own endpoints ---------------------------------------------------------
@pytest.mark.parametrize("headers", [
    {**CROSS_SITE, "Content-Type": FORM},  # <form method=post action=".../_labstack/reset">
    {"Origin": EVIL, "Content-Type": "text/plain"},  # fetch(url, {method: "POST", mode: "no-cors", body})
    {"Content-Type": FORM},  # a form from a browser that sends neither Origin nor Sec-Fetch-*
    {"Origin": EVIL, "Content-Type": "application/json"},  # what a CORS preflight would have to allow first
], ids=["form", "no-cors-fetch", "form-without-origin", "json-from-elsewhere"])
def test_a_forged_reset_is_refused_and_every_account_survives(server: LabstackProcess, holdings: None,
                                                              headers: dict[str, str]) -> None:
    reply = raw.send(server.endpoint, "/_labstack/reset", {"Host": f"127.0.0.1:{port(server)}", **headers}, b"x=1")
    message = forbidden_json(reply)
    assert "evil.example" in message or "application/json" in message
    assert buckets(server) == ["precious"] and buckets(server, ACCOUNT) == ["precious-too"]


def test_a_forged_approval_answer_is_refused_by_the_console(server: LabstackProcess, holdings: None) -> None:
    body = json.dumps({"pipelineName": "p", "stageName": "s", "actionName": "a", "token": "t", "status": "Approved"})
    reply = raw.send(server.endpoint, "/_labstack/api/approvals?account=123456789012",
                     {**CROSS_SITE, "Content-Type": "text/plain"}, body.encode())
    assert "evil.example" in forbidden_json(reply)


HOSTILE_PAGE = """<!doctype html><title>cute cats</title>
<form id="wipe" method="post" action="{labstack}/_labstack/reset"><input name="x" value="1"></form>
<script>
const sent = [
  new Promise((done) => {{ const img = new Image(); img.onload = img.onerror = done;
    img.src = "{labstack}/?Action=CreateQueue&Version=2012-11-05&QueueName=pwned-by-img"; }}),
  fetch("{labstack}/", {{method: "POST", mode: "no-cors", headers: {{"Content-Type": "{form}"}},
    body: "Action=CreateQueue&Version=2012-11-05&QueueName=pwned-by-fetch"}}).catch(() => null),
  fetch("{labstack}/_labstack/api/approvals?account=123456789012", {{method: "POST", mode: "no-cors",
    body: '{{"pipelineName": "p"}}'}}).catch(() => null),
];
Promise.all(sent).then(() => document.getElementById("wipe").submit());
</script>"""


@pytest.mark.slow
def test_a_hostile_page_in_a_real_browser_changes_nothing(server: LabstackProcess, holdings: None, browser: Any) -> None:
    """chromium opens a page on localhost:<another port>: an <img>, two no-cors fetches, then a form
    posted to the reset; the form's answer, shown in the tab, is labstack's refusal."""
    page = HOSTILE_PAGE.format(labstack=server.endpoint, form=FORM).encode()

    class Hostile(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 - http.server's name
            self.send_response(200)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(page)))
            self.end_headers()
            self.wfile.write(page)

        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
            pass

    site = ThreadingHTTPServer(("127.0.0.1", 0), Hostile)
    threading.Thread(target=site.serve_forever, daemon=True).start()
    try:
        browser.send("Page.navigate", url=f"http://localhost:{site.server_address[1]}/")
        refusal = browser.wait_for("location.href.endsWith('/_labstack/reset') && document.body.innerText",
                                   "the form's answer from labstack")
        assert "another origin (http://localhost:" in refusal
    finally:
        site.shutdown()
        site.server_close()
    assert buckets(server) == ["precious"] and buckets(server, ACCOUNT) == ["precious-too"]
    assert not any("pwned" in q for q in queues(server))


def test_the_console_page_may_be_opened_from_a_link_on_another_site(server: LabstackProcess) -> None:
    # a learner clicks the console's link in JupyterLab (another port, or localhost against 127.0.0.1)
    link = {"Sec-Fetch-Site": "cross-site", "Sec-Fetch-Mode": "navigate", "Sec-Fetch-Dest": "document"}
    page = raw.send(server.endpoint, "/_labstack/", link, method="GET")
    assert page.status == 200 and b"<html" in page.body.lower()
    # but no other kind of request from there: an <img> or a script fetching labstack's views
    embedded = raw.send(server.endpoint, "/_labstack/status", {**link, "Sec-Fetch-Mode": "no-cors"}, method="GET")
    assert "Sec-Fetch-Site" in forbidden_json(embedded)


# --- DNS rebinding --------------------------------------------------------------------------
def test_a_rebound_host_name_reaches_nothing(server: LabstackProcess, holdings: None, tmp_path: Path) -> None:
    evil = f"evil.example:{port(server)}"
    status = raw.send(server.endpoint, "/_labstack/status", {"Host": evil}, method="GET")
    assert "--allowed-host evil.example" in forbidden_json(status)
    # an AWS call signed with the laptop's well-known key, in each protocol's own error shape
    body = query("CreateQueue", QueueName="pwned")
    signed = raw.sign(f"http://{evil}/", "sqs", {"Host": evil, "Content-Type": FORM}, body)
    reply = raw.send(server.endpoint, "/", signed, body)
    assert reply.status == 403 and b"<ErrorResponse>" in reply.body and b"<Code>AccessDenied</Code>" in reply.body
    s3 = raw.send(server.endpoint, "/precious", raw.sign(f"http://{evil}/precious", "s3", {"Host": evil}, b"", method="DELETE"),
                  method="DELETE")
    assert s3.status == 403 and b"<Error><Code>AccessDenied</Code>" in s3.body
    target = {"Host": evil, "X-Amz-Target": "AmazonSQS.DeleteQueue", "Content-Type": "application/x-amz-json-1.0"}
    delete = json.dumps({"QueueUrl": queues(server)[0]}).encode()
    as_json = raw.send(server.endpoint, "/", raw.sign(f"http://{evil}/", "sqs", target, delete), delete)
    assert as_json.status == 403 and as_json.json()["__type"] == "AccessDeniedException"
    # git, plain text for a plain client
    for path in ("/v1/repos/app/info/refs?service=git-upload-pack", "/github/org/app.git/info/refs?service=git-upload-pack"):
        refs = raw.send(server.endpoint, path, {"Host": evil}, method="GET")
        assert refs.status == 403 and refs.headers["content-type"].startswith("text/plain")
        assert b"DNS rebinding" in refs.body
    assert buckets(server) == ["precious"] and queues(server) and not any("pwned" in q for q in queues(server))


@pytest.mark.parametrize("host", ["localhost", "LOCALHOST.", "precious.localhost", "[::1]", "10.20.30.40", "lab.example"])
def test_loopback_names_ip_literals_and_allowed_hosts_are_answered(server: LabstackProcess, holdings: None,
                                                                   host: str) -> None:
    reply = raw.send(server.endpoint, "/_labstack/status", {"Host": f"{host}:{port(server)}"}, method="GET")
    assert reply.status == 200 and "accounts" in reply.json()


def test_sdks_and_git_through_accepted_names_work(server: LabstackProcess, holdings: None, tmp_path: Path) -> None:
    body = query("ListQueues")
    allowed = f"lab.example:{port(server)}"
    signed = raw.sign(f"http://{allowed}/", "sqs", {"Host": allowed, "Content-Type": FORM}, body)
    assert raw.send(server.endpoint, "/", signed, body).status == 200
    git(tmp_path, "clone", "--quiet", f"{server.endpoint.replace('127.0.0.1', 'localhost')}/github/org/app.git")
    assert (tmp_path / "app" / "app.py").read_text() == "print('v1')\n"


# --- cross-origin calls to the AWS API and git ---------------------------------------------
@pytest.mark.parametrize("signed", [False, True], ids=["unsigned", "signed-test-test"])
def test_a_cross_origin_query_call_is_refused(server: LabstackProcess, holdings: None, signed: bool) -> None:
    body = query("CreateQueue", QueueName="pwned")
    headers = {"Content-Type": FORM, "Origin": EVIL}
    if signed:
        headers = raw.sign(f"{server.endpoint}/", "sqs", headers, body)
    reply = raw.send(server.endpoint, "/", headers, body)
    assert reply.status == 403 and b"<Code>AccessDenied</Code>" in reply.body and b"another origin" in reply.body
    assert not any("pwned" in q for q in queues(server))


def test_a_cross_site_get_without_origin_is_refused(server: LabstackProcess, holdings: None) -> None:
    # <img src="http://127.0.0.1:4566/?Action=CreateQueue&QueueName=pwned">: no Origin, but Fetch Metadata
    path = "/?" + query("CreateQueue", QueueName="pwned").decode()
    reply = raw.send(server.endpoint, path, {"Sec-Fetch-Site": "cross-site", "Sec-Fetch-Mode": "no-cors",
                                             "Sec-Fetch-Dest": "image"}, method="GET")
    assert reply.status == 403 and b"Sec-Fetch-Site: cross-site" in reply.body
    # another port of this host (a learner's app behind a listener, JupyterLab) is no better
    same_site = raw.send(server.endpoint, path, {"Sec-Fetch-Site": "same-site", "Sec-Fetch-Mode": "no-cors"}, method="GET")
    assert same_site.status == 403
    assert not any("pwned" in q for q in queues(server))


def test_a_cross_origin_git_push_is_refused(server: LabstackProcess, holdings: None) -> None:
    reply = raw.send(server.endpoint, "/github/org/app.git/git-receive-pack",
                     {"Origin": f"http://127.0.0.1:{free_port()}", "Content-Type": "text/plain"}, b"0000")
    assert reply.status == 403 and b"another origin" in reply.body


def test_same_origin_requests_go_through(server: LabstackProcess, holdings: None) -> None:
    """The console's own calls carry its origin, which is labstack's."""
    here = f"127.0.0.1:{port(server)}"
    body = json.dumps({"pipelineName": "nothing", "stageName": "s", "actionName": "a",
                       "token": "0" * 8 + "-0000-0000-0000-" + "0" * 12, "status": "Approved"}).encode()
    reply = raw.send(server.endpoint, "/_labstack/api/approvals?account=123456789012",
                     {"Host": here, "Origin": f"http://{here}", "Sec-Fetch-Site": "same-origin",
                      "Content-Type": "application/json"}, body)
    assert reply.status == 404 and reply.json()["error"] == "PipelineNotFoundException"


# --- the reset labstack's clients send ------------------------------------------------------
def test_reset_by_the_cli_and_by_a_custom_header_still_works(server: LabstackProcess, holdings: None) -> None:
    assert daemon.get_json(server.endpoint + "/_labstack/reset", timeout=30, method="POST") == {"reset": True}
    assert buckets(server) == [] and buckets(server, ACCOUNT) == []
    server.client("s3").create_bucket(Bucket="again")
    reply = raw.send(server.endpoint, "/_labstack/reset", {"X-Labstack-Request": "1"})  # curl -X POST -H ...
    assert reply.status == 200 and buckets(server) == []


# --- warm-up: labstack's own views wait for it, never 404 -----------------------------------
@contextmanager
def served(settings: Settings) -> Iterator[Any]:
    """A labstack (the object) serving HTTP from a thread, its warm-up not started."""
    http, labstack = build_server(settings)
    threading.Thread(target=http.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True).start()
    try:
        yield labstack
    finally:
        http.shutdown()
        labstack.shutdown()
        http.server_close()


def test_views_wait_for_warm_up_instead_of_answering_404(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    settings = Settings(port=free_port(), home=tmp_path)
    answers: dict[str, Any] = {}
    waiting: list[float] = []

    def ask(path: str) -> None:
        try:
            with urllib.request.urlopen(settings.endpoint + path, timeout=120) as reply:
                answers[path] = (reply.status, json.loads(reply.read()))
        except urllib.error.HTTPError as exc:
            answers[path] = (exc.code, exc.read())

    with served(settings) as labstack:
        wait_warm = labstack.wait_warm

        def spy(timeout: float = 60.0) -> None:  # marks a request that waits for warm-up
            waiting.append(timeout)
            wait_warm(timeout)

        monkeypatch.setattr(labstack, "wait_warm", spy)
        health = json.loads(urllib.request.urlopen(settings.endpoint + "/_labstack/health", timeout=10).read())
        assert health["ready"] is False  # nothing is warming up yet: it starts below, after the requests
        asking = [threading.Thread(target=ask, args=(path,)) for path in
                  ("/_labstack/inbox", "/_labstack/endpoints", "/_labstack/status")]
        for thread in asking:
            thread.start()
        # warm-up starts only once every request waits for it (or, wrongly, has been answered already)
        wait_for(lambda: len(waiting) == len(asking) or answers)
        labstack.warm_up()
        for thread in asking:
            thread.join(timeout=120)
    assert answers["/_labstack/inbox"] == (200, {"messages": []})
    assert answers["/_labstack/endpoints"] == (200, {"endpoints": []})
    assert answers["/_labstack/status"][0] == 200


def test_views_answer_503_when_warm_up_failed(tmp_path: Path) -> None:
    settings = Settings(port=free_port(), home=tmp_path, extra_providers=("no_such_module:Provider",))
    with served(settings) as labstack:
        labstack.warm_up()
        with pytest.raises(RuntimeError):
            labstack.wait_warm()
        with pytest.raises(urllib.error.HTTPError) as failed:
            urllib.request.urlopen(settings.endpoint + "/_labstack/inbox", timeout=10)
        assert failed.value.code == 503 and "no_such_module" in json.loads(failed.value.read())["error"]
        with urllib.request.urlopen(settings.endpoint + "/_labstack/health", timeout=10) as reply:
            assert reply.status == 200  # health still says how it is


# --- serving beyond loopback ---------------------------------------------------------------
@pytest.mark.parametrize("command", ["serve", "up"])
def test_all_interfaces_without_learners_is_refused_with_what_to_add(tmp_path: Path, command: str) -> None:
    free = free_port()
    result = subprocess.run([sys.executable, "-m", "labstack", command, "--host", "0.0.0.0", "--port", str(free)],
                            env=server_env(LABSTACK_HOME=str(tmp_path)), capture_output=True, text=True, timeout=60)
    assert result.returncode == 2
    assert "--learners FILE" in result.stderr and "--insecure-shared" in result.stderr
    assert not (tmp_path / "labstack.pid").exists()


@pytest.mark.slow
def test_all_interfaces_with_insecure_shared_starts(tmp_path: Path) -> None:
    settings = Settings(host="0.0.0.0", port=free_port(), home=tmp_path, insecure_shared=True)
    daemon.start(settings, wait=60, env=server_env(LABSTACK_HOME=str(tmp_path)))
    try:
        s3 = LabstackProcess(settings, 0).client("s3")  # reached on 127.0.0.1
        s3.create_bucket(Bucket="shared")
        assert [b["Name"] for b in s3.list_buckets()["Buckets"]] == ["shared"]
        rebound = raw.send(settings.endpoint, "/", {"Host": f"evil.example:{settings.port}"}, method="GET")
        assert rebound.status == 403  # the Host rules hold on every address
    finally:
        daemon.stop(settings)
