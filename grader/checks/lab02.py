"""Lab 02, CodeBuild: the image repository, the build role (least privilege, with the one permission its
first build was denied added afterwards), the build project, a build that ran, failed on a test, was
fixed with a commit and pushed the app's image with the commit's tag."""

from __future__ import annotations

import ast
from functools import partial
from typing import Any

from grader.backends import LabSession
from grader.checks import Check, Fail, found, lab01
from grader.checks import check as _check
from grader.policies import Need, allows, grants_beyond, missing_permissions, role_policies

TITLE = "Lab 02 · CodeBuild"
NOTEBOOK = "02_codebuild"

ECR_REPOSITORY = "sample-app"
PROJECT = "cicd-lab-build"
BUILD_IMAGE = "aws/codebuild/amazonlinux2-x86_64-standard:5.0"
LOG_GROUP = f"/codebuild/{PROJECT}"
ARTIFACT_NAME = "build_output"
BUILD_POLICY = "build"  # the inline policy lab 02 puts on lab 01's build role
LOGIN_POLICY = "ecr-login"  # the one permission the first build is denied, added after reading the denial
LOGIN_ACTION = "ecr:GetAuthorizationToken"  # docker login's token: an action with no resource (*)
# CodeBuild names a buildspec's report group <project>-<report name> (the app's buildspec: unit-tests, coverage).
REPORT_GROUPS = {"unit-tests": f"{PROJECT}-unit-tests", "coverage": f"{PROJECT}-coverage"}
# What the build role needs beyond lab 01: (action, resource kind) pairs; kinds are filled per account.
BUILD_ROLE_NEEDS = ((LOGIN_ACTION, "*"), ("ecr:PutImage", "repository"),
                    ("ecr:InitiateLayerUpload", "repository"), ("logs:PutLogEvents", "log-group"),
                    ("s3:PutObject", "bucket"), ("codebuild:BatchPutTestCases", "report-group"),
                    ("codecommit:GitPull", "source"))

CHECKS: list[Check] = []
check = partial(_check, CHECKS)


def repository_uri(session: LabSession) -> str:
    """The URI of the lab's ECR repository (what docker tags and pushes)."""
    return f"{session.account}.dkr.ecr.{session.region}.amazonaws.com/{ECR_REPOSITORY}"


def names(session: LabSession) -> dict[str, Any]:
    """Every name lab 02 asks for (and lab 01's it uses), for this session's account."""
    earlier = lab01.names(session)
    return {"ecr_repository": ECR_REPOSITORY, "repository_uri": repository_uri(session), "project": PROJECT,
            "build_policy": BUILD_POLICY, "login_policy": LOGIN_POLICY,
            "build_image": BUILD_IMAGE, "log_group": LOG_GROUP, "artifact_name": ARTIFACT_NAME,
            "report_groups": dict(REPORT_GROUPS), "source_repository": earlier["repository"],
            "branch": earlier["branch"], "bucket": earlier["bucket"], "key_alias": earlier["key_alias"],
            "build_role": earlier["roles"]["codebuild"], "db_password_parameter": earlier["db_password_parameter"],
            "api_key_secret": earlier["api_key_secret"], "api_key_field": earlier["api_key_field"]}


def _project(session: LabSession) -> dict[str, Any]:
    projects = session.client("codebuild").batch_get_projects(names=[PROJECT])["projects"]
    if not projects:
        raise Fail(f"there is no CodeBuild project {PROJECT}")
    return dict(projects[0])


def builds(session: LabSession) -> list[dict[str, Any]]:
    """The project's builds, newest first (at most the last 100)."""
    codebuild = session.client("codebuild")
    ids = found(lambda: codebuild.list_builds_for_project(projectName=PROJECT, sortOrder="DESCENDING")["ids"],
                f"there is no CodeBuild project {PROJECT}")[:100]
    return list(codebuild.batch_get_builds(ids=ids)["builds"]) if ids else []


def _succeeded(session: LabSession) -> dict[str, Any]:
    """The newest SUCCEEDED build of the project."""
    history = builds(session)
    if not history:
        raise Fail(f"{PROJECT} has never run a build")
    done = [b for b in history if b["buildStatus"] == "SUCCEEDED"]
    if not done:
        raise Fail(f"none of the {len(history)} builds of {PROJECT} succeeded (newest: {history[0]['buildStatus']})")
    return done[0]


def exported(build: dict[str, Any]) -> dict[str, str]:
    """The variables a build exported (its buildspec's exported-variables), by name."""
    return {v["name"]: v.get("value", "") for v in build.get("exportedEnvironmentVariables", [])}


def _test_cases(session: LabSession, build: dict[str, Any], status: str | None = None) -> list[dict[str, Any]]:
    """The cases of ``build``'s unit-test report (every page), only those with ``status`` if given."""
    arn = next((a for a in build.get("reportArns", []) if f"/{REPORT_GROUPS['unit-tests']}:" in a), None)
    if arn is None:
        return []
    pages = session.client("codebuild").get_paginator("describe_test_cases").paginate(
        reportArn=arn, **({"filter": {"status": status}} if status else {}))
    return [case for page in pages for case in page["testCases"]]


def image_digests(session: LabSession) -> dict[str, str]:
    """Tag → image digest of every tagged image in the lab's ECR repository (every page)."""
    pages = session.client("ecr").get_paginator("describe_images").paginate(repositoryName=ECR_REPOSITORY)
    images = found(lambda: [image for page in pages for image in page["imageDetails"]],
                   f"there is no ECR repository {ECR_REPOSITORY}")
    return {tag: image["imageDigest"] for image in images for tag in image.get("imageTags", [])}


# --- the image repository ---------------------------------------------------------------------

@check("ecr-repository", 2, f"Create the ECR repository {ECR_REPOSITORY}; its repositoryUri is what the build tags "
       "and pushes.", uses=("ecr_repository",))
def ecr_repository(session: LabSession) -> str:
    repo = found(lambda: session.client("ecr").describe_repositories(repositoryNames=[ECR_REPOSITORY]),
                 f"there is no ECR repository {ECR_REPOSITORY}")["repositories"][0]
    return f"{ECR_REPOSITORY} at {repo['repositoryUri']}"


@check("ecr-scan-on-push", 1, "ECR can scan every image for known vulnerabilities as it is pushed: a setting of "
       "the repository's image scanning configuration.", hidden=True, uses=("ecr_repository",))
def ecr_scan_on_push(session: LabSession) -> str:
    repo = found(lambda: session.client("ecr").describe_repositories(repositoryNames=[ECR_REPOSITORY]),
                 f"there is no ECR repository {ECR_REPOSITORY}")["repositories"][0]
    if not repo.get("imageScanningConfiguration", {}).get("scanOnPush"):
        raise Fail(f"{ECR_REPOSITORY} does not scan images on push")
    return "images are scanned on push"


# --- the build role -----------------------------------------------------------------------------

def _resources(session: LabSession) -> dict[str, str]:
    """A resource of each kind the build touches (``BUILD_ROLE_NEEDS``), for this session's account."""
    prefix = f"{session.region}:{session.account}"
    return {"*": "*", "repository": f"arn:aws:ecr:{prefix}:repository/{ECR_REPOSITORY}",
            "log-group": f"arn:aws:logs:{prefix}:log-group:{LOG_GROUP}:log-stream:any",
            "bucket": f"arn:aws:s3:::{lab01.bucket_name(session.account)}/{ARTIFACT_NAME}",
            "report-group": f"arn:aws:codebuild:{prefix}:report-group/{REPORT_GROUPS['unit-tests']}",
            "source": f"arn:aws:codecommit:{prefix}:{lab01.REPOSITORY}"}


def _missing_permissions(session: LabSession) -> list[str]:
    role = lab01.ROLES["codebuild"]
    found(lambda: session.client("iam").get_role(RoleName=role), f"there is no role {role}")
    resources = _resources(session)
    return missing_permissions(session, role, [(action, resources[kind]) for action, kind in BUILD_ROLE_NEEDS])


def _scoped_needs(session: LabSession) -> list[Need]:
    """What the build role needs, each on a resource whose neighbour (another repository, log group, report
    group, parameter, secret, key) it must not reach: grants_beyond probes those neighbours."""
    prefix = f"{session.region}:{session.account}"
    parameter = found(lambda: session.client("ssm").get_parameter(Name=lab01.DB_PASSWORD_PARAMETER)["Parameter"]["ARN"],
                      f"there is no SSM parameter {lab01.DB_PASSWORD_PARAMETER}")
    secret = found(lambda: session.client("secretsmanager").describe_secret(SecretId=lab01.API_KEY_SECRET)["ARN"],
                   f"there is no secret {lab01.API_KEY_SECRET}")
    key = found(lambda: session.client("kms").describe_key(KeyId=lab01.KEY_ALIAS)["KeyMetadata"]["Arn"],
                f"no KMS key has the alias {lab01.KEY_ALIAS}")
    repository = f"arn:aws:ecr:{prefix}:repository/{ECR_REPOSITORY}"
    return [(LOGIN_ACTION, "*"), *((a, repository) for a in ("ecr:PutImage", "ecr:InitiateLayerUpload",
                                                               "ecr:UploadLayerPart", "ecr:CompleteLayerUpload")),
            ("logs:PutLogEvents", f"arn:aws:logs:{prefix}:log-group:{LOG_GROUP}"),
            ("codebuild:BatchPutTestCases", f"arn:aws:codebuild:{prefix}:report-group/{REPORT_GROUPS['unit-tests']}"),
            ("codecommit:GitPull", f"arn:aws:codecommit:{prefix}:{lab01.REPOSITORY}"),
            ("s3:GetBucketLocation", f"arn:aws:s3:::{lab01.bucket_name(session.account)}"),
            ("ssm:GetParameters", parameter), ("secretsmanager:GetSecretValue", secret), ("kms:Decrypt", key)]


@check("build-role-can-push", 2, "Pushing needs the layer upload actions and ecr:PutImage on the repository's "
       "ARN, and on no other repository.", uses=("build_policy",))
def build_role_can_push(session: LabSession) -> str:
    role = lab01.ROLES["codebuild"]
    missing = [m for m in _missing_permissions(session) if m.startswith("ecr:") and not m.startswith(LOGIN_ACTION)]
    if missing:
        raise Fail(f"{role} may not {'; '.join(missing)}")
    other = f"arn:aws:ecr:{session.region}:{session.account}:repository/another-app"
    if allows(role_policies(session, role), "ecr:PutImage", other):
        raise Fail(f"{role} may push to any repository (ecr:PutImage on {other}), not just {ECR_REPOSITORY}")
    return f"{role} may push to {ECR_REPOSITORY}, and to no other repository"


@check("build-role-source-logs-artifacts-reports", 2, "Besides ECR, a build pulls its source (CodeCommit), writes "
       "its log (CloudWatch Logs), its artifact (the S3 bucket) and its reports (CodeBuild report groups): allow "
       "each where it goes.", hidden=True, uses=("build_policy",))
def build_role_rest(session: LabSession) -> str:
    missing = [m for m in _missing_permissions(session) if not m.startswith("ecr:")]
    if missing:
        raise Fail(f"{lab01.ROLES['codebuild']} may not {'; '.join(missing)}")
    return "the build may pull its source and write its log, artifact and reports"


@check("build-role-ecr-login", 2, "The first build's log says which action the role was denied, on which "
       "resource: allow exactly that, then build again.", uses=("login_policy",))
def build_role_ecr_login(session: LabSession) -> str:
    role = lab01.ROLES["codebuild"]
    found(lambda: session.client("iam").get_role(RoleName=role), f"there is no role {role}")
    missing = missing_permissions(session, role, [(LOGIN_ACTION, "*")])
    if missing:
        raise Fail(f"{role} may still not {missing[0]}: docker login in pre_build cannot get a token")
    return f"{role} may {LOGIN_ACTION} (docker login)"


@check("build-role-least-privilege", 2, "Fix a denial with the one action it names, on the resource it names: "
       "not ecr:*, not a managed policy such as AdministratorAccess, not Resource * where an ARN fits.",
       hidden=True, uses=("login_policy",))
def build_role_least_privilege(session: LabSession) -> str:
    role = lab01.ROLES["codebuild"]
    found(lambda: session.client("iam").get_role(RoleName=role), f"there is no role {role}")
    if missing_permissions(session, role, [(LOGIN_ACTION, "*")]):
        raise Fail(f"{role} may not {LOGIN_ACTION} yet: grant it first, then this judges how")
    beyond = grants_beyond(role_policies(session, role), _scoped_needs(session))
    if beyond:
        more = f" (and {len(beyond) - 3} more)" if len(beyond) > 3 else ""
        raise Fail(f"{role} allows more than a build needs: {'; '.join(beyond[:3])}{more}")
    return f"{role} may do what a build does, and no more"


# --- the project --------------------------------------------------------------------------------

@check("project-source", 2, f"The project's source is the CodeCommit repository {lab01.REPOSITORY} (its "
       f"cloneUrlHttp), built at the branch {lab01.BRANCH} (sourceVersion).", uses=("project",))
def project_source(session: LabSession) -> str:
    project = _project(session)
    source = project["source"]
    clone = found(lambda: session.client("codecommit").get_repository(repositoryName=lab01.REPOSITORY),
                  f"there is no CodeCommit repository {lab01.REPOSITORY}")["repositoryMetadata"]["cloneUrlHttp"]
    if source["type"] != "CODECOMMIT" or source.get("location") != clone:
        raise Fail(f"the source is {source['type']} {source.get('location', '')}, not CODECOMMIT {clone}")
    version = project.get("sourceVersion", "")
    if version not in (lab01.BRANCH, f"refs/heads/{lab01.BRANCH}"):
        raise Fail(f"the project builds {version or 'the default branch'}, not the branch {lab01.BRANCH}")
    return f"builds {lab01.REPOSITORY} at {version}"


@check("project-environment", 2, f"A Linux container ({BUILD_IMAGE}) in privileged mode: without it "
       "there is no docker in the build.", uses=("project",))
def project_environment(session: LabSession) -> str:
    env = _project(session)["environment"]
    problems = [f"{field} is {env.get(field)!r}" for field, wanted in
                (("type", "LINUX_CONTAINER"), ("image", BUILD_IMAGE), ("privilegedMode", True))
                if env.get(field) != wanted]
    if problems:
        raise Fail("; ".join(problems))
    return f"{BUILD_IMAGE}, privileged"


@check("project-role", 1, f"The project acts as lab 01's role {lab01.ROLES['codebuild']} (its ARN).", uses=("project",))
def project_role(session: LabSession) -> str:
    role = _project(session)["serviceRole"]
    if role.rsplit("/", 1)[-1] != lab01.ROLES["codebuild"]:
        raise Fail(f"the project's service role is {role}")
    return f"runs as {lab01.ROLES['codebuild']}"


@check("project-ecr-variable", 1, "The buildspec reads ECR_REPO from the environment: give the project a "
       "plain-text environment variable with the repository URI.", hidden=True, uses=("project",))
def project_ecr_variable(session: LabSession) -> str:
    variables = {v["name"]: v for v in _project(session)["environment"].get("environmentVariables", [])}
    value = variables.get("ECR_REPO", {}).get("value")
    if value != repository_uri(session):
        raise Fail(f"ECR_REPO is {value!r}, not {repository_uri(session)}")
    return "ECR_REPO names the repository"


@check("project-logs", 1, f"Send the build's log to CloudWatch Logs, in the group {LOG_GROUP}.", hidden=True,
       uses=("project",))
def project_logs(session: LabSession) -> str:
    logs = _project(session).get("logsConfig", {}).get("cloudWatchLogs", {})
    if logs.get("status") != "ENABLED" or logs.get("groupName") != LOG_GROUP:
        raise Fail(f"CloudWatch logs are {logs.get('status', 'unset')} in {logs.get('groupName', 'the default group')}")
    return f"logs go to {LOG_GROUP}"


@check("project-cache", 1, "A cache makes the next build faster: LOCAL with the source and Docker layer modes, "
       "as in the course's project (or S3).", hidden=True, uses=("project",))
def project_cache(session: LabSession) -> str:
    cache = _project(session).get("cache", {})
    if cache.get("type") not in ("LOCAL", "S3") or (cache["type"] == "LOCAL" and not cache.get("modes")):
        raise Fail(f"the cache is {cache.get('type', 'NO_CACHE')} {cache.get('modes', '')}".rstrip())
    return f"cache {cache['type']} {' '.join(cache.get('modes', []))}".rstrip()


@check("project-artifacts", 1, f"The build's artifact (imagedefinitions.json, taskdef.json, appspec.yaml) goes "
       f"to lab 01's bucket as a ZIP named {ARTIFACT_NAME}.", hidden=True, uses=("project",))
def project_artifacts(session: LabSession) -> str:
    artifacts = _project(session)["artifacts"]
    bucket = lab01.bucket_name(session.account)
    where = tuple(artifacts.get(field, "") for field in ("type", "location", "name", "packaging"))
    if where != ("S3", bucket, ARTIFACT_NAME, "ZIP"):
        raise Fail("artifacts go to {} {} {} packaged as {}".format(*(part or "-" for part in where)))
    return f"artifacts go to s3://{bucket}/{ARTIFACT_NAME}"


# --- builds ---------------------------------------------------------------------------------------

@check("build-succeeded", 2, f"Start a build of {PROJECT} and wait until it completes; its phases say where it "
       "stopped if it failed.", uses=("project",), runs=True)
def build_succeeded(session: LabSession) -> str:
    build = _succeeded(session)
    return f"build {build['id'].split(':')[-1][:8]} SUCCEEDED at {build.get('resolvedSourceVersion', '?')[:7]}"


@check("image-pushed", 2, f"A successful build pushes {ECR_REPOSITORY}:latest and {ECR_REPOSITORY}:<IMAGE_TAG>, "
       "the tag it exports.", uses=("project",), runs=True)
def image_pushed(session: LabSession) -> str:
    tag = exported(_succeeded(session)).get("IMAGE_TAG")
    if not tag:
        raise Fail("the newest successful build exported no IMAGE_TAG")
    missing = {"latest", tag} - set(image_digests(session))
    if missing:
        raise Fail(f"{ECR_REPOSITORY} has no image tagged {', '.join(sorted(missing))}")
    return f"{ECR_REPOSITORY}:latest and {ECR_REPOSITORY}:{tag} are in ECR"


class _Sources:
    """Test functions as the lab's repository holds them at a commit (each file read once)."""

    def __init__(self, session: LabSession) -> None:
        self.codecommit = session.client("codecommit")
        self.trees: dict[tuple[str, str], ast.Module | None] = {}

    def _tree(self, commit: str, path: str) -> ast.Module | None:
        if (commit, path) not in self.trees:
            try:
                text = self.codecommit.get_file(repositoryName=lab01.REPOSITORY, commitSpecifier=commit,
                                                filePath=path)["fileContent"].decode("utf-8", "replace")
                self.trees[commit, path] = ast.parse(text)
            except (self.codecommit.exceptions.FileDoesNotExistException, SyntaxError):
                self.trees[commit, path] = None
        return self.trees[commit, path]

    def test(self, commit: str, case: dict[str, Any]) -> str | None:
        """The test function behind a report's ``case`` (pytest's JUnit prefix names its module) at ``commit``,
        as ``ast.dump`` shows it (decorators and body, not layout or comments); None if it is not there."""
        tree = self._tree(commit, case.get("prefix", "").replace(".", "/") + ".py")
        name = case["name"].split("[")[0]  # a parametrized case: test_x[1-0]
        functions = (n for n in ast.walk(tree) if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))) if tree else ()
        return next((ast.dump(f) for f in functions if f.name == name), None)


def _unfixed(session: LabSession, sources: _Sources, failed: dict[str, Any], failing: list[dict[str, Any]],
             fix: dict[str, Any]) -> list[str]:
    """Why ``fix`` (a later successful build) does not show the ``failing`` tests of ``failed`` fixed: each must
    be in the fixing commit as it was in the failing one, and SUCCEEDED in the fixing build's report."""
    statuses = {(c.get("prefix"), c["name"]): c["status"] for c in _test_cases(session, fix)}
    problems = []
    for case in failing:
        label = f"{case.get('prefix')}.{case['name']}"
        before, after = (sources.test(b.get("resolvedSourceVersion", ""), case) for b in (failed, fix))
        status = statuses.get((case.get("prefix"), case["name"]))
        if after is None:
            problems.append(f"{label} is gone")
        elif after != before:
            problems.append(f"{label} was changed")
        elif status != "SUCCEEDED":
            problems.append(f"{label} is {status or 'missing from its report'}")
    return problems


@check("build-fixed", 3, "Find the failing test in the failed build's report, fix the code (the test is right: it "
       "must pass as it is), commit and push; then build again.", uses=("project",), runs=True)
def build_fixed(session: LabSession) -> str:
    history = builds(session)
    failed = [b for b in history if b["buildStatus"] == "FAILED"
              and any(p["phaseType"] == "BUILD" and p.get("phaseStatus") == "FAILED" for p in b.get("phases", []))]
    if not failed:
        raise Fail(f"no build of {PROJECT} has failed in its BUILD phase yet")
    # The oldest build that failed on tests (the colleague's commit), not one that failed for another reason.
    oldest, failing = next(((b, cases) for b in reversed(failed) if (cases := _test_cases(session, b, "FAILED"))),
                           (failed[-1], []))
    commit = oldest.get("resolvedSourceVersion", "?")
    if not failing:
        raise Fail(f"no failed build of {PROJECT} has a failing test in its {REPORT_GROUPS['unit-tests']} report")
    later = [b for b in history if b["buildStatus"] == "SUCCEEDED" and b["startTime"] > oldest["startTime"]
             and b.get("resolvedSourceVersion") != commit]
    if not later:
        raise Fail(f"no build of a later commit succeeded after the failure at {commit[:7]}")
    sources = _Sources(session)
    newest: list[str] = []
    for fix in later:
        problems = _unfixed(session, sources, oldest, failing, fix)
        if not problems:
            return f"the tests that failed at {commit[:7]} pass unchanged at {fix.get('resolvedSourceVersion', '?')[:7]}"
        newest = newest or problems
    raise Fail(f"the build at {later[0].get('resolvedSourceVersion', '?')[:7]} succeeded, but of the tests that failed "
               f"at {commit[:7]}: {'; '.join(newest)}")


@check("reports-recorded", 2, "The buildspec's reports section turns the JUnit XML and Cobertura files into "
       "report groups; a successful build has a test report that SUCCEEDED and a coverage report.", hidden=True,
       uses=("project",), runs=True)
def reports_recorded(session: LabSession) -> str:
    arns = _succeeded(session).get("reportArns", [])
    reports = session.client("codebuild").batch_get_reports(reportArns=arns)["reports"] if arns else []
    by_group = {r["reportGroupArn"].rsplit("/", 1)[-1]: r for r in reports}
    tests, coverage = by_group.get(REPORT_GROUPS["unit-tests"]), by_group.get(REPORT_GROUPS["coverage"])
    if tests is None or coverage is None:
        raise Fail(f"the newest successful build has reports in {', '.join(by_group) or 'no report group'}")
    if tests["status"] != "SUCCEEDED" or not tests.get("testSummary", {}).get("total"):
        raise Fail(f"its test report is {tests['status']} with {tests.get('testSummary', {}).get('total', 0)} tests")
    percent = coverage.get("codeCoverageSummary", {}).get("lineCoveragePercentage", 0)
    return f"{tests['testSummary']['total']} tests passed; {percent:.0f}% of lines covered"
