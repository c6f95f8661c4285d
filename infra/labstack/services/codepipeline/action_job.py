"""What an action's runner gets from the engine: its resolved configuration, its input
artifacts, a place for its outputs, clients in the pipeline's account, and a cancel flag."""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Any

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

    @property
    def declaration(self) -> dict:
        return self.run.declaration

    @property
    def cancel(self) -> threading.Event:
        return self.execution.abandon

    @property
    def store(self) -> dict:
        return artifacts.store_for(self.execution.declaration, self.region)

    def client(self, service: str) -> Any:
        """A boto3 client back into labstack, as the pipeline's account."""
        return self.labstack.clients.get(service, self.account, self.region)

    def input(self, name: str | None = None) -> bytes:
        """The zip of input artifact ``name`` (default: the first)."""
        wanted = name or self.declaration["inputArtifacts"][0]["name"]
        where = self.execution.artifacts[wanted]
        return artifacts.get(self.client("s3"), where["bucket"], where["key"])

    def input_names(self) -> list[str]:
        return [a["name"] for a in self.declaration.get("inputArtifacts", [])]

    def output_names(self) -> list[str]:
        return [a["name"] for a in self.declaration.get("outputArtifacts", [])]

    def output(self, name: str, data: bytes, revision: str | None = None) -> None:
        """Store output artifact ``name`` and hand it to later actions."""
        key = artifacts.object_key(self.pipeline.name, name)
        store = self.store
        artifacts.put(self.client("s3"), store, key, data)
        location = {"bucket": store["location"], "key": key}
        with self.pipeline.cond:
            self.execution.artifacts[name] = {**location, "revision": revision}
            self.run.output_artifacts.append({"name": name, "s3location": location})

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
