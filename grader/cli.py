"""The ``grader`` command: doctor, env, check, solve, release, ci, autograde."""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

from grader import __version__
from grader.backends import BACKENDS


def _session(args: argparse.Namespace):  # type: ignore[no-untyped-def]
    """The session the command acts in: the backend and credentials of the environment, or ``--account``."""
    from grader.backends import Backend, LabSession

    backend = Backend.named(args.backend) if args.backend else Backend.from_env()
    if getattr(args, "account", None):
        return LabSession.for_key(backend, args.account, region=os.environ.get("AWS_DEFAULT_REGION", "us-east-1"))
    env = dict(os.environ)
    backend.export(env)
    import boto3

    return LabSession(backend, boto3.session.Session(aws_access_key_id=env.get("AWS_ACCESS_KEY_ID"),
                                                     aws_secret_access_key=env.get("AWS_SECRET_ACCESS_KEY"),
                                                     aws_session_token=env.get("AWS_SESSION_TOKEN"),
                                                     region_name=env.get("AWS_DEFAULT_REGION")))


def _silent(backend) -> bool:  # type: ignore[no-untyped-def]
    """Print a line for each part of ``backend`` that does not answer; True when one does not."""
    lines = backend.silent()
    for line in lines:
        print(line, file=sys.stderr)
    return bool(lines)


def cmd_doctor(args: argparse.Namespace) -> int:
    """Check that the backend the labs use answers, and in which account and region."""
    import botocore.exceptions

    session = _session(args)
    if _silent(session.backend):
        return 1
    try:
        account = session.account
    except (botocore.exceptions.BotoCoreError, botocore.exceptions.ClientError) as exc:
        print(f"✗ {session.backend.endpoint_for('sts') or 'AWS'} does not tell who you are: {exc}", file=sys.stderr)
        return 1
    places = sorted({url for url in [session.backend.endpoint, *session.backend.service_endpoints.values()] if url})
    print(f"✓ the {session.backend.name} backend answers at {', '.join(places) or 'AWS'}: "
          f"account {account}, region {session.region}")
    return 0


def cmd_env(args: argparse.Namespace) -> int:
    """Print the shell lines that point AWS tools and the labs at a backend (``eval "$(grader env)"``)."""
    import shlex

    from grader.backends import Backend

    backend = Backend.named(args.backend) if args.backend else Backend.from_env()
    for name, value in sorted(backend.variables().items()):
        print(f"export {name}={shlex.quote(value)}")
    return 0


def cmd_check(args: argparse.Namespace) -> int:
    """Run a lab's checks (hidden ones too with --all) and print the table."""
    from grader import checks

    module = checks.lab_module(args.lab)
    report = checks.run(module.TITLE, _session(args), checks.select(module.CHECKS, (), hidden=args.all))
    print(report.text())
    return 0 if report.passed else 1


def cmd_solve(args: argparse.Namespace) -> int:
    """Catch up on the labs before N, then run lab N's solution notebook with papermill.

    Nothing is created unless every part of the backend answers; when a part stops answering
    mid-lab, one line per part says how to start it again, and a new ``grader solve`` picks up
    where this one stopped (catching up skips what is done; each solution may run again)."""
    from grader import catchup
    from grader.notebooks import NotebookFailed

    parameters = dict(item.split("=", 1) for item in args.parameter)
    session = _session(args)
    if _silent(session.backend):
        return 2
    try:
        catchup.catch_up(args.lab, session, rebuild=True)  # asked for by name: build whatever is missing
        report = catchup.solve(args.lab, session, args.output, parameters)
    except (NotebookFailed, RuntimeError):
        if not _silent(session.backend):
            raise
        print(f"  then `grader solve {args.lab}` picks up where this run stopped", file=sys.stderr)
        return 2
    print(report.text())
    return 0 if report.passed else 1


def cmd_release(args: argparse.Namespace) -> int:
    """Regenerate the learner notebooks in labs/ from solutions/ with nbgrader; with ``--course``, write
    what an instructor hands to learners for labs 1..N (a folder, a zip, or nbgrader's exchange)."""
    from grader import checks, grading

    if args.course is None:
        if args.last or args.zip or args.exchange or args.course_id:
            raise ValueError("--labs, --zip, --exchange and --course-id go with --course DIR")
        for number in args.labs or checks.lab_numbers():
            print(f"✓ {grading.release(number, args.into)}")
        return 0
    from grader import course

    if args.labs or args.into or not args.last:
        raise ValueError("a course release takes --labs N (labs 1..N), and neither lab numbers nor --into")
    if args.zip and args.exchange:
        raise ValueError("a course release goes to a folder, a zip (--zip) or the exchange (--exchange), one at a time")
    if bool(args.exchange) != bool(args.course_id):
        raise ValueError("--exchange ROOT and --course-id ID go together")
    made = course.build(args.course, args.last, archive=args.zip, exchange=args.exchange, course_id=args.course_id)
    print(f"✓ a course release of labs 1..{args.last}: {made.path}")
    print(f"  learner notebooks: {', '.join(made.labs)}")
    print(f"  solutions, for catching up: {', '.join(made.solutions) or 'none (lab 1 needs none)'}")
    print(f"  hidden checks left out of the grader (you grade them): {len(made.withheld)}")
    if made.assignments:
        print(f"  in the exchange {args.exchange} as course {args.course_id}; learners run "
              f"`nbgrader fetch_assignment --course {args.course_id} <name>` for: {', '.join(made.assignments)}")
    return 0


def cmd_ci(args: argparse.Namespace) -> int:
    """The CI gate: labs/ current; in order, unanswered labs at 0 with hints and solutions at full marks;
    each later lab alone, caught up, at full marks."""
    from grader import ci
    from grader.backends import Backend

    backend = Backend.named(args.backend) if args.backend else Backend.from_env()
    if _silent(backend):
        return 2
    workdir = args.keep or Path(tempfile.mkdtemp(prefix="grader-ci-"))
    try:
        passed = ci.run(backend, workdir, up_to=args.up_to, workers=args.workers or ci.WORKERS, only=args.lane)
    except ValueError as exc:
        print(f"✗ {exc}", file=sys.stderr)
        return 2
    print(("✓ the gate passes" if passed else "✗ the gate fails") + f" (graded notebooks in {workdir})")
    return 0 if passed else 1


def cmd_autograde(args: argparse.Namespace) -> int:
    """Grade a class's submissions in parallel, each learner's labs in order (or, with ``--accounts``, in
    place in the accounts they worked in); scores.csv and feedback pages."""
    from grader import checks, classroom
    from grader.backends import Backend

    backend = Backend.named(args.backend) if args.backend else Backend.from_env()
    if _silent(backend):
        return 2
    labs = args.lab or checks.lab_numbers()
    out = args.out or args.folder.parent / ("graded" if len(labs) > 1 else f"graded-lab{labs[0]:02d}")
    accounts = classroom.read_accounts(args.accounts) if args.accounts else None
    rows = classroom.grade_class(args.folder, labs, out, backend, args.workers, args.timeout, accounts,
                                 secrets=(args.accounts,) if args.accounts else ())
    for row in rows:
        note = f"  ({row.status}: {row.message})" if row.status != "graded" or row.message else ""
        print(f"{row.learner:<24} {row.lab:<20} {row.score:g}/{row.max_score:g}{note}")
    print(f"scores: {out / 'scores.csv'}; feedback pages: {out / 'feedback'}")
    return 0 if all(row.status == "graded" for row in rows) else 1


def main(argv: list[str] | None = None) -> int:
    """Parse the command line and run one command; the exit status is 0 on success."""
    root = argparse.ArgumentParser(prog="grader", description="Checks and grading for the CI/CD Lab Kit.")
    root.add_argument("--version", action="version", version=f"grader {__version__}")
    sub = root.add_subparsers(dest="command", required=True)

    def command(name: str, fn, help: str, backend: bool = True) -> argparse.ArgumentParser:  # type: ignore[no-untyped-def]
        parser = sub.add_parser(name, help=help, description=help)
        parser.set_defaults(fn=fn)
        if backend:
            parser.add_argument("--backend", choices=BACKENDS,
                                help="where AWS calls go (default: LAB_BACKEND, else embedded labstack)")
        return parser

    doctor = command("doctor", cmd_doctor, "check that the labs' backend answers, and who you are there")
    doctor.add_argument("--account", help="access key id to act with (on labstack 12 digits pick the account)")
    command("env", cmd_env, "print the shell lines that point AWS tools and the labs at the backend")
    check = command("check", cmd_check, "run a lab's checks and print the ✓/✗ table (exit 1 unless all pass)")
    check.add_argument("lab", type=int)
    check.add_argument("--all", action="store_true", help="include the hidden checks")
    check.add_argument("--account", help="access key id to act with (on labstack 12 digits pick the account)")
    solve = command("solve", cmd_solve, "build lab N's known-good state: catch up, then run its solution")
    solve.add_argument("lab", type=int)
    solve.add_argument("--account", help="access key id to act with (on labstack 12 digits pick the account)")
    solve.add_argument("--output", type=Path, help="where to write the executed notebook")
    solve.add_argument("-p", "--parameter", action="append", default=[], metavar="NAME=VALUE",
                       help="a value for the notebook's parameters cell, e.g. APP_SOURCE=path/to/app")
    release = command("release", cmd_release, "regenerate labs/ from solutions/ with nbgrader, or (--course) "
                      "write what learners get for labs 1..N: a folder, a zip or nbgrader's exchange", backend=False)
    release.add_argument("labs", type=int, nargs="*", help="lab numbers (default: all)")
    release.add_argument("--into", type=Path, help="folder to write the learner notebooks to (default: labs/)")
    release.add_argument("--course", type=Path, metavar="DIR",
                         help="a course release for learners into the new or empty folder DIR: the kit without "
                              "the hidden checks' code, the notebooks of labs 1..N, the solutions before N")
    release.add_argument("--labs", type=int, dest="last", metavar="N", help="with --course: release labs 1..N")
    release.add_argument("--zip", action="store_true", help="with --course: write DIR.zip instead of a folder")
    release.add_argument("--exchange", type=Path, metavar="ROOT",
                         help="with --course: DIR becomes an nbgrader course directory released into the "
                              "exchange at ROOT (the kit and each lab as assignments)")
    release.add_argument("--course-id", metavar="ID", help="with --exchange: nbgrader's course id")
    ci = command("ci", cmd_ci, "the CI gate (fresh accounts): labs in order and each lab alone after catch-up")
    ci.add_argument("--keep", type=Path, help="folder for the graded notebooks (default: a temporary one)")
    ci.add_argument("--up-to", type=int, metavar="N", help="gate labs 1..N only (default: every lab)")
    ci.add_argument("--workers", type=int, help="lanes graded at once (default: grader.ci.WORKERS)")
    ci.add_argument("--lane", action="append", metavar="NAME",
                    help="run only this lane (in-order, alone-02 … alone-06, solutions, unanswered); repeatable "
                         "(default: in-order and the alone lanes)")

    autograde = command("autograde", cmd_autograde,
                        "grade a class in parallel: each learner's labs in order in a fresh account of theirs, "
                        "or (--accounts) in place in the accounts they worked in")
    autograde.add_argument("folder", type=Path, help="nbgrader's submitted/ folder, <learner>/<lab>.ipynb files, "
                           "or (one lab) a flat folder of <learner>.ipynb")
    autograde.add_argument("--lab", type=int, action="append",
                           help="a lab to grade (repeat for more; default: every lab)")
    autograde.add_argument("--out", type=Path, help="where scores.csv and feedback/ go (default: next to FOLDER)")
    autograde.add_argument("--workers", type=int, help="notebooks graded at once (default: the cores)")
    autograde.add_argument("--timeout", type=float, default=600, help="seconds per notebook (default 600)")
    autograde.add_argument("--accounts", type=Path, metavar="CSV",
                           help="grade in place: labstack's learners file (labstack learners new), or a CSV of "
                                "learner,access_key naming the account each learner worked in on this backend; only the "
                                "setup and test cells run there, nothing is rebuilt")

    args = root.parse_args(argv)
    try:
        return int(args.fn(args) or 0)
    except (ValueError, RuntimeError) as exc:
        print(f"✗ {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
