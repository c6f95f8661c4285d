"""The ``labstack`` command: serve in the foreground, or up/down/status/reset/logs in the background."""

from __future__ import annotations

import argparse
import os
import sys
import time
import urllib.error
from typing import Any

from labstack import __version__
from labstack.config import DEFAULT_REGION, Settings
from labstack.localstack import commands as localstack_commands


def _settings(args: argparse.Namespace) -> Settings:
    return Settings.from_env(host=getattr(args, "host", None), port=getattr(args, "port", None),
                             upstream=getattr(args, "upstream", None), learners=getattr(args, "learners", None),
                             allowed_hosts=tuple(getattr(args, "allowed_host", None) or ()),
                             insecure_shared=bool(getattr(args, "insecure_shared", False)))


def env_lines(settings: Settings) -> str:
    """Shell lines that point the AWS CLI and SDKs at labstack (in class mode, with a learner's own keys)."""
    if settings.class_mode:
        keys = [f"# class mode: each learner sets their own key id and secret from {settings.learners}",
                "export AWS_ACCESS_KEY_ID=<access_key_id>", "export AWS_SECRET_ACCESS_KEY=<secret_access_key>"]
    else:
        keys = ["export AWS_ACCESS_KEY_ID=test", "export AWS_SECRET_ACCESS_KEY=test"]
    return "\n".join([f"export AWS_ENDPOINT_URL={settings.endpoint}", *keys,
                      f"export AWS_DEFAULT_REGION={DEFAULT_REGION}"])


def cmd_serve(args: argparse.Namespace) -> int:
    """Serve until a signal; then leave at once. Every runtime has stopped its work by then, and
    waiting for stray threads (a health probe, a client's idle connection) only delays the exit."""
    import logging

    from labstack.server import serve

    code = serve(_settings(args))
    logging.shutdown()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


def cmd_up(args: argparse.Namespace) -> int:
    from labstack import daemon
    from labstack.server import exposure_problem

    settings = _settings(args)
    problem = exposure_problem(settings)
    if problem is not None:
        print(f"labstack: {problem}", file=sys.stderr)
        return 2
    _, stale = daemon.find_running(settings)
    if stale:
        print(f"labstack: removed a stale pid file ({settings.pid_file})")
    try:
        running, new = daemon.start(settings, wait=args.wait)
    except daemon.DaemonError as exc:
        print(f"labstack: {exc}", file=sys.stderr)
        return 1
    endpoint = f"http://127.0.0.1:{running.port}" if running.port != settings.port else settings.endpoint
    if not new:
        print(f"labstack is already running at {endpoint} (pid {running.pid})")
        return 0
    print(f"labstack is running at {endpoint} (pid {running.pid}, log {settings.log_file})")
    print("# point your shell at it:")
    print(env_lines(settings))
    return 0


def cmd_down(args: argparse.Namespace) -> int:
    from labstack import daemon

    settings = _settings(args)
    stopped = daemon.stop(settings)
    if stopped is None:
        print("labstack is not running")
    else:
        print(f"labstack stopped (pid {stopped.pid}); port {stopped.port} is free")
    return 0


def _endpoint_of_running(settings: Settings) -> str | None:
    from labstack import daemon

    running, _ = daemon.find_running(settings)
    if running is None:
        return None
    return f"http://127.0.0.1:{running.port}"


def cmd_status(args: argparse.Namespace) -> int:
    from labstack import daemon

    settings = _settings(args)
    endpoint = _endpoint_of_running(settings) or settings.endpoint
    try:
        status = daemon.get_json(f"{endpoint}/_labstack/status")
    except (OSError, urllib.error.URLError):
        print(f"labstack is not running (nothing answers at {endpoint})")
        return 3
    if args.json:
        import json

        print(json.dumps(status, indent=2))
        return 0
    print(f"endpoint   {status['endpoint']}")
    print(f"version    {status['version']}")
    print(f"uptime     {_duration(status['uptime_seconds'])}")
    print(f"time scale {status['time_scale']:g}x (one lab minute lasts {60 / status['time_scale']:g}s)")
    for entry in status.get("endpoints", []):
        name = entry["loadBalancerArn"].split("/")[-2]
        print(f"listener   {name}:{entry['port']} ({entry['account']}, {entry['region']}) -> {entry['url']}")
    accounts = status["accounts"]
    if not accounts:
        print("accounts   none yet (no resources)")
    for account, data in accounts.items():
        kinds = ", ".join(f"{k} {v}" for k, v in sorted(data["resources"].items())) or "none"
        print(f"account {account}: {data['resource_count']} resources ({kinds}); "
              f"running: {data['builds']} builds, {data['deployments']} deployments, {data['tasks']} tasks")
    return 0


def cmd_reset(args: argparse.Namespace) -> int:
    from labstack import daemon

    settings = _settings(args)
    endpoint = _endpoint_of_running(settings) or settings.endpoint
    try:
        daemon.get_json(f"{endpoint}/_labstack/reset", timeout=60, method="POST")
    except urllib.error.HTTPError as exc:
        print(f"labstack refused the reset ({exc.code}): {exc.read().decode(errors='replace')[:500]}", file=sys.stderr)
        return 1
    except (OSError, urllib.error.URLError):
        print(f"labstack is not running (nothing answers at {endpoint})", file=sys.stderr)
        return 3
    print("labstack state reset: every account is empty")
    return 0


def cmd_logs(args: argparse.Namespace) -> int:
    from labstack.daemon import tail

    settings = _settings(args)
    if not settings.log_file.exists():
        print(f"no log yet at {settings.log_file}", file=sys.stderr)
        return 1
    sys.stdout.write(tail(settings.log_file, args.lines))
    if not args.follow:
        return 0
    with open(settings.log_file, "rb") as handle:
        handle.seek(0, 2)
        try:
            while True:
                chunk = handle.read()
                if chunk:
                    sys.stdout.write(chunk.decode(errors="replace"))
                    sys.stdout.flush()
                else:
                    time.sleep(0.2)
        except KeyboardInterrupt:
            return 0


def cmd_github_create(args: argparse.Namespace) -> int:
    from labstack.services.codeconnections import github

    settings = _settings(args)
    try:
        github.create_repository(settings.home, args.repository)
    except ValueError as exc:
        print(f"labstack github: {exc}", file=sys.stderr)
        return 2
    print(f"created {args.repository}: git clone {github.clone_url(settings.endpoint, args.repository)}")
    return 0


def _pulls_api(args: argparse.Namespace, method: str, path: str, body: dict | None = None) -> Any:
    """Call the local GitHub's pull request API of ``args.repository`` (with the environment's AWS keys as
    Basic credentials, which class mode needs); its JSON answer, or None after saying on stderr why not."""
    import base64
    import json
    import urllib.request

    from labstack.signing import environment_credentials

    settings = _settings(args)
    endpoint = (args.endpoint or _endpoint_of_running(settings) or settings.endpoint).rstrip("/")
    url = f"{endpoint}/github/api/v3/repos/{args.repository}/pulls{path}"
    headers = {"Accept": "application/json"}
    credentials = environment_credentials()
    if credentials is not None:
        user = credentials.access_key + (f"%{credentials.token}" if credentials.token else "")
        headers["Authorization"] = "Basic " + base64.b64encode(f"{user}:{credentials.secret_key}".encode()).decode()
    data = None
    if body is not None:
        data = json.dumps(body).encode()
        headers["Content-Type"] = "application/json"
    request = urllib.request.Request(url, data=data, method=method, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=60) as response:  # noqa: S310 - labstack's endpoint
            raw = response.read()
            return json.loads(raw) if raw else {}
    except urllib.error.HTTPError as exc:
        try:
            answer = json.loads(exc.read())
            reasons = [e.get("message", "") for e in answer.get("errors", [])]
            message = "; ".join(filter(None, [answer.get("message", ""), *reasons]))
        except (ValueError, AttributeError):
            message = ""
        print(f"labstack github: {message or exc.reason} ({exc.code})", file=sys.stderr)
    except (OSError, urllib.error.URLError):
        print(f"labstack is not running (nothing answers at {endpoint})", file=sys.stderr)
    return None


def _pull_line(pull: dict) -> str:
    state = "merged" if pull.get("merged") else pull["state"]
    return (f"#{pull['number']:<4} {state:<7} {pull['head']['ref']} -> {pull['base']['ref']}  {pull['title'][:80]}"
            f"  (head {pull['head']['sha'][:7]}, by {pull['user']['login']})")


def cmd_github_pr_create(args: argparse.Namespace) -> int:
    """Open a pull request of HEAD into BASE."""
    pull = _pulls_api(args, "POST", "", {"title": args.title, "head": args.head, "base": args.base,
                                         **({"body": args.body} if args.body is not None else {})})
    if pull is None:
        return 1
    print(f"opened {_pull_line(pull)}")
    return 0


def cmd_github_pr_list(args: argparse.Namespace) -> int:
    """The pull requests of a repository, newest first."""
    found = _pulls_api(args, "GET", f"?state={args.state}&per_page=100")
    if found is None:
        return 1
    if not found:
        print(f"no pull requests ({args.state}) in {args.repository}")
    for pull in found:
        print(_pull_line(pull))
    return 0


def cmd_github_pr_merge(args: argparse.Namespace) -> int:
    """Merge a pull request into its base branch."""
    body = {"merge_method": args.method, **({"commit_title": args.title} if args.title else {})}
    merged = _pulls_api(args, "PUT", f"/{args.number}/merge", body)
    if merged is None:
        return 1
    print(f"merged #{args.number}: {merged['sha']}")
    return 0


def cmd_github_pr_close(args: argparse.Namespace) -> int:
    """Close a pull request without merging it."""
    pull = _pulls_api(args, "PATCH", f"/{args.number}", {"state": "closed"})
    if pull is None:
        return 1
    print(f"closed {_pull_line(pull)}")
    return 0


def cmd_inbox(args: argparse.Namespace) -> int:
    from labstack import daemon

    settings = _settings(args)
    endpoint = _endpoint_of_running(settings) or settings.endpoint
    query = f"?account={args.account}" if args.account else ""
    try:
        messages = daemon.get_json(f"{endpoint}/_labstack/inbox{query}")["messages"]
    except (OSError, urllib.error.URLError):
        print(f"labstack is not running (nothing answers at {endpoint})", file=sys.stderr)
        return 3
    if args.json:
        import json

        print(json.dumps(messages, indent=2))
        return 0
    if not messages:
        print("the inbox is empty")
    for message in messages:
        print(f"{message['timestamp'][:19]}  to {message['to']}  ({message['account']}, {message['topicArn'].rsplit(':', 1)[1]})")
        print(f"  Subject: {message['subject']}")
        print("  " + message["body"][:2000].replace("\n", "\n  "))
    return 0


def _iam_api(args: argparse.Namespace, route: str, **query: str) -> dict | None:
    """A console API answer about IAM, or None after saying on stderr why there is none."""
    import json
    from urllib.parse import urlencode

    from labstack import daemon

    endpoint = (args.endpoint or _endpoint_of_running(_settings(args)) or _settings(args).endpoint).rstrip("/")
    if args.account:
        query["account"] = args.account
    try:
        return daemon.get_json(f"{endpoint}/_labstack/api/{route}?{urlencode(query)}", timeout=30)
    except urllib.error.HTTPError as exc:
        try:
            message = json.loads(exc.read()).get("message", "")
        except ValueError:
            message = ""
        print(f"labstack iam: {message or exc.reason} ({exc.code})", file=sys.stderr)
    except (OSError, urllib.error.URLError):
        print(f"labstack is not running (nothing answers at {endpoint})", file=sys.stderr)
    return None


def cmd_iam_suggest(args: argparse.Namespace) -> int:
    """Print the least-privilege policy of what ROLE's sessions used; what to know about it on stderr."""
    import json

    answer = _iam_api(args, "iam/policy", role=args.role)
    if answer is None:
        return 1
    print(json.dumps(answer["policy"], indent=2))
    print(f"# {answer['role']}: {answer['used']} action and resource pairs used, {answer['denied']} of them denied; "
          f"{answer['size']} of IAM's {answer['quota']} characters", file=sys.stderr)
    for note in answer["notes"]:
        print(f"# {note}", file=sys.stderr)
    return 0


def cmd_iam_stream(args: argparse.Namespace) -> int:
    """The account's principals, or one principal's actions with their decisions."""
    if args.principal is None:
        answer = _iam_api(args, "iam")
        if answer is None:
            return 1
        if not answer["principals"]:
            print(f"no IAM principal has made a call in {answer['account']} yet")
        for found in answer["principals"]:
            print(f"{found['lastCall'][:19]}  {found['calls']:>5} calls  {found['denied']:>4} denied  {found['principal']}")
        return 0
    answer = _iam_api(args, "iam/principal", principal=args.principal)
    if answer is None:
        return 1
    for call in answer["calls"]:
        mark = "ALLOW" if call["decision"] == "allowed" else "DENY "
        print(f"{mark} {call['action']} on {call['resource']}  ({call['count']}x, {', '.join(call['sources'])})")
        if call["decision"] != "allowed":
            print(f"      {call['explanation']}")
    return 0


def cmd_traffic(args: argparse.Namespace) -> int:
    from labstack.traffic import send

    if args.rps <= 0 or not 0 < args.duration <= 3600:
        print("labstack traffic: --rps must be above 0 and --duration between 0 and 3600 seconds", file=sys.stderr)
        return 2
    print(send(args.url, args.rps, args.duration).summary())
    return 0


def cmd_learners_new(args: argparse.Namespace) -> int:
    from pathlib import Path

    from labstack import learners

    out = Path(args.out)
    if out.exists() and not args.force:
        print(f"labstack learners: {out} exists; it may hold a class's keys (--force replaces it)", file=sys.stderr)
        return 2
    try:
        rows = learners.generate(args.count, args.prefix)
    except ValueError as exc:
        print(f"labstack learners: {exc}", file=sys.stderr)
        return 2
    learners.write(out, rows)
    print(f"wrote {len(rows) - 1} learners and the instructor to {out} (readable by you only); "
          f"start the class with: labstack up --host 0.0.0.0 --learners {out}")
    return 0


def cmd_env(args: argparse.Namespace) -> int:
    print(env_lines(_settings(args)))
    return 0


def _duration(seconds: float) -> str:
    minutes, secs = divmod(int(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m{secs:02d}s" if hours else f"{minutes}m{secs:02d}s"


def parser() -> argparse.ArgumentParser:
    root = argparse.ArgumentParser(prog="labstack", description="A local AWS that really runs CI/CD.")
    root.add_argument("--version", action="version", version=f"labstack {__version__}")
    sub = root.add_subparsers(dest="command", required=True)

    def add(name: str, fn, help_text: str, listen: bool = False) -> argparse.ArgumentParser:
        cmd = sub.add_parser(name, help=help_text, description=help_text)
        cmd.set_defaults(fn=fn)
        if listen:
            cmd.add_argument("--host", help="address to bind (default 127.0.0.1; 0.0.0.0 only when asked)")
            cmd.add_argument("--upstream", metavar="URL",
                             help="LocalStack's URL: consume S3, IAM, STS, SNS, SQS, Logs, Events, SSM "
                                  "and Secrets Manager from it (default LABSTACK_UPSTREAM)")
            cmd.add_argument("--learners", metavar="FILE",
                             help="class mode: only the keys in this learners file (labstack learners new) may call, "
                                  "each request's signature verified (default LABSTACK_LEARNERS)")
            cmd.add_argument("--allowed-host", action="append", metavar="NAME",
                             help="a Host name clients may use besides the bound address, localhost and 127.0.0.1 "
                                  "(repeatable; default LABSTACK_ALLOWED_HOSTS, comma-separated)")
            cmd.add_argument("--insecure-shared", action="store_true",
                             help="serve a non-loopback address without --learners: anyone who reaches it acts in any account")
        cmd.add_argument("--port", type=int, help="port (default 4566 or LABSTACK_PORT)")
        return cmd

    add("serve", cmd_serve, "run labstack in the foreground", listen=True)
    up = add("up", cmd_up, "start labstack in the background and wait until it is healthy", listen=True)
    up.add_argument("--wait", type=float, default=60.0, help="seconds to wait for health")
    add("down", cmd_down, "stop the background labstack and wait until its port is free")
    status = add("status", cmd_status, "endpoint, uptime, version and what each account holds")
    status.add_argument("--json", action="store_true", help="print the raw status document")
    add("reset", cmd_reset, "empty all state without a restart")
    logs = sub.add_parser("logs", help="show the log of the background labstack")
    logs.add_argument("-n", "--lines", type=int, default=50)
    logs.add_argument("-f", "--follow", action="store_true")
    logs.set_defaults(fn=cmd_logs)
    add("env", cmd_env, "print the shell lines that point AWS tools at labstack")
    sub.add_parser("image", help="build, tag and push images without a Docker daemon (labstack image --help)")
    sub.add_parser("fidelity", help="regenerate docs/fidelity.md from the providers and botocore's models (--check)")
    github = sub.add_parser("github", help="the local GitHub that CodeStar connections reach")
    github_sub = github.add_subparsers(dest="github_command", required=True)
    create = github_sub.add_parser("create", help="create owner/repo (a first push creates it too)")
    create.add_argument("repository", help="owner/repo, as in FullRepositoryId")
    create.add_argument("--port", type=int, help="the port labstack listens on, for the clone URL")
    create.set_defaults(fn=cmd_github_create)
    pr = github_sub.add_parser("pr", help="pull requests of a repository: create, list, merge, close")
    pr_sub = pr.add_subparsers(dest="pr_command", required=True)

    def pr_command(name: str, fn, help_text: str) -> argparse.ArgumentParser:
        cmd = pr_sub.add_parser(name, help=help_text, description=help_text)
        cmd.add_argument("repository", help="owner/repo")
        cmd.add_argument("--endpoint", metavar="URL", help="labstack's URL (default: the running one)")
        cmd.add_argument("--port", type=int, help="the port labstack listens on (default 4566 or LABSTACK_PORT)")
        cmd.set_defaults(fn=fn)
        return cmd

    pr_create = pr_command("create", cmd_github_pr_create, "open a pull request of --head into --base")
    pr_create.add_argument("--head", required=True, help="the branch with the changes")
    pr_create.add_argument("--base", default="main", help="the branch to merge them into (default main)")
    pr_create.add_argument("--title", required=True)
    pr_create.add_argument("--body", help="its description")
    pr_list = pr_command("list", cmd_github_pr_list, "the pull requests, newest first")
    pr_list.add_argument("--state", choices=("open", "closed", "all"), default="open")
    pr_merge = pr_command("merge", cmd_github_pr_merge, "merge a pull request into its base branch")
    pr_merge.add_argument("number", type=int)
    pr_merge.add_argument("--method", choices=("merge", "squash"), default="merge",
                          help="a merge commit (default) or one squashed commit")
    pr_merge.add_argument("--title", help="the commit's title")
    pr_command("close", cmd_github_pr_close, "close a pull request without merging it").add_argument("number", type=int)
    learners_cmd = sub.add_parser("learners", help="class mode: the learners file of a workshop")
    learners_sub = learners_cmd.add_subparsers(dest="learners_command", required=True)
    new = learners_sub.add_parser("new", help="N learners and the instructor, each with an account and keys, as CSV")
    new.add_argument("count", type=int, metavar="N", help="how many learners")
    new.add_argument("--out", required=True, metavar="FILE", help="the CSV to write (readable by its owner only)")
    new.add_argument("--prefix", default="learner", help="learner names: PREFIX01, PREFIX02… (default learner)")
    new.add_argument("--force", action="store_true", help="replace FILE if it exists")
    new.set_defaults(fn=cmd_learners_new)
    inbox = add("inbox", cmd_inbox, "the messages SNS sent to email subscriptions")
    inbox.add_argument("--account", help="only this account's messages")
    inbox.add_argument("--json", action="store_true", help="print the raw messages")
    iam = sub.add_parser("iam", help="what IAM decided: the policy stream and least-privilege policies")
    iam_sub = iam.add_subparsers(dest="iam_command", required=True)
    suggest = iam_sub.add_parser("suggest", help="print a policy allowing exactly what ROLE's sessions used",
                                 description="Print a least-privilege policy allowing exactly what ROLE's sessions "
                                             "used since labstack started or was reset (denied calls included)")
    suggest.add_argument("role", metavar="ROLE", help="the role's name or ARN")
    suggest.set_defaults(fn=cmd_iam_suggest)
    stream = iam_sub.add_parser("stream", help="the principals that made calls, or one principal's decisions")
    stream.add_argument("--principal", metavar="ARN", help="a principal's ARN (a user, a role session, a service)")
    stream.set_defaults(fn=cmd_iam_stream)
    for cmd in (suggest, stream):
        cmd.add_argument("--account", metavar="ID", help="the account (default 123456789012; in class mode your own)")
        cmd.add_argument("--endpoint", metavar="URL", help="labstack's URL (default: the running one)")
    traffic = sub.add_parser("traffic", help="send steady requests to a URL and count answers by version and status")
    traffic.add_argument("url")
    traffic.add_argument("--rps", type=float, default=20.0, help="requests per second (default 20)")
    traffic.add_argument("--duration", type=float, default=5.0, help="seconds (default 5)")
    traffic.set_defaults(fn=cmd_traffic)
    localstack_commands.add_parser(sub)
    return root


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["image"]:  # its own docker-like flags, --help included
        from labstack.images.cli import main as image_main

        return image_main(argv[1:])
    if argv[:1] == ["fidelity"]:  # its own flags (labstack fidelity --help)
        from labstack.fidelity import main as fidelity_main

        return fidelity_main(argv[1:])
    args = parser().parse_args(argv)
    return int(args.fn(args) or 0)


if __name__ == "__main__":
    raise SystemExit(main())
