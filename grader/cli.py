"""The ``grader`` command. Lab checks and grading arrive with the labs; ``doctor`` checks the backend."""

from __future__ import annotations

import argparse
import os
import sys

from grader import __version__


def cmd_doctor(_args: argparse.Namespace) -> int:
    """Check that the backend the labs use answers, and in which account and region."""
    import boto3
    import botocore.exceptions

    endpoint = os.environ.get("AWS_ENDPOINT_URL", "http://127.0.0.1:4566")
    session = boto3.session.Session(
        aws_access_key_id=os.environ.get("AWS_ACCESS_KEY_ID", "test"),
        aws_secret_access_key=os.environ.get("AWS_SECRET_ACCESS_KEY", "test"),
        region_name=os.environ.get("AWS_DEFAULT_REGION", "us-east-1"),
    )
    sts = session.client("sts", endpoint_url=endpoint)
    try:
        identity = sts.get_caller_identity()
    except (botocore.exceptions.BotoCoreError, botocore.exceptions.ClientError) as exc:
        print(f"✗ nothing usable answers at {endpoint}: {exc}\n  start labstack with `make lab` or `labstack up`.")
        return 1
    print(f"✓ {endpoint} answers: account {identity['Account']}, region {session.region_name}")
    return 0


def main(argv: list[str] | None = None) -> int:
    root = argparse.ArgumentParser(prog="grader", description="Checks and grading for the CI/CD Lab Kit.")
    root.add_argument("--version", action="version", version=f"grader {__version__}")
    sub = root.add_subparsers(dest="command", required=True)
    doctor = sub.add_parser("doctor", help="check that the labs' backend answers")
    doctor.set_defaults(fn=cmd_doctor)
    args = root.parse_args(argv)
    return int(args.fn(args) or 0)


if __name__ == "__main__":
    sys.exit(main())
