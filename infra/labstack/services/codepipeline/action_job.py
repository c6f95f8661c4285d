"""What an action's runner gets from the engine: its resolved configuration, its input
artifacts, a place for its outputs, clients signed as the role it acts as, and a cancel flag."""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from botocore.exceptions import ClientError

from labstack.keyring import Identity
from labstack.services.codepipeline import artifacts
from labstack.services.codepipeline.model import ActionRun, Execution, Pipeline, now


class ActionFailed(Exception):
    """The action failed: ``message`` becomes its summary and error details."""

    def __init__(self, message: str, code: str = "JobFailed") -> None:
        super().__init__(message)
        self.message = message
        self.code = code


class Abandoned(Exception):
    """The execution was stopped with abandon: stop waiting, the result no longer matters."""


@dataclass
class ActionJob:
    """One running action."""

    labstack: Any
    provider: Any
    account: str
    region: str
    pipeline: Pipeline
    execution: Execution
    run: ActionRun
    configuration: dict[str, str]
    identity: Identity | None = None  # the role session the action acts as (``acting.start``)
    sessions: list[Identity] = field(default_factory=list)  # every session it holds, revoked when it ends

    @property
    def declaration(self) -> dict:
        return self.run.declaration

    @property
    def session_id(self) -> str:
        """The id its role sessions are named after (the action execution's)."""
        return self.run.action_execution_id

    @property
    def cancel(self) -> threading.Event:
        return self.execution.abandon

    @property
    def store(self) -> dict:
        return artifacts.store_for(self.execution.declaration, self.region)

    def client(self, service: str) -> Any:
        """A boto3 client back into labstack signed as the action's role session: what it does is
        decided by that role's policies (labstack's own keys where roles are not decided: ``acting``)."""
        if self.identity is None:
            return self.own_client(service)
        return self.labstack.clients.as_identity(service, self.identity, self.region)

    def own_client(self, service: str) -> Any:
        """A client of CodePipeline itself in the pipeline's account, for what it reads for its own
        bookkeeping (never for what it does with the role)."""
        return self.labstack.clients.get(service, self.account, self.region)

    def input(self, name: str | None = None) -> bytes:
        """The zip of input artifact ``name`` (default: the first), read as the action's role."""
        from labstack.services.codepipeline import acting  # it raises this module's ActionFailed

        wanted = name or self.declaration["inputArtifacts"][0]["name"]
        try:
            return self.read_artifact(wanted, self.identity, self.client("s3"), acting.artifact_store)
        except ClientError as exc:
            raise acting.failed_call(exc, "Amazon S3", f"Could not read input artifact {wanted}",
                                     acting.artifact_store) from None

    def read_artifact(self, name: str, identity: Identity | None, s3: Any, failure: Callable[[str], Exception]) -> bytes:
        """Artifact ``name`` of this execution, read from the store by ``identity`` with its S3 client ``s3`` (S3
        decrypts it with the store's key for that identity). A refused key raises ``failure(sentence)``; S3's
        own errors are left to the caller (ClientError)."""
        where = self.execution.artifacts[name]
        self._store_key("Decrypt", identity, failure)
        return artifacts.get(s3, where["bucket"], where["key"])

    def input_names(self) -> list[str]:
        return [a["name"] for a in self.declaration.get("inputArtifacts", [])]

    def output_names(self) -> list[str]:
        return [a["name"] for a in self.declaration.get("outputArtifacts", [])]

    def output(self, name: str, data: bytes, revision: str | None = None) -> None:
        """Store output artifact ``name`` as the action's role and hand it to later actions."""
        from labstack.services.codepipeline import acting  # it raises this module's ActionFailed

        try:
            location = self.store_artifact(name, data, self.identity, self.client("s3"), acting.artifact_store)
        except ClientError as exc:
            raise acting.failed_call(exc, "Amazon S3", f"Could not store output artifact {name}",
                                     acting.artifact_store) from None
        self.record_output(name, location, revision)

    def store_artifact(self, name: str, data: bytes, identity: Identity | None, s3: Any,
                       failure: Callable[[str], Exception]) -> dict[str, str]:
        """Write output artifact ``name`` to the store as ``identity`` with its S3 client ``s3`` (S3 encrypts it
        with the store's key for that identity); its location. A refused key raises ``failure(sentence)``; S3's
        own errors are left to the caller (ClientError). Later actions see it once :meth:`record_output` says so."""
        key = artifacts.object_key(self.pipeline.name, name)
        store = self.store
        self._store_key("GenerateDataKey", identity, failure)
        artifacts.put(s3, store, key, data)
        return {"bucket": store["location"], "key": key}

    def record_output(self, name: str, location: dict[str, str], revision: str | None = None) -> None:
        """Hand output artifact ``name``, stored at ``location``, to later actions."""
        with self.pipeline.cond:
            self.execution.artifacts[name] = {**location, "revision": revision}
            self.run.output_artifacts.append({"name": name, "s3location": location})

    def _store_key(self, operation: str, identity: Identity | None, failure: Callable[[str], Exception]) -> None:
        """S3 uses the artifact store's KMS key for ``identity`` (kms:ViaService S3): ``operation`` on it."""
        from labstack.services.codepipeline import acting  # it raises this module's ActionFailed

        key_id = (self.store.get("encryptionKey") or {}).get("id")
        if not key_id or identity is None:
            return
        try:
            key_arn = self.own_client("kms").describe_key(KeyId=key_id)["KeyMetadata"]["Arn"]
        except ClientError as exc:
            error = exc.response.get("Error", {})
            raise ActionFailed(f"The artifact store's encryption key {key_id} cannot be used: {error.get('Code')}: "
                               f"{error.get('Message')}") from None
        acting.authorize(self, "kms", operation, {"KeyId": key_arn}, failure,
                         context={"kms:ViaService": f"s3.{self.region}.amazonaws.com"}, identity=identity)

    def update(self, **fields: Any) -> None:
        """Record progress: ``external_id``, ``external_url``, ``summary``, ``percent``."""
        with self.pipeline.cond:
            for key, value in fields.items():
                setattr(self.run, key, value)
            self.run.last_update = now()

    def wait(self, lab_seconds: float) -> None:
        """Sleep on the lab clock; raise :class:`Abandoned` if the execution is abandoned."""
        if not self.labstack.clock.sleep(lab_seconds, self.cancel) or self.cancel.is_set():
            raise Abandoned()
