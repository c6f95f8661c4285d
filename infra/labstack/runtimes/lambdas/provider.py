"""The Lambda runtime's overlay: Invoke runs the handler for real, as a session of the function's
execution role; CreateFunction and UpdateFunctionCode refuse a package past the zip caps, CreateFunction
and UpdateFunctionConfiguration a role Lambda may not assume; moto keeps the rest."""

from __future__ import annotations

import base64
import datetime as dt
import json
import logging
import threading
from typing import Any

from botocore.exceptions import ClientError

from labstack.motobridge import apply_patches
from labstack.archives import ZIP_MAX_BYTES, ArchiveError, check_zip
from labstack.clients import without_metadata
from labstack.context import RequestContext
from labstack.errors import AwsError, new_request_id
from labstack.protocol.provider import Provider
from labstack.runtimes.lambdas import logs
from labstack.runtimes.lambdas.functions import FunctionSpec, resolve
from labstack.runtimes.lambdas.pool import IDLE_SECONDS, Outcome, Worker, WorkerPool
from labstack.runtimes.lambdas.sessions import ExecutionRoles
from labstack.runtimes.logship import FLUSH_SECONDS, LogShipper
from labstack.runtimes.loop import every

log = logging.getLogger("labstack.lambda")
MAX_PAYLOAD = 6 * 1024 * 1024  # Lambda's synchronous response limit


class LambdaRuntime(Provider):
    """Invoke: RequestResponse, Event and DryRun, in warm Python workers."""

    service = "lambda"
    overlay = True

    def __init__(self, labstack: Any) -> None:
        super().__init__(labstack)
        if labstack.clients.upstream_serves("iam"):  # moto's CreateFunction looks the role up in the upstream
            apply_patches("upstream", clients=labstack.clients)
        # a worker's keys outlive it until its last log lines are shipped
        self.sessions = ExecutionRoles(labstack, grace_seconds=3 * FLUSH_SECONDS)
        self.pool = WorkerPool(labstack.settings.home, labstack.settings.endpoint, self.sessions,
                               learners=labstack.settings.learners, on_start=labstack.children.track)
        self.logs = LogShipper(labstack.clients)
        labstack.hooks.on_shutdown(self.logs.close)
        labstack.hooks.on_reset(self.pool.close)
        labstack.hooks.on_shutdown(self.pool.close)
        labstack.hooks.on_shutdown(lambda: self.sessions.sweep(everything=True))
        self._stop = threading.Event()
        labstack.hooks.on_shutdown(self._stop.set)
        every(labstack, min(IDLE_SECONDS / 6, FLUSH_SECONDS), self._tidy, "lambda idle workers", self._stop)

    def _tidy(self) -> None:
        self.pool.retire_idle()
        self.sessions.sweep()

    def create_function(self, ctx: RequestContext, request: dict) -> dict:
        """moto's CreateFunction, once the code is a zip Lambda would unpack and Lambda may assume the role."""
        self._check_code(ctx, request.get("Code") or {})
        self.sessions.check(request["Role"], ctx.arn("lambda", f"function:{request['FunctionName']}"))
        return self._moto(ctx, "create_function", request)

    def update_function_configuration(self, ctx: RequestContext, request: dict) -> dict:
        """moto's UpdateFunctionConfiguration, once Lambda may assume a new role."""
        if request.get("Role"):
            name = request["FunctionName"].split(":")[6] if request["FunctionName"].startswith("arn:") \
                else request["FunctionName"].partition(":")[0]
            self.sessions.check(request["Role"], ctx.arn("lambda", f"function:{name}"))
        return self._moto(ctx, "update_function_configuration", request)

    def update_function_code(self, ctx: RequestContext, request: dict) -> dict:
        """moto's UpdateFunctionCode, once the new code is a zip Lambda would unpack."""
        self._check_code(ctx, request)
        return self._moto(ctx, "update_function_code", request)

    def _moto(self, ctx: RequestContext, operation: str, request: dict) -> dict:
        return without_metadata(getattr(self.labstack.clients.moto("lambda", ctx.account, ctx.region), operation)(**request))

    def _check_code(self, ctx: RequestContext, code: dict) -> None:
        """Refuse a deployment package (inline or in S3) past the zip caps, as Lambda refuses
        one whose unzipped size passes its quota; an S3 object that cannot be read is moto's to answer."""
        data = code.get("ZipFile")
        if data is None and code.get("S3Bucket") and code.get("S3Key"):
            where = {"Bucket": code["S3Bucket"], "Key": code["S3Key"]}
            if code.get("S3ObjectVersion"):
                where["VersionId"] = code["S3ObjectVersion"]
            try:
                data = self.labstack.clients.get("s3", ctx.account, ctx.region).get_object(**where)["Body"].read()
            except ClientError:
                return
        if data is None:
            return
        try:
            check_zip(data, "the deployment package")
        except ArchiveError as exc:
            raise _unzip_error(exc) from None

    def invoke(self, ctx: RequestContext, request: dict) -> dict:
        spec = resolve(ctx.account, ctx.region, request["FunctionName"], request.get("Qualifier"))
        if not spec.runtime.startswith("python3"):
            raise AwsError("InvalidRuntimeException",
                           f"labstack runs Python functions only; {spec.runtime or 'this runtime'} cannot run here", 502)
        kind = request.get("InvocationType", "RequestResponse")
        if kind == "DryRun":
            return {"StatusCode": 204}
        payload = request.get("Payload") or b"{}"
        invoked_arn = spec.arn if spec.version == "$LATEST" and not request.get("Qualifier") else f"{spec.arn}:{request.get('Qualifier') or spec.version}"
        if kind == "Event":
            threading.Thread(target=self.run, args=(spec, invoked_arn, payload, new_request_id()), daemon=True).start()
            return {"StatusCode": 202}
        outcome, request_id, lines = self.run(spec, invoked_arn, payload, ctx.request_id)
        result: dict[str, Any] = {"StatusCode": 200, "ExecutedVersion": spec.version}
        if request.get("LogType") == "Tail":
            result["LogResult"] = base64.b64encode("\n".join(lines).encode()[-4096:]).decode()
        body, failed = self._answer(outcome, request_id, spec)
        if failed:
            result["FunctionError"] = "Unhandled"
        if len(body) > MAX_PAYLOAD:
            raise AwsError("RequestTooLargeException", f"Response payload size ({len(body)} bytes) exceeded maximum allowed payload size ({MAX_PAYLOAD} bytes).", 413)
        result["Payload"] = body
        return result

    def run(self, spec: FunctionSpec, invoked_arn: str, payload: bytes, request_id: str) -> tuple[Outcome, str, list[str]]:
        """One invocation in a warm (or new) worker; its log shipped to CloudWatch Logs."""
        try:
            worker, cold = self.pool.acquire(spec)
        except ArchiveError as exc:  # code that reached moto another way (CloudFormation) and cannot be unpacked
            raise AwsError("InvalidZipFileException", f"Lambda was unable to unzip the deployment package: {exc}", 502) from None
        if cold:
            worker.logging = self._open_log(worker)
        try:
            outcome = worker.invoke(request_id, invoked_arn, payload)
        except BaseException:
            self.pool.discard(worker)
            raise
        if outcome.answer is None:  # timed out or died: never reused
            self.pool.discard(worker)
        else:
            self.pool.release(worker)
        lines = logs.invocation_lines(request_id, spec.version, outcome.logs, outcome.dropped_lines, outcome.seconds, spec.memory)
        if outcome.timed_out:
            lines.insert(-2, f"{_now()} {request_id} Task timed out after {spec.timeout:.2f} seconds")
        if worker.logging:
            self.logs.ship(spec.account, spec.region, f"/aws/lambda/{spec.name}", worker.stream, lines, worker.identity)
        return outcome, request_id, lines

    def _open_log(self, worker: Worker) -> bool:
        """A new execution environment's log stream, made as the execution role (with its group, when
        missing); False when the role may not, and then the worker's log is lost, as on AWS."""
        spec = worker.spec
        group = f"/aws/lambda/{spec.name}"
        client = self.labstack.clients.as_identity("logs", worker.identity, spec.region)
        refused: ClientError | None = None
        try:
            client.create_log_group(logGroupName=group)
        except client.exceptions.ResourceAlreadyExistsException:
            pass
        except ClientError as exc:  # a role may write to a group made beforehand without creating groups
            refused = exc
        try:
            client.create_log_stream(logGroupName=group, logStreamName=worker.stream)
        except client.exceptions.ResourceAlreadyExistsException:
            pass
        except ClientError as exc:
            log.warning("the log of %s is lost: %s", spec.arn, refused or exc)
            return False
        return True

    @staticmethod
    def _answer(outcome: Outcome, request_id: str, spec: FunctionSpec) -> tuple[bytes, bool]:
        if outcome.timed_out:
            error = {"errorMessage": f"{_now()} {request_id} Task timed out after {spec.timeout:.2f} seconds"}
            return json.dumps(error).encode(), True
        if outcome.answer is None:
            error = {"errorType": "Runtime.ExitError",
                     "errorMessage": f"RequestId: {request_id} Error: Runtime exited with error: exit status {outcome.exit_code}"}
            return json.dumps(error).encode(), True
        if outcome.answer["ok"]:
            return outcome.answer["payload"].encode(), False
        return json.dumps(outcome.answer["error"]).encode(), True



def _unzip_error(exc: ArchiveError) -> AwsError:
    """Lambda's answer to a package it will not unzip: its own words for the size quota."""
    if exc.cap is ZIP_MAX_BYTES:
        return AwsError("InvalidParameterValueException", f"Unzipped size must be smaller than {exc.cap.limit} bytes")
    return AwsError("InvalidParameterValueException",
                    f"Could not unzip uploaded file. Please check your file, then try to upload again. ({exc})")


def _now() -> str:
    return dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")[:-4] + "Z"


PROVIDER = LambdaRuntime
