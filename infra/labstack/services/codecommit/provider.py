"""CodeCommit: repositories as bare git repositories, served to the git CLI over smart HTTP.

Clone URLs: ``<endpoint>/v1/repos/<name>`` for account 123456789012 in us-east-1 (AWS's own
path), ``<endpoint>/v1/<account>/<region>/repos/<name>`` for any other account or region, where
``<endpoint>`` is the address the API caller used (its Host header), else labstack's own.
On a laptop git needs no credentials; in class mode it needs CodeCommit's (``gitauth``) and
reaches its own account's repositories only.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import re
import shutil
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from labstack.clock import now
from labstack.config import DEFAULT_REGION
from labstack.context import DEFAULT_ACCOUNT, RequestContext
from labstack.enforcement.asks import Ask
from labstack.errors import AwsError
from labstack.iampolicy import Principal
from labstack.keyring import Identity
from labstack.protocol.paging import page
from labstack.protocol.provider import Provider
from labstack.services.codecommit import events, gitauth
from labstack.services.codecommit.githttp import (
    GitHttp,
    RefUpdate,
    Target,
    created_branches,
)
from labstack.services.codecommit.repos import (
    MODE_NAMES,
    MODES,
    SHA,
    ZERO,
    BareRepo,
    GitError,
    git,
)
from labstack.sources import SourceChange, change_feed
from labstack.state import AccountRegionStore

NAME = re.compile(r"^[\w.-]{1,100}$", re.ASCII)  # \w as Java reads it: ASCII only
MAX_FILE_BYTES = 6 * 1024 * 1024
MAX_BATCH_REPOSITORIES = 25
MAX_BATCH_COMMITS = 100
PAGE = 1000
_ACCOUNT = re.compile(r"^\d{12}$")
_NAME_FIELD = re.compile(r"at '(repositoryName|oldName|newName|repositoryNames\.\d+\.member)' failed to satisfy constraint: "
                         r"Member must (satisfy regular expression|have length)")
_ARN = re.compile(r"^arn:aws[\w-]*:codecommit:([\w-]+):(\d{12}):([\w.-]+)$")



@dataclass
class Repository:
    """What labstack knows of a repository beyond its git objects."""

    name: str
    account: str
    region: str
    description: str | None = None
    default_branch: str | None = None
    tags: dict[str, str] = field(default_factory=dict)
    triggers: list[dict] = field(default_factory=list)
    trigger_config_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    repository_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    created: dt.datetime = field(default_factory=now)
    modified: dt.datetime = field(default_factory=now)

    @property
    def arn(self) -> str:
        return f"arn:aws:codecommit:{self.region}:{self.account}:{self.name}"

    def metadata(self, endpoint: str) -> dict:
        """The ``RepositoryMetadata`` shape."""
        data = {
            "accountId": self.account,
            "repositoryId": self.repository_id,
            "repositoryName": self.name,
            "lastModifiedDate": self.modified,
            "creationDate": self.created,
            "cloneUrlHttp": clone_url(endpoint, self.account, self.region, self.name),
            "Arn": self.arn,
        }
        if self.description is not None:
            data["repositoryDescription"] = self.description
        if self.default_branch:
            data["defaultBranch"] = self.default_branch
        return data


def clone_url(endpoint: str, account: str, region: str, name: str) -> str:
    """The HTTP clone URL labstack serves a repository at."""
    if account == DEFAULT_ACCOUNT and region == DEFAULT_REGION:
        return f"{endpoint}/v1/repos/{name}"
    return f"{endpoint}/v1/{account}/{region}/repos/{name}"


_GIT_CALLER = "labstack.git_caller"  # the environ key of whoever a git request's credentials proved


def parse_git_path(path: str) -> tuple[str, str, str, str] | None:
    """(account, region, name, git suffix) of a ``/v1/...`` path, None if it names no repository."""
    parts = path[len("/v1/"):].split("/")
    if parts[0] == "repos" and len(parts) >= 2:
        account, region, rest = DEFAULT_ACCOUNT, DEFAULT_REGION, parts[1:]
    elif len(parts) >= 4 and _ACCOUNT.match(parts[0]) and parts[2] == "repos":
        account, region, rest = parts[0], parts[1], parts[3:]
    else:
        return None
    name = rest[0].removesuffix(".git")
    if not NAME.match(name):
        return None
    return account, region, name, "/" + "/".join(rest[1:])


def _invalid_name(name: str) -> AwsError:
    return AwsError(
        "InvalidRepositoryNameException",
        f"{name} is not a valid repository name: use 1 to 100 letters, digits, '.', '_' and '-', not ending in .git",
    )


def check_name(name: str | None) -> str:
    """``name`` if CodeCommit accepts it as a repository name."""
    if not name:
        raise AwsError("RepositoryNameRequiredException", "A repository name is required")
    if not NAME.match(name) or name.endswith(".git"):
        raise _invalid_name(name)
    return name


def check_path(path: str | None) -> str:
    """A file or folder path, normalised (no leading slash); InvalidPathException if git cannot store it."""
    if not path:
        raise AwsError("PathRequiredException", "A path is required")
    clean = path.strip("/")
    parts = clean.split("/")
    if not clean or any(p in ("", ".", "..", ".git") for p in parts) or "\0" in clean:
        raise AwsError("InvalidPathException", f"The path {path} is not valid")
    return clean


class CodeCommitProvider(Provider):
    """Repositories, branches, commits, files, triggers; git smart HTTP under ``/v1/``."""

    service = "codecommit"

    def __init__(self, labstack) -> None:  # type: ignore[no-untyped-def]
        super().__init__(labstack)
        self.repos: AccountRegionStore[dict[str, Repository]] = AccountRegionStore(dict)
        self.root = labstack.settings.home / "git"
        self.endpoint = labstack.settings.endpoint
        labstack.hooks.on_reset(self.reset)
        self.outbox = events.Outbox()
        labstack.hooks.on_shutdown(self.outbox.close)
        self.git_http = GitHttp(self._locate, self._pushed, labstack.settings.home / "git-hooks", guard=self._guard)
        labstack.routes.add("/v1/", self._git)

    def invalid_input(self, operation: str, error: AwsError) -> AwsError:
        """A repository name that breaks the model's rules is AWS's InvalidRepositoryNameException."""
        if error.code == "ValidationException" and _NAME_FIELD.search(error.message):
            return AwsError("InvalidRepositoryNameException", f"The repository name is not valid: {error.message}")
        return error

    # --- state ------------------------------------------------------------------------
    def reset(self) -> None:
        self.repos.reset()
        shutil.rmtree(self.root, ignore_errors=True)

    def resource_counts(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for (account, _region), repos in self.repos.items():
            counts[account] = counts.get(account, 0) + len(repos)
        return counts

    def endpoint_for(self, ctx: RequestContext) -> str:
        """labstack's URL as the caller reaches it (a workshop server's address, not 127.0.0.1)."""
        return f"http://{ctx.host}" if ctx.host else self.endpoint

    def bare(self, account: str, region: str, name: str) -> BareRepo:
        """The bare repository behind repository ``name``."""
        return BareRepo(self.root / account / region / f"{name}.git")

    def find(self, account: str, region: str, name: str | None) -> Repository:
        """The repository ``name``; the model's errors if the name is missing, bad or unknown."""
        record = self.repos.get(account, region).get(check_name(name))
        if record is None:
            raise AwsError("RepositoryDoesNotExistException", f"{name} does not exist")
        return record

    def _repo(self, ctx: RequestContext, name: str | None) -> tuple[Repository, BareRepo]:
        record = self.find(ctx.account, ctx.region, name)
        return record, self.bare(ctx.account, ctx.region, record.name)

    # --- git over HTTP ----------------------------------------------------------------
    def _git(self, environ: dict, start_response: Callable[..., Any]) -> Any:
        """Serve git, recording each push and fetch that is served as CloudTrail records it (GitPush, GitPull)."""
        answered: list[int] = []

        def noted(status: str, headers: list, exc_info: Any = None) -> Any:
            answered.append(int(status.split()[0]))
            return start_response(status, headers) if exc_info is None else start_response(status, headers, exc_info)

        body = self.git_http(environ, noted)
        if answered and answered[0] == 200 and environ.get("REQUEST_METHOD") == "POST":
            self._record_git(environ)
        return body

    def _record_git(self, environ: dict) -> None:
        path = environ.get("PATH_INFO", "")
        parsed = parse_git_path(path)
        operation = {"/git-receive-pack": "GitPush", "/git-upload-pack": "GitPull"}.get(parsed[3] if parsed else "")
        if parsed is None or operation is None:
            return
        account, region, name, _suffix = parsed
        record = self.repos.get(account, region).get(name)
        caller: gitauth.GitCaller | None = environ.get(_GIT_CALLER)
        holder = caller.identity if caller is not None else None
        identity = self.labstack.trail.principals.iam_user(account, caller.iam_user) if caller and caller.iam_user else None
        self.labstack.trail.record(
            account=account, region=region, source="codecommit", name=operation, request_id=str(uuid.uuid4()),
            ip=environ.get("REMOTE_ADDR", ""), agent=environ.get("HTTP_USER_AGENT", ""),
            access_key=holder.access_key if holder else None, holder=holder, identity=identity,
            named=[("AWS::CodeCommit::Repository", name, "repositoryName")],
            extra={"protocol": "HTTP", "repositoryName": name,
                   "repositoryId": record.repository_id if record else None})

    def _guard(self, environ: dict) -> None:
        """In class mode: CodeCommit's credentials, of the repository's account (or the instructor). On a
        laptop git is never asked for credentials; those it sends unasked (a key pair, as the grader's
        catch-up sends them) name the caller in the push's event, and wrong ones are ignored."""
        path = environ.get("PATH_INFO", "")
        parsed = parse_git_path(path)
        if parsed is None:
            return  # no repository: 404
        account, region, _name, suffix = parsed
        base = path[:len(path) - len(suffix)] if path.endswith(suffix) else path  # the URL git was given
        if not self.labstack.settings.class_mode:
            if gitauth.basic_credentials(environ) is not None:
                with contextlib.suppress(gitauth.Refusal):
                    environ[_GIT_CALLER] = gitauth.authenticate(self.labstack, environ, "CodeCommit", base, (region,),
                                                                git_credentials=True, key_pairs=True)
            return
        caller = gitauth.authenticate(self.labstack, environ, "CodeCommit", base, (region,), git_credentials=True)
        if not caller.may_reach(account):
            raise gitauth.Refusal(403, f"{caller.name} may not reach the repositories of account {account}")
        self._decide(environ, caller, account, region, _name, suffix)
        environ[_GIT_CALLER] = caller  # for the push's or fetch's event

    def _decide(self, environ: dict, caller: gitauth.GitCaller, account: str, region: str, name: str,
                suffix: str) -> None:
        """codecommit:GitPull or codecommit:GitPush on the repository, decided by the policies of the IAM
        user whose HTTPS Git credentials or keys were sent, or of the role session whose keys were."""
        push = suffix == "/git-receive-pack" or "git-receive-pack" in environ.get("QUERY_STRING", "")
        action = "codecommit:GitPush" if push else "codecommit:GitPull"
        who: Identity | Principal | None = caller.identity
        if caller.iam_user:
            who = Principal.from_arn(f"arn:aws:iam::{account}:user/{caller.iam_user}")
        if who is None:
            return
        ask = Ask(action, f"arn:aws:codecommit:{region}:{account}:{name}")
        decision = self.labstack.gate.authorize(who, ask, region, f"codecommit.{action.partition(':')[2]}")
        if decision is not None and not decision.allowed:
            raise gitauth.Refusal(403, decision.message())

    def _locate(self, environ: dict) -> Target | None:
        parsed = parse_git_path(environ.get("PATH_INFO", ""))
        if parsed is None:
            return None
        account, region, name, suffix = parsed
        record = self.repos.get(account, region).get(name)
        if record is None:
            return None
        return Target(self.bare(account, region, name), suffix, record)

    def _pushed(self, target: Target, updates: list[RefUpdate]) -> None:
        self.changed(target.owner, target.repo, updates)

    def changed(self, record: Repository, repo: BareRepo, updates: list[RefUpdate]) -> None:
        """After references moved: default branch and last-modified date now, the change feed
        now, EventBridge events and triggers in order in the background (as AWS delivers them)."""
        with self.repos.lock:
            record.modified = now()
            record.default_branch = repo.settle_default(record.default_branch, created_branches(updates))
        meta, triggers = record.metadata(self.endpoint), list(record.triggers)
        self.outbox.send(lambda: events.notify(self.labstack.clients, meta, triggers, record.trigger_config_id, updates))
        feed = change_feed(self.labstack)
        for update in updates:
            feed.publish(SourceChange("CodeCommit", record.name, update.ref, update.old, update.new, record.account, record.region))

    # --- repositories -----------------------------------------------------------------
    def create_repository(self, ctx: RequestContext, request: dict) -> dict:
        name = check_name(request["repositoryName"])
        _check_tags(request.get("tags") or {})
        with self.repos.lock:
            repos = self.repos.get(ctx.account, ctx.region)
            if name in repos:
                raise AwsError("RepositoryNameExistsException", f"Repository named {name} already exists")
            record = Repository(name, ctx.account, ctx.region, request.get("repositoryDescription"), tags=dict(request.get("tags") or {}))
            self.bare(ctx.account, ctx.region, name).init()
            repos[name] = record
        return {"repositoryMetadata": record.metadata(self.endpoint_for(ctx))}

    def get_repository(self, ctx: RequestContext, request: dict) -> dict:
        record = self.find(ctx.account, ctx.region, request["repositoryName"])
        return {"repositoryMetadata": record.metadata(self.endpoint_for(ctx))}

    def list_repositories(self, ctx: RequestContext, request: dict) -> dict:
        sort_by = request.get("sortBy", "repositoryName")
        order = request.get("order", "ascending")
        key: Callable[[Repository], Any] = (lambda r: r.name) if sort_by == "repositoryName" else (lambda r: r.modified)
        records = sorted(self.repos.get(ctx.account, ctx.region).values(), key=key, reverse=order == "descending")
        page, token = _cc_page(records, request.get("nextToken"), PAGE)
        result: dict = {"repositories": [{"repositoryName": r.name, "repositoryId": r.repository_id} for r in page]}
        if token:
            result["nextToken"] = token
        return result

    def delete_repository(self, ctx: RequestContext, request: dict) -> dict:
        name = check_name(request["repositoryName"])
        with self.repos.lock:
            record = self.repos.get(ctx.account, ctx.region).pop(name, None)
            if record is None:
                return {}
            self.bare(ctx.account, ctx.region, name).remove()
        return {"repositoryId": record.repository_id}

    def batch_get_repositories(self, ctx: RequestContext, request: dict) -> dict:
        names = request["repositoryNames"]
        if not names:
            raise AwsError("RepositoryNamesRequiredException", "At least one repository name is required")
        if len(names) > MAX_BATCH_REPOSITORIES:
            raise AwsError("MaximumRepositoryNamesExceededException", f"At most {MAX_BATCH_REPOSITORIES} repository names are allowed")
        found, missing = [], []
        repos = self.repos.get(ctx.account, ctx.region)
        for name in names:
            check_name(name)
            record = repos.get(name)
            if record is None:
                missing.append(name)
            else:
                found.append(record.metadata(self.endpoint_for(ctx)))
        errors = [{"repositoryName": n, "errorCode": "RepositoryDoesNotExistException", "errorMessage": f"{n} does not exist"}
                  for n in missing]
        return {"repositories": found, "repositoriesNotFound": missing, "errors": errors}

    def update_repository_name(self, ctx: RequestContext, request: dict) -> dict:
        old, new = request["oldName"], check_name(request["newName"])
        with self.repos.lock:
            record = self.find(ctx.account, ctx.region, old)
            repos = self.repos.get(ctx.account, ctx.region)
            if new == old:
                return {}
            if new in repos:
                raise AwsError("RepositoryNameExistsException", f"Repository named {new} already exists")
            target = self.bare(ctx.account, ctx.region, new).path
            if target.exists():
                shutil.rmtree(target)
            self.bare(ctx.account, ctx.region, old).path.rename(target)
            del repos[old]
            record.name = new
            record.modified = now()
            repos[new] = record
        return {}

    def update_repository_description(self, ctx: RequestContext, request: dict) -> dict:
        with self.repos.lock:
            record = self.find(ctx.account, ctx.region, request["repositoryName"])
            record.description = request.get("repositoryDescription")
            record.modified = now()
        return {}

    def update_default_branch(self, ctx: RequestContext, request: dict) -> dict:
        record, repo = self._repo(ctx, request["repositoryName"])
        branch = _check_branch_name(request["defaultBranchName"])
        with self.repos.lock:
            if branch not in repo.branches():
                raise AwsError("BranchDoesNotExistException", f"Branch {branch} does not exist")
            repo.set_head(branch)
            record.default_branch = branch
            record.modified = now()
        return {}

    # --- tags -------------------------------------------------------------------------
    def _by_arn(self, ctx: RequestContext, arn: str) -> Repository:
        if not arn:
            raise AwsError("ResourceArnRequiredException", "A resource ARN is required")
        match = _ARN.match(arn)
        if match is None:
            raise AwsError("InvalidResourceArnException", f"{arn} is not a CodeCommit repository ARN")
        region, account, name = match.groups()
        if (account, region) != (ctx.account, ctx.region):
            raise AwsError("RepositoryDoesNotExistException", f"{name} does not exist")
        return self.find(account, region, name)

    def tag_resource(self, ctx: RequestContext, request: dict) -> dict:
        _check_tags(request["tags"])
        with self.repos.lock:
            record = self._by_arn(ctx, request["resourceArn"])
            merged = {**record.tags, **request["tags"]}
            _check_tags(merged)
            record.tags = merged
        return {}

    def untag_resource(self, ctx: RequestContext, request: dict) -> dict:
        with self.repos.lock:
            record = self._by_arn(ctx, request["resourceArn"])
            for key in request["tagKeys"]:
                record.tags.pop(key, None)
        return {}

    def list_tags_for_resource(self, ctx: RequestContext, request: dict) -> dict:
        return {"tags": dict(self._by_arn(ctx, request["resourceArn"]).tags)}

    # --- branches ---------------------------------------------------------------------
    def create_branch(self, ctx: RequestContext, request: dict) -> dict:
        record, repo = self._repo(ctx, request["repositoryName"])
        branch = _check_branch_name(request["branchName"])
        commit_id = _object_id(repo, request["commitId"], "commit",
                               ("CommitIdRequiredException", "InvalidCommitIdException", "CommitDoesNotExistException"))
        if not repo.update_ref(f"refs/heads/{branch}", commit_id, ZERO):
            raise AwsError("BranchNameExistsException", f"Branch {branch} already exists")
        self.changed(record, repo, [RefUpdate(ZERO, commit_id, f"refs/heads/{branch}")])
        return {}

    def get_branch(self, ctx: RequestContext, request: dict) -> dict:
        _, repo = self._repo(ctx, request.get("repositoryName"))
        branch = _check_branch_name(request.get("branchName"))
        commit_id = repo.branches().get(branch)
        if commit_id is None:
            raise AwsError("BranchDoesNotExistException", f"Branch {branch} does not exist")
        return {"branch": {"branchName": branch, "commitId": commit_id}}

    def list_branches(self, ctx: RequestContext, request: dict) -> dict:
        _, repo = self._repo(ctx, request["repositoryName"])
        page, token = _cc_page(sorted(repo.branches()), request.get("nextToken"), PAGE)
        return {"branches": page, **({"nextToken": token} if token else {})}

    def delete_branch(self, ctx: RequestContext, request: dict) -> dict:
        record, repo = self._repo(ctx, request["repositoryName"])
        branch = _check_branch_name(request["branchName"])
        if branch == record.default_branch:
            raise AwsError("DefaultBranchCannotBeDeletedException", f"{branch} is the default branch and cannot be deleted")
        commit_id = repo.branches().get(branch)
        if commit_id is None or not repo.update_ref(f"refs/heads/{branch}", ZERO, commit_id):
            return {}
        self.changed(record, repo, [RefUpdate(commit_id, ZERO, f"refs/heads/{branch}")])
        return {"deletedBranch": {"branchName": branch, "commitId": commit_id}}

    # --- commits and files (read) -----------------------------------------------------
    def get_commit(self, ctx: RequestContext, request: dict) -> dict:
        _, repo = self._repo(ctx, request["repositoryName"])
        commit_id = _object_id(repo, request["commitId"], "commit",
                               ("CommitIdRequiredException", "InvalidCommitIdException", "CommitIdDoesNotExistException"))
        return {"commit": repo.commit(commit_id)}

    def batch_get_commits(self, ctx: RequestContext, request: dict) -> dict:
        _, repo = self._repo(ctx, request["repositoryName"])
        ids = request["commitIds"]
        if not ids:
            raise AwsError("CommitIdsListRequiredException", "At least one commit id is required")
        if len(ids) > MAX_BATCH_COMMITS:
            raise AwsError("CommitIdsLimitExceededException", f"At most {MAX_BATCH_COMMITS} commit ids are allowed")
        commits, errors = [], []
        for commit_id in ids:
            if SHA.match(commit_id) and repo.object_type(commit_id) == "commit":
                commits.append(repo.commit(commit_id))
            else:
                errors.append({"commitId": commit_id, "errorCode": "CommitIdDoesNotExistException",
                               "errorMessage": f"Commit {commit_id} does not exist"})
        return {"commits": commits, "errors": errors}

    def get_differences(self, ctx: RequestContext, request: dict) -> dict:
        _, repo = self._repo(ctx, request["repositoryName"])
        after = _specified_commit(repo, request["afterCommitSpecifier"])
        before = _specified_commit(repo, request["beforeCommitSpecifier"]) if request.get("beforeCommitSpecifier") else None
        changes = repo.changes(before, after)
        before_path = check_path(request["beforePath"]) if request.get("beforePath") else None
        after_path = check_path(request["afterPath"]) if request.get("afterPath") else None
        for path, commit in ((before_path, before), (after_path, after)):
            if path is not None and (commit is None or repo.entry(commit, path) is None):
                raise AwsError("PathDoesNotExistException", f"{path} does not exist")

        folders = [p for p in (before_path, after_path) if p]
        differences = []
        for change in changes:
            if folders and not any(change.path == f or change.path.startswith(f + "/") for f in folders):
                continue
            difference: dict = {"changeType": change.status}
            if change.status != "A":
                difference["beforeBlob"] = {"blobId": change.old_sha, "path": change.path, "mode": change.old_mode}
            if change.status != "D":
                difference["afterBlob"] = {"blobId": change.new_sha, "path": change.path, "mode": change.new_mode}
            differences.append(difference)
        limit = request.get("MaxResults") or 100
        if limit < 1:
            raise AwsError("InvalidMaxResultsException", "MaxResults must be at least 1")
        page, token = _cc_page(differences, request.get("NextToken"), limit)
        return {"differences": page, **({"NextToken": token} if token else {})}

    def get_file(self, ctx: RequestContext, request: dict) -> dict:
        record, repo = self._repo(ctx, request["repositoryName"])
        commit_id = _specified_commit(repo, request.get("commitSpecifier") or record.default_branch or "HEAD")
        path = check_path(request["filePath"])
        entry = repo.entry(commit_id, path)
        if entry is None or entry.type != "blob":
            raise AwsError("FileDoesNotExistException", f"{path} does not exist in {commit_id}")
        size = repo.blob_size(entry.sha)
        if size > MAX_FILE_BYTES:
            raise AwsError("FileTooLargeException", f"{path} is {size} bytes; GetFile returns files up to 6 MB")
        return {"commitId": commit_id, "blobId": entry.sha, "filePath": path, "fileMode": MODE_NAMES.get(entry.mode, "NORMAL"),
                "fileSize": size, "fileContent": repo.blob(entry.sha)}

    def get_folder(self, ctx: RequestContext, request: dict) -> dict:
        record, repo = self._repo(ctx, request["repositoryName"])
        commit_id = _specified_commit(repo, request.get("commitSpecifier") or record.default_branch or "HEAD")
        folder = request["folderPath"].strip("/")
        if folder:
            folder = check_path(folder)
            entry = repo.entry(commit_id, folder)
            if entry is None or entry.type != "tree":
                raise AwsError("FolderDoesNotExistException", f"{folder} does not exist in {commit_id}")
            tree_id = entry.sha
        else:
            tree_id = repo.commit(commit_id)["treeId"]
        result: dict = {"commitId": commit_id, "folderPath": folder or "/", "treeId": tree_id,
                        "subFolders": [], "files": [], "symbolicLinks": [], "subModules": []}
        for entry in repo.tree(commit_id, folder):
            absolute = f"{folder}/{entry.path}" if folder else entry.path
            if entry.type == "tree":
                result["subFolders"].append({"treeId": entry.sha, "absolutePath": absolute, "relativePath": entry.path})
            elif entry.type == "commit":
                result["subModules"].append({"commitId": entry.sha, "absolutePath": absolute, "relativePath": entry.path})
            else:
                item = {"blobId": entry.sha, "absolutePath": absolute, "relativePath": entry.path,
                        "fileMode": MODE_NAMES.get(entry.mode, "NORMAL")}
                result["symbolicLinks" if entry.mode == MODES["SYMLINK"] else "files"].append(item)
        return result

    def get_blob(self, ctx: RequestContext, request: dict) -> dict:
        _, repo = self._repo(ctx, request["repositoryName"])
        blob_id = _object_id(repo, request["blobId"], "blob",
                             ("BlobIdRequiredException", "InvalidBlobIdException", "BlobIdDoesNotExistException"))
        if repo.blob_size(blob_id) > MAX_FILE_BYTES:
            raise AwsError("FileTooLargeException", f"Blob {blob_id} is larger than 6 MB")
        return {"content": repo.blob(blob_id)}

    # --- commits and files (write) ----------------------------------------------------
    def put_file(self, ctx: RequestContext, request: dict) -> dict:
        path = check_path(request["filePath"])
        mode = MODES[request.get("fileMode") or "NORMAL"]
        content = request["fileContent"]
        if len(content) > MAX_FILE_BYTES:
            raise AwsError("FileContentSizeLimitExceededException", "The file is larger than 6 MB, the most PutFile accepts")

        def change(files: dict[str, tuple[str, str]], repo: BareRepo) -> None:
            blob = repo.write_blob(content)
            if files.get(path) == (mode, blob):
                raise AwsError("SameFileContentException", f"{path} already has this content and mode")
            files[path] = (mode, blob)

        commit_id, tree_id, files, _ = self._commit(ctx, request, request.get("commitMessage") or "", request.get("name"), change)
        return {"commitId": commit_id, "blobId": files[path][1], "treeId": tree_id}

    def delete_file(self, ctx: RequestContext, request: dict) -> dict:
        path = check_path(request["filePath"])
        removed: dict[str, str] = {}

        def change(files: dict[str, tuple[str, str]], repo: BareRepo) -> None:
            if path not in files:
                raise AwsError("FileDoesNotExistException", f"{path} does not exist")
            removed["blob"] = files.pop(path)[1]

        commit_id, tree_id, _, _ = self._commit(ctx, request, request.get("commitMessage") or "", request.get("name"), change)
        return {"commitId": commit_id, "blobId": removed["blob"], "treeId": tree_id, "filePath": path}

    def create_commit(self, ctx: RequestContext, request: dict) -> dict:
        puts, deletes, modes = request.get("putFiles") or [], request.get("deleteFiles") or [], request.get("setFileModes") or []
        if not (puts or deletes or modes):
            raise AwsError("FileEntryRequiredException", "At least one file to put, delete or change the mode of is required")
        paths = [check_path(e["filePath"]) for e in puts + deletes + modes]
        if len(paths) != len(set(paths)):
            raise AwsError("SamePathRequestException", "Each path may appear in only one entry of a commit")
        for entry in puts:
            has_content, source = "fileContent" in entry, entry.get("sourceFile")
            if has_content and source:
                raise AwsError("FileContentAndSourceFileSpecifiedException", f"{entry['filePath']}: give fileContent or sourceFile, not both")
            if not has_content and not source:
                raise AwsError("SourceFileOrContentRequiredException", f"{entry['filePath']}: fileContent or sourceFile is required")
            if has_content and len(entry["fileContent"]) > MAX_FILE_BYTES:
                raise AwsError("FileContentSizeLimitExceededException", f"{entry['filePath']} is larger than 6 MB")

        def change(files: dict[str, tuple[str, str]], repo: BareRepo) -> None:
            before = dict(files)
            for entry in puts:
                path = check_path(entry["filePath"])
                source = entry.get("sourceFile")
                if source:
                    origin = check_path(source["filePath"])
                    if origin not in before:
                        raise AwsError("FileDoesNotExistException", f"{origin} does not exist")
                    mode, blob = before[origin]
                    if source.get("isMove"):
                        files.pop(origin, None)
                else:
                    mode, blob = MODES["NORMAL"], repo.write_blob(entry["fileContent"])
                if entry.get("fileMode"):
                    mode = MODES[entry["fileMode"]]
                elif path in before and not source:
                    mode = before[path][0]
                files[path] = (mode, blob)
            for entry in deletes:
                path = check_path(entry["filePath"])
                if files.pop(path, None) is None:
                    raise AwsError("FileDoesNotExistException", f"{path} does not exist")
            for entry in modes:
                path = check_path(entry["filePath"])
                if path not in files:
                    raise AwsError("FileDoesNotExistException", f"{path} does not exist")
                files[path] = (MODES[entry["fileMode"]], files[path][1])

        commit_id, tree_id, files, before = self._commit(
            ctx, request, request.get("commitMessage") or "", request.get("authorName"), change)

        def meta(path: str, data: tuple[str, str]) -> dict:
            return {"absolutePath": path, "blobId": data[1], "fileMode": MODE_NAMES.get(data[0], "NORMAL")}

        return {
            "commitId": commit_id, "treeId": tree_id,
            "filesAdded": [meta(p, files[p]) for p in sorted(files.keys() - before.keys())],
            "filesUpdated": [meta(p, files[p]) for p in sorted(files.keys() & before.keys()) if files[p] != before[p]],
            "filesDeleted": [meta(p, before[p]) for p in sorted(before.keys() - files.keys())],
        }

    def _commit(self, ctx: RequestContext, request: dict, message: str, author: str | None,
                change: Callable[[dict[str, tuple[str, str]], BareRepo], None]) -> tuple[str, str, dict, dict]:
        """Apply ``change`` to the files of the branch's head and commit it on the branch.

        Returns (commit id, tree id, files after, files before). The branch moves only if it
        still points at the parent (compare-and-swap), so concurrent writers cannot lose work.
        """
        record, repo = self._repo(ctx, request["repositoryName"])
        branch = _check_branch_name(request.get("branchName"))
        if author is not None and len(author) > 1024:
            raise AwsError("NameLengthExceededException", "The name is longer than 1024 characters")
        email = request.get("email") or ""
        if email and not re.match(r"^[^@\s<>]+@[^@\s<>]+$", email):
            raise AwsError("InvalidEmailException", f"{email} is not a valid email address")
        branches = repo.branches()
        head = branches.get(branch)
        parent = request.get("parentCommitId")
        if branches and head is None:  # only an empty repository gets its first branch this way
            raise AwsError("BranchDoesNotExistException", f"Branch {branch} does not exist")
        if parent:
            _object_id(repo, parent, "commit", ("ParentCommitIdRequiredException", "InvalidParentCommitIdException",
                                                "ParentCommitDoesNotExistException"))
            if parent != head:
                raise AwsError("ParentCommitIdOutdatedException",
                               f"Parent commit {parent} is not the head of {branch} ({head}); get the branch again")
        elif branches:
            raise AwsError("ParentCommitIdRequiredException", "parentCommitId is required: the head commit of the branch")
        base = head
        before = repo.files(base)
        files = dict(before)
        change(files, repo)
        _check_conflicts(files)
        if base is not None and files == before:
            raise AwsError("NoChangeException", "The commit changes nothing")
        tree = repo.write_tree(files)
        name = author or ctx.access_key or "AWS CodeCommit"
        commit_id = repo.commit_tree(tree, [base] if base else [], message, name, email)
        ref = f"refs/heads/{branch}"
        if not repo.update_ref(ref, commit_id, head or ZERO):
            raise AwsError("ParentCommitIdOutdatedException", f"{branch} moved while this commit was made; get the branch again")
        self.changed(record, repo, [RefUpdate(head or ZERO, commit_id, ref)])
        return commit_id, tree, files, before

    # --- triggers ---------------------------------------------------------------------
    def put_repository_triggers(self, ctx: RequestContext, request: dict) -> dict:
        triggers = [_check_trigger(t, ctx) for t in request["triggers"]]
        if len(triggers) > 10:
            raise AwsError("MaximumRepositoryTriggersExceededException", "A repository can have at most 10 triggers")
        with self.repos.lock:
            record = self.find(ctx.account, ctx.region, request["repositoryName"])
            record.triggers = triggers
            record.trigger_config_id = str(uuid.uuid4())
        return {"configurationId": record.trigger_config_id}

    def get_repository_triggers(self, ctx: RequestContext, request: dict) -> dict:
        record = self.find(ctx.account, ctx.region, request["repositoryName"])
        return {"configurationId": record.trigger_config_id, "triggers": record.triggers}

    def test_repository_triggers(self, ctx: RequestContext, request: dict) -> dict:
        record, repo = self._repo(ctx, request["repositoryName"])
        triggers = [_check_trigger(t, ctx) for t in request["triggers"]]
        head = repo.branches().get(record.default_branch or "", ZERO)
        sample = [RefUpdate(head, head, f"refs/heads/{record.default_branch or 'main'}")]
        succeeded, failed = [], []
        for trigger in triggers:
            message = events.trigger_message(record.metadata(self.endpoint), ctx.region, ctx.account, trigger, sample,
                                             record.trigger_config_id, event_name="TriggerEventTest")
            failure = events.deliver(self.labstack.clients, ctx.account, ctx.region, trigger, message)
            if failure is None:
                succeeded.append(trigger["name"])
            else:
                failed.append({"trigger": trigger["name"], "failureMessage": failure})
        return {"successfulExecutions": succeeded, "failedExecutions": failed}


def _cc_page(items: list, token: str | None, size: int) -> tuple[list, str | None]:
    return page(items, token, size, "InvalidContinuationTokenException", "The continuation token is not valid")


def _check_tags(tags: dict[str, str]) -> None:
    if any(key.lower().startswith("aws:") for key in tags):
        raise AwsError("InvalidSystemTagUsageException", "Tag keys starting with aws: are reserved for AWS")
    if len(tags) > 50:
        raise AwsError("TooManyTagsException", "A repository can have at most 50 tags")


def _check_branch_name(branch: str | None) -> str:
    if not branch:
        raise AwsError("BranchNameRequiredException", "A branch name is required")
    try:
        git(None, "check-ref-format", f"refs/heads/{branch}")
    except GitError:
        raise AwsError("InvalidBranchNameException", f"{branch} is not a valid branch name") from None
    return branch


def _object_id(repo: BareRepo, object_id: str, kind: str, codes: tuple[str, str, str]) -> str:
    """``object_id`` if it is the full id of a ``kind`` object in ``repo``; else the error
    ``codes`` names for a missing, malformed or unknown id (in that order)."""
    required, invalid, unknown = codes
    if not object_id:
        raise AwsError(required, f"A {kind} id is required")
    if not SHA.match(object_id):
        raise AwsError(invalid, f"{object_id} is not a full {kind} id")
    if repo.object_type(object_id) != kind:
        raise AwsError(unknown, f"{kind.capitalize()} {object_id} does not exist")
    return object_id


def _specified_commit(repo: BareRepo, spec: str) -> str:
    """The commit a specifier (branch, tag, commit id, HEAD) names."""
    if not spec:
        raise AwsError("CommitRequiredException", "A commit specifier is required")
    commit_id = repo.resolve_commit(spec)
    if commit_id is None:
        raise AwsError("CommitDoesNotExistException", f"{spec} names no commit in this repository")
    return commit_id


def _check_conflicts(files: dict[str, tuple[str, str]]) -> None:
    """A path may not be both a file and a folder."""
    folders = {path.rsplit("/", 1)[0] for path in files if "/" in path}
    folders |= {f.rsplit("/", i)[0] for f in list(folders) for i in range(1, f.count("/") + 1)}
    clash = sorted(folders & files.keys())
    if clash:
        raise AwsError("FileNameConflictsWithDirectoryNameException",
                       f"{clash[0]} would be both a file and a folder")


def _check_trigger(trigger: dict, ctx: RequestContext) -> dict:
    if not trigger.get("name"):
        raise AwsError("RepositoryTriggerNameRequiredException", "A trigger name is required")
    arn = trigger.get("destinationArn") or ""
    if not arn:
        raise AwsError("RepositoryTriggerDestinationArnRequiredException", "A trigger destination ARN is required")
    parts = arn.split(":")
    if len(parts) < 6 or parts[2] not in ("sns", "lambda"):
        raise AwsError("InvalidRepositoryTriggerDestinationArnException", f"{arn} is not an SNS topic or Lambda function ARN")
    if parts[3] != ctx.region:
        raise AwsError("InvalidRepositoryTriggerRegionException", f"{arn} is not in {ctx.region}")
    if not trigger.get("events"):
        raise AwsError("RepositoryTriggerEventsListRequiredException", "A trigger needs at least one event")
    if "all" in trigger["events"] and len(trigger["events"]) > 1:
        raise AwsError("InvalidRepositoryTriggerEventsException", "'all' cannot be combined with other events")
    return {k: v for k, v in trigger.items() if v is not None}


PROVIDER = CodeCommitProvider
