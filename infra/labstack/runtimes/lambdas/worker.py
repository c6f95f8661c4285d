"""Runs inside a Lambda worker process: imports the handler once, then serves invocations.

Requests arrive on stdin, one JSON object a line; answers leave on the pipe whose file
descriptor ``LABSTACK_ANSWER_FD`` names. What
the function prints goes to stdout/stderr, which labstack reads as the function's log; a
marker line after each invocation tells labstack that invocation's output is complete.
Only the standard library is used here, so a function's own packages cannot clash.
"""

from __future__ import annotations

import importlib
import json
import os
import sys
import time
import traceback
from typing import Any

END_MARKER = "\x00labstack-end "
ANSWER_FD = "LABSTACK_ANSWER_FD"


class LambdaContext:
    """The context object a Python handler receives."""

    def __init__(self, request: dict[str, Any]) -> None:
        self.function_name = os.environ["AWS_LAMBDA_FUNCTION_NAME"]
        self.function_version = os.environ["AWS_LAMBDA_FUNCTION_VERSION"]
        self.invoked_function_arn = request["invoked_arn"]
        self.memory_limit_in_mb = os.environ["AWS_LAMBDA_FUNCTION_MEMORY_SIZE"]
        self.aws_request_id = request["request_id"]
        self.log_group_name = os.environ["AWS_LAMBDA_LOG_GROUP_NAME"]
        self.log_stream_name = os.environ["AWS_LAMBDA_LOG_STREAM_NAME"]
        self.identity = None
        self.client_context = None
        self._deadline = request["deadline"]

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - time.time()) * 1000))


def _error(exc: BaseException, kind: str | None = None, message: str | None = None) -> dict[str, Any]:
    frames = traceback.format_tb(exc.__traceback__)
    return {"errorMessage": message or str(exc), "errorType": kind or type(exc).__name__,
            "stackTrace": [line.rstrip("\n") for line in frames]}


def _load_handler() -> tuple[Any, dict[str, Any] | None]:
    spec = os.environ["_HANDLER"]
    module_name, _, function_name = spec.rpartition(".")
    module_name = module_name.replace("/", ".")
    try:
        module = importlib.import_module(module_name)
    except Exception as exc:  # what AWS reports as Runtime.ImportModuleError
        return None, _error(exc, "Runtime.ImportModuleError", f"Unable to import module '{module_name}': {exc}")
    handler = getattr(module, function_name, None)
    if not callable(handler):
        return None, {"errorMessage": f"Handler '{function_name}' missing on module '{module_name}'",
                      "errorType": "Runtime.HandlerNotFound", "stackTrace": []}
    return handler, None


def main() -> None:
    sys.path.insert(0, os.environ["LAMBDA_TASK_ROOT"])
    answers = os.fdopen(int(os.environ.pop(ANSWER_FD)), "w", buffering=1)
    handler, init_error = _load_handler()
    for line in sys.stdin:
        request = json.loads(line)
        if init_error is not None:
            answer = {"ok": False, "error": init_error}
        else:
            try:
                result = handler(json.loads(request["event"]), LambdaContext(request))
                try:
                    answer = {"ok": True, "payload": json.dumps(result)}
                except (TypeError, ValueError) as exc:
                    answer = {"ok": False, "error": _error(exc, "Runtime.MarshalError",
                                                           f"Unable to marshal response: {exc}")}
            except Exception as exc:
                traceback.print_exc()
                answer = {"ok": False, "error": _error(exc)}
        sys.stdout.flush()
        sys.stderr.flush()
        print(END_MARKER + request["request_id"], flush=True)
        answers.write(json.dumps(answer) + "\n")


if __name__ == "__main__":
    main()
