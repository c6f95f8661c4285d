"""Jobs of the job worker API: what a Lambda function or a custom action's worker receives,
acknowledges and answers with PutJobSuccessResult or PutJobFailureResult."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Any

from labstack.errors import AwsError
from labstack.services.codepipeline.model import new_id
from labstack.state import AccountRegionStore

FINAL = ("Succeeded", "Failed", "TimedOut")


@dataclass
class Job:
    """One job: its JobData and where it stands."""

    account: str
    type_key: tuple[str, str, str, str]
    data: dict[str, Any]
    job_id: str = field(default_factory=new_id)
    nonce: str = field(default_factory=lambda: new_id()[:8])
    status: str = "Queued"
    result: dict[str, Any] = field(default_factory=dict)
    done: threading.Event = field(default_factory=threading.Event)

    def describe(self, with_nonce: bool) -> dict:
        """The ``Job`` (with the nonce) or ``JobDetails`` shape."""
        shown = {"id": self.job_id, "data": self.data, "accountId": self.account}
        if with_nonce:
            shown["nonce"] = self.nonce
        return shown


class Jobs:
    """Every job, per account and region."""

    def __init__(self) -> None:
        self.store: AccountRegionStore[dict[str, Job]] = AccountRegionStore(dict)

    def add(self, region: str, job: Job) -> Job:
        """Keep ``job`` (its account's, in ``region``); return it."""
        with self.store.lock:
            self.store.get(job.account, region)[job.job_id] = job
        return job

    def find(self, account: str, region: str, job_id: str) -> Job:
        """The job ``job_id`` of the account; JobNotFoundException if there is none."""
        job = self.store.get(account, region).get(job_id)
        if job is None:
            raise AwsError("JobNotFoundException", f"Job {job_id} could not be found")
        return job

    def poll(self, account: str, region: str, type_key: tuple, limit: int, query: dict[str, str]) -> list[Job]:
        """Hand out up to ``limit`` queued jobs of one action type (Queued → Dispatched)."""
        handed = []
        with self.store.lock:
            for job in self.store.get(account, region).values():
                if len(handed) >= limit:
                    break
                configuration = job.data["actionConfiguration"]["configuration"]
                if (job.status == "Queued" and job.type_key == type_key
                        and all(configuration.get(k) == v for k, v in query.items())):
                    job.status = "Dispatched"
                    handed.append(job)
        return handed

    def acknowledge(self, account: str, region: str, job_id: str, nonce: str) -> str:
        """A worker takes the job (Queued or Dispatched → InProgress); its status."""
        with self.store.lock:
            job = self.find(account, region, job_id)
            if nonce != job.nonce:
                raise AwsError("InvalidNonceException", f"The nonce {nonce} does not match job {job_id}")
            if job.status in ("Queued", "Dispatched"):
                job.status = "InProgress"
            return job.status

    def complete(self, account: str, region: str, job_id: str, status: str, result: dict) -> None:
        """Record a worker's answer (Succeeded or Failed)."""
        with self.store.lock:
            job = self.find(account, region, job_id)
            if job.status in FINAL:
                raise AwsError("InvalidJobStateException", f"Job {job_id} is already {job.status}")
            job.status = status
            job.result = result
        job.done.set()

    def expire(self, job: Job) -> None:
        """Nobody answered in time: the job is TimedOut."""
        with self.store.lock:
            if job.status not in FINAL:
                job.status = "TimedOut"
        job.done.set()
