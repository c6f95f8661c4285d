"""Hostile archives against a real labstack: image layers run by ECS, Lambda packages, CodeBuild
sources, caches and artifacts. Each tries to reach a canary file outside the folder it is
unpacked into, or to unpack past the caps; the canary survives, labstack answers, and the error
says which member or which cap."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from labstack import archives
from labstack.images.build import Builder, BuildError
from labstack.images.layout import LocalImages
from labstack.images.registry import RegistryError, login, push

from tests.conftest import CLIENT_TIMEOUT
from tests.support.codebuild import Lab, buildspec, phases
from tests.support.hostile import file, folder, hardlink, push_image, symlink, tar_layer, zeros_zip, zip_of
from tests.support.roles import service_role
from tests.support.server import LabstackProcess, start_labstack
from tests.support.waiting import wait_for

ACCOUNT = "181818181818"
CANARY = b"the canary is alive"
ZIP_MAX_BYTES = 4_000_000
IMAGE_MAX_BYTES = 8_000_000
MAX_ENTRIES = 300
# Where each unpack happens, below the labstack home: an image in images/rootfs/.<hex>.<id>, a
# Lambda package in lambda/<account>/<region>/<name>/<version>.<id>, a build's source in
# builds/<account>/<region>/<build>/src. So many '..' lead from there to the home's canary.
UP_FROM_IMAGE = "../../../"
UP_FROM_PACKAGE = "../../../../../"
UP_FROM_SOURCE = "../../../../../"


@pytest.fixture(scope="module")
def hostile(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LabstackProcess]:
    """A labstack of its own with small caps, and canaries beside and above the unpack folders."""
    home = tmp_path_factory.mktemp("hostile-home")
    server = start_labstack(home, LABSTACK_PROVIDERS="", LABSTACK_CLIENT_TIMEOUT=CLIENT_TIMEOUT,
                            LABSTACK_ZIP_MAX_BYTES=str(ZIP_MAX_BYTES), LABSTACK_ZIP_MAX_ENTRIES=str(MAX_ENTRIES),
                            LABSTACK_IMAGE_MAX_BYTES=str(IMAGE_MAX_BYTES), LABSTACK_IMAGE_MAX_ENTRIES=str(MAX_ENTRIES))
    (home / "images" / "rootfs").mkdir(parents=True, exist_ok=True)
    for canary in canaries(server):
        canary.write_bytes(CANARY)
    yield server
    server.stop()


def canaries(server: LabstackProcess) -> list[Path]:
    """The files no archive may touch: one in the labstack home, one beside the unpacked images."""
    home = Path(server.settings.home)
    return [home / "canary", home / "images" / "rootfs" / "canary"]


def assert_unharmed(server: LabstackProcess) -> None:
    """Every canary as it was, and labstack still answering."""
    for canary in canaries(server):
        assert canary.read_bytes() == CANARY, f"{canary} was changed or removed"
    assert server.client("sts", account=ACCOUNT).get_caller_identity()["Account"] == ACCOUNT


# -- image layers, run by ECS --------------------------------------------------------------
@pytest.fixture(scope="module")
def ecs(hostile: LabstackProcess) -> Any:
    hostile.client("ecr", account=ACCOUNT).create_repository(repositoryName="hostile")
    client = hostile.client("ecs", account=ACCOUNT)
    client.create_cluster(clusterName="labs")
    client.execution_role = service_role(hostile.client("iam", account=ACCOUNT), "pull", "ecs-tasks.amazonaws.com")
    return client


def run_image(server: LabstackProcess, ecs: Any, tag: str, layers: list[bytes],
              cmd: list[str] | None = None) -> dict[str, Any]:
    """Push an image of ``layers`` with ECR's calls, run a task of it, wait until it stops."""
    uri = push_image(server.client("ecr", account=ACCOUNT), ACCOUNT, "hostile", tag, layers, cmd or ["python", "-c", "pass"])
    ecs.register_task_definition(family=tag, executionRoleArn=ecs.execution_role, containerDefinitions=[
        {"name": "app", "image": uri, "essential": True, "memory": 128}])
    arn = ecs.run_task(cluster="labs", taskDefinition=tag)["tasks"][0]["taskArn"]
    return wait_for(lambda: (t := ecs.describe_tasks(cluster="labs", tasks=[arn])["tasks"][0])["lastStatus"] == "STOPPED" and t)


def assert_refused(server: LabstackProcess, task: dict[str, Any], *fragments: str) -> None:
    """The task never started: its pull failed saying why, and no unpacked image is left behind."""
    reason = task["stoppedReason"]
    assert task["stopCode"] == "TaskFailedToStart" and reason.startswith("CannotPullContainerError: "), reason
    assert all(fragment in reason for fragment in fragments), reason
    digest = task["containers"][0]["imageDigest"].split(":", 1)[1]
    left = [p.name for p in (Path(server.settings.home) / "images" / "rootfs").iterdir() if digest in p.name]
    assert left == [], f"a half-unpacked image is left: {left}"
    assert_unharmed(server)


ESCAPES = {
    "traversal": ([file(f"{UP_FROM_IMAGE}canary", b"overwritten")], "climbs out of its folder"),
    "absolute": ([file("{home}/canary", b"overwritten")], "has an absolute name"),
    "whiteout": ([file("app/ok.py"), file(f"{UP_FROM_IMAGE}.wh.canary")], "climbs out of its folder"),
    "whiteout-of-dot-dot": ([folder("app"), file("app/.wh...")], "names no file of its folder"),
    "symlink-out": ([symlink("out", UP_FROM_IMAGE.rstrip("/")), file("out/canary", b"overwritten")], "outside the destination"),
    "symlink-absolute": ([symlink("out", "{home}"), file("out/canary", b"overwritten")], "absolute path"),
    "hardlink-out": ([hardlink("link", f"{UP_FROM_IMAGE}canary")], "outside the destination"),
    "hardlink-absolute": ([hardlink("link", "{home}/canary")], "absolute path"),
    # A link that points inside when it is written, until the folder on its way becomes a link:
    # a/L -> b/../.. is the image's root while a/b is a folder, its parent once a/b -> . (rootfs/canary).
    "link-retargeted": ([folder("a"), folder("a/b"), symlink("a/L", "b/../.."), symlink("a/b", "."),
                         file("a/L/canary", b"overwritten")], "through a link that leads out"),
}


@pytest.mark.parametrize("case", sorted(ESCAPES))
def test_a_layer_never_writes_or_removes_outside_its_image(hostile: LabstackProcess, ecs: Any, case: str) -> None:
    members, fragment = ESCAPES[case]
    home = str(Path(hostile.settings.home))
    members = [m.__class__(m.name.format(home=home), m.data, m.kind, m.link.format(home=home)) for m in members]
    task = run_image(hostile, ecs, case, [tar_layer(*members)])
    assert_refused(hostile, task, fragment)


def test_a_whiteout_in_a_later_layer_cannot_reach_out_either(hostile: LabstackProcess, ecs: Any) -> None:
    lower = tar_layer(folder("srv"), file("srv/app.py"))
    upper = tar_layer(file(f"srv/{UP_FROM_IMAGE}../.wh.canary"))
    assert_refused(hostile, run_image(hostile, ecs, "later-whiteout", [lower, upper]), "climbs out of its folder")


def test_a_tar_bomb_stops_at_the_image_cap(hostile: LabstackProcess, ecs: Any) -> None:
    bomb = tar_layer(file("zeros", bytes(3 * IMAGE_MAX_BYTES)))
    assert len(bomb) < IMAGE_MAX_BYTES // 100  # highly compressible: small to push, large to unpack
    task = run_image(hostile, ecs, "tar-bomb", [bomb])
    assert_refused(hostile, task, f"unpacks to more than {IMAGE_MAX_BYTES} bytes", "LABSTACK_IMAGE_MAX_BYTES")


def test_the_cap_counts_every_layer_of_the_image(hostile: LabstackProcess, ecs: Any) -> None:
    third = tar_layer(file("part", bytes(IMAGE_MAX_BYTES // 3 + 1)))
    task = run_image(hostile, ecs, "layers-add-up", [third, third, third])
    assert_refused(hostile, task, "LABSTACK_IMAGE_MAX_BYTES")


def test_a_huge_tar_header_is_not_read_into_memory(hostile: LabstackProcess, ecs: Any) -> None:
    layer = tar_layer(file("app.py"), pax={"comment": "x" * 2 * 1024 * 1024})
    assert_refused(hostile, run_image(hostile, ecs, "pax-bomb", [layer]), "tar header of")


def test_too_many_members_stop_at_the_entry_cap(hostile: LabstackProcess, ecs: Any) -> None:
    layer = tar_layer(*[file(f"f{i}", b"") for i in range(MAX_ENTRIES + 1)])
    task = run_image(hostile, ecs, "many-members", [layer])
    assert_refused(hostile, task, f"holds more than {MAX_ENTRIES} entries", "LABSTACK_IMAGE_MAX_ENTRIES")


def test_a_layer_that_is_not_a_tar_is_named(hostile: LabstackProcess, ecs: Any) -> None:
    task = run_image(hostile, ecs, "not-a-tar", [b"\x1f\x8b" + b"garbage" * 10])
    assert_refused(hostile, task, "cannot be unpacked")


CHECK = """
import os, sys
expected = {"keep/old.txt": "lower", "opaque/new.txt": "upper", "opaque/again.txt": "upper", "kept-link": None}
gone = ["opaque/old.txt", "opaque/sub", "removed.txt", "removed-dir"]
ok = all(os.path.lexists(p) and (v is None or open(p).read() == v) for p, v in expected.items())
ok = ok and not any(os.path.lexists(p) for p in gone) and open("kept-link").read() == "lower"
sys.exit(0 if ok else 7)
"""


def test_whiteouts_and_opaque_folders_follow_the_oci_layer_rules(hostile: LabstackProcess, ecs: Any) -> None:
    lower = tar_layer(folder("keep"), file("keep/old.txt", b"lower"), folder("opaque"), file("opaque/old.txt", b"lower"),
                      folder("opaque/sub"), file("opaque/sub/deep.txt", b"lower"), file("removed.txt", b"lower"),
                      folder("removed-dir"), file("removed-dir/f", b"lower"), symlink("kept-link", "keep/old.txt"))
    # The opaque marker comes after a file this layer adds: it hides what lies below only.
    upper = tar_layer(folder("opaque"), file("opaque/new.txt", b"upper"), file("opaque/.wh..wh..opq", b""),
                      file("opaque/again.txt", b"upper"), file(".wh.removed.txt", b""), file(".wh.removed-dir", b""))
    task = run_image(hostile, ecs, "whiteouts", [lower, upper], ["python", "-c", CHECK])
    assert task.get("stopCode") == "EssentialContainerExited", task.get("stoppedReason")
    assert task["containers"][0]["exitCode"] == 0
    assert_unharmed(hostile)


# -- Lambda ----------------------------------------------------------------------------------
ROLE = json.dumps({"Version": "2012-10-17", "Statement": [
    {"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}]})


@pytest.fixture(scope="module")
def lam(hostile: LabstackProcess) -> Any:
    client = hostile.client("lambda", account=ACCOUNT)
    client.role = hostile.client("iam", account=ACCOUNT).create_role(
        RoleName="lambda-role", AssumeRolePolicyDocument=ROLE)["Role"]["Arn"]
    return client


def create(lam: Any, name: str, package: bytes) -> dict[str, Any]:
    return lam.create_function(FunctionName=name, Runtime="python3.12", Role=lam.role, Handler="app.handler",
                               Code={"ZipFile": package})


GOOD = zip_of(file("app.py", b"def handler(event, context):\n    return 'ok'\n"))


def test_a_lambda_zip_bomb_is_refused_as_lambda_refuses_it(hostile: LabstackProcess, lam: Any) -> None:
    bomb = zeros_zip("app.py", 3 * ZIP_MAX_BYTES)
    with pytest.raises(ClientError) as info:
        create(lam, "bomb", bomb)
    error = info.value.response["Error"]
    assert (error["Code"], error["Message"]) == ("InvalidParameterValueException",
                                                 f"Unzipped size must be smaller than {ZIP_MAX_BYTES} bytes")
    assert info.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    create(lam, "later-bomb", GOOD)
    with pytest.raises(ClientError) as info:
        lam.update_function_code(FunctionName="later-bomb", ZipFile=bomb)
    assert info.value.response["Error"]["Message"] == f"Unzipped size must be smaller than {ZIP_MAX_BYTES} bytes"
    assert json.loads(lam.invoke(FunctionName="later-bomb")["Payload"].read()) == "ok"  # the good code stays
    assert_unharmed(hostile)


@pytest.mark.parametrize("members, fragment", [
    ([file("app.py"), file(f"{UP_FROM_PACKAGE}canary", b"overwritten")], "climbs out of its folder"),
    ([file("app.py"), symlink("out", UP_FROM_PACKAGE.rstrip("/")), file("out/canary", b"overwritten")], "outside its folder"),
    ([file(f"f{i}", b"") for i in range(MAX_ENTRIES + 1)], f"holds more than {MAX_ENTRIES} entries"),
], ids=["traversal", "symlink-out", "too-many-entries"])
def test_a_hostile_lambda_package_is_refused_at_upload(hostile: LabstackProcess, lam: Any, members: list, fragment: str) -> None:
    with pytest.raises(ClientError) as info:
        create(lam, "hostile", zip_of(*members))
    error = info.value.response["Error"]
    assert error["Code"] == "InvalidParameterValueException" and fragment in error["Message"], error
    assert error["Message"].startswith("Could not unzip uploaded file.")
    with pytest.raises(lam.exceptions.ResourceNotFoundException):
        lam.get_function(FunctionName="hostile")
    assert_unharmed(hostile)


def test_a_hostile_package_a_stack_hands_to_lambda_is_refused_and_rolled_back(hostile: LabstackProcess, lam: Any) -> None:
    """CloudFormation makes the function through Lambda's own CreateFunction with the package in S3, so the
    package is refused as an upload is: the stack rolls back, no function is left, nothing is unpacked."""
    s3 = hostile.client("s3", account=ACCOUNT)
    s3.create_bucket(Bucket="packages")
    s3.put_object(Bucket="packages", Key="hostile.zip",
                  Body=zip_of(file("app.py", b"def handler(e, c):\n    return 1\n"), file(f"{UP_FROM_PACKAGE}canary", b"overwritten")))
    template = {"Resources": {"Fn": {"Type": "AWS::Lambda::Function", "Properties": {
        "FunctionName": "from-stack", "Runtime": "python3.12", "Handler": "app.handler", "Role": lam.role,
        "Code": {"S3Bucket": "packages", "S3Key": "hostile.zip"}}}}}
    cloudformation = hostile.client("cloudformation", account=ACCOUNT)
    cloudformation.create_stack(StackName="hostile", TemplateBody=json.dumps(template))
    wait_for(lambda: cloudformation.describe_stacks(StackName="hostile")["Stacks"][0]["StackStatus"] == "ROLLBACK_COMPLETE")
    failed = [e for e in cloudformation.describe_stack_events(StackName="hostile")["StackEvents"]
              if e["LogicalResourceId"] == "Fn" and e["ResourceStatus"] == "CREATE_FAILED"]
    assert failed and "Could not unzip uploaded file" in failed[0]["ResourceStatusReason"], failed
    with pytest.raises(lam.exceptions.ResourceNotFoundException):
        lam.get_function(FunctionName="from-stack")
    unpacked = Path(hostile.settings.home) / "lambda" / ACCOUNT / "us-east-1" / "from-stack"
    assert not unpacked.exists() or list(unpacked.iterdir()) == [], "a half-unpacked package is left"
    assert_unharmed(hostile)


# -- CodeBuild -------------------------------------------------------------------------------
@pytest.fixture
def lab(hostile: LabstackProcess) -> Lab:
    return Lab(hostile)


def bucket(lab: Lab) -> str:
    """The account's bucket (bucket names are global, accounts are not)."""
    return f"builds-{lab.account}"


def s3_project(lab: Lab, name: str, source_zip: bytes, **extra: Any) -> None:
    """A project whose source is ``source_zip`` in the account's bucket (made here)."""
    s3 = lab.client("s3")
    s3.create_bucket(Bucket=bucket(lab))
    s3.put_object(Bucket=bucket(lab), Key="source.zip", Body=source_zip)
    lab.codebuild.create_project(name=name, source={"type": "S3", "location": f"{bucket(lab)}/source.zip"},
                                 serviceRole=lab.role, environment={"type": "LINUX_CONTAINER", "image": "x",
                                                                    "computeType": "BUILD_GENERAL1_SMALL"},
                                 **{"artifacts": {"type": "NO_ARTIFACTS"}, **extra})


SPEC = buildspec({"build": {"commands": ["echo built"]}}).encode()


@pytest.mark.parametrize("source, fragment", [
    (zip_of(file("buildspec.yml", SPEC), file(f"{UP_FROM_SOURCE}canary", b"overwritten")), "climbs out of its folder"),
    (zip_of(file("buildspec.yml", SPEC), symlink("up", UP_FROM_SOURCE.rstrip("/")), file("up/canary", b"x")), "outside its folder"),
    (zeros_zip("buildspec.yml", 2 * ZIP_MAX_BYTES), f"unpacks to more than {ZIP_MAX_BYTES} bytes"),
    (zip_of(*[file(f"f{i}", b"") for i in range(MAX_ENTRIES + 1)]), "LABSTACK_ZIP_MAX_ENTRIES"),
], ids=["traversal", "symlink-out", "zip-bomb", "too-many-entries"])
def test_a_hostile_source_zip_fails_download_source(hostile: LabstackProcess, lab: Lab, source: bytes, fragment: str) -> None:
    s3_project(lab, "hostile", source)
    build = lab.run("hostile")
    context = phases(build)["DOWNLOAD_SOURCE"]["contexts"][0]
    assert build["buildStatus"] == "FAILED" and context["statusCode"] == "CLIENT_ERROR", build
    assert fragment in context["message"], context
    assert_unharmed(hostile)


def test_a_hostile_cache_is_not_restored_and_the_build_goes_on(hostile: LabstackProcess, lab: Lab) -> None:
    s3_project(lab, "cached", zip_of(file("buildspec.yml", SPEC)),
               cache={"type": "S3", "location": f"{bucket(lab)}/cache"})
    lab.client("s3").put_object(Bucket=bucket(lab), Key="cache/cached-cache.zip",
                                Body=zip_of(file(f"{UP_FROM_SOURCE}canary", b"overwritten")))
    build = lab.run("cached")
    assert build["buildStatus"] == "SUCCEEDED"
    assert any("the cache was not restored" in line and "climbs out of its folder" in line for line in lab.logs(build))
    assert_unharmed(hostile)


def test_an_artifact_never_carries_a_file_from_outside_the_build(hostile: LabstackProcess, lab: Lab) -> None:
    canary = canaries(hostile)[0]
    spec = buildspec({"build": {"commands": ["echo shipped > app.txt", f"ln -s {canary} leak.txt"]}},
                     artifacts={"files": ["**/*"]})
    s3_project(lab, "leaky", zip_of(file("buildspec.yml", spec.encode())),
               artifacts={"type": "S3", "location": bucket(lab), "packaging": "ZIP", "name": "out.zip"})
    build = lab.run("leaky")
    context = phases(build)["UPLOAD_ARTIFACTS"]["contexts"][0]
    assert build["buildStatus"] == "FAILED" and context["statusCode"] == "CLIENT_ERROR", build
    assert "leak.txt is a symbolic link that leads out of the source directory" in context["message"]
    listed = lab.client("s3").list_objects_v2(Bucket=bucket(lab)).get("Contents", [])
    assert "out.zip" not in [o["Key"] for o in listed]
    assert_unharmed(hostile)


def test_an_artifact_past_the_zip_caps_fails_upload_artifacts(hostile: LabstackProcess, lab: Lab) -> None:
    spec = buildspec({"build": {"commands": [f"head -c {ZIP_MAX_BYTES + 1} /dev/zero > big.bin"]}}, artifacts={"files": ["big.bin"]})
    s3_project(lab, "big", zip_of(file("buildspec.yml", spec.encode())),
               artifacts={"type": "S3", "location": bucket(lab), "packaging": "ZIP", "name": "out.zip"})
    build = lab.run("big")
    context = phases(build)["UPLOAD_ARTIFACTS"]["contexts"][0]
    assert build["buildStatus"] == "FAILED" and "LABSTACK_ZIP_MAX_BYTES" in context["message"], context
    assert_unharmed(hostile)


def test_the_canaries_are_real_files(hostile: LabstackProcess) -> None:
    """The attacks above aim at these very paths (a sanity check on the '..' counts)."""
    home = Path(hostile.settings.home)
    assert os.path.normpath(home / "images" / "rootfs" / ".x" / UP_FROM_IMAGE / "canary") == str(home / "canary")
    assert os.path.normpath(home / "builds" / "a" / "r" / "b" / "src" / UP_FROM_SOURCE / "canary") == str(home / "canary")
    assert os.path.normpath(home / "lambda" / "a" / "r" / "f" / "v" / UP_FROM_PACKAGE / "canary") == str(home / "canary")
    assert all(c.read_bytes() == CANARY for c in canaries(hostile))


# -- the image tool (docker in builds) -------------------------------------------------------
def test_add_of_a_hostile_tarball_fails_the_image_build(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The Dockerfile's ADD unpacks a local tarball as the layers are unpacked: inside, within the caps."""
    canary = tmp_path / "canary"
    canary.write_bytes(CANARY)
    context = tmp_path / "context"
    context.mkdir()
    (context / "Dockerfile").write_text("FROM python:3.12\nADD payload.tar.gz /srv/\n")
    images = LocalImages(tmp_path / "store")
    monkeypatch.setattr(archives, "IMAGE_MAX_BYTES", archives.Cap("LABSTACK_IMAGE_MAX_BYTES", IMAGE_MAX_BYTES, "bytes"))
    to_canary = "../" * 30 + str(canary).lstrip("/")  # from any depth: up to / and down to the canary
    for payload, fragment in [(tar_layer(file(to_canary, b"overwritten")), "climbs out of its folder"),
                              (tar_layer(symlink("root", "../" * 30), file(f"root/{str(canary).lstrip('/')}", b"overwritten")),
                               "outside the destination"),
                              (tar_layer(file("zeros", bytes(2 * IMAGE_MAX_BYTES))), "LABSTACK_IMAGE_MAX_BYTES")]:
        (context / "payload.tar.gz").write_bytes(payload)
        with pytest.raises(BuildError, match=fragment) as info:
            Builder(context, context / "Dockerfile", images, log=lambda line: None).build(["hostile:latest"])
        assert "line 2: ADD payload.tar.gz" in str(info.value)
        assert canary.read_bytes() == CANARY


def test_a_blob_too_large_for_a_manifest_is_never_read_whole(hostile: LabstackProcess, tmp_path: Path) -> None:
    images = LocalImages(tmp_path / "store")
    uri = f"{ACCOUNT}.dkr.ecr.us-east-1.amazonaws.com/hostile:not-a-manifest"
    images.tag(uri, images.blobs.put(bytes(5 * 1024 * 1024)))
    login(images, uri.split("/")[0], "AWS", "token")
    with pytest.raises(RegistryError, match="larger than 4194304 bytes: no manifest or config is"):
        push(images, uri, log=lambda line: None, client=hostile.client("ecr", account=ACCOUNT))
    assert_unharmed(hostile)


# -- CodeDeploy --------------------------------------------------------------------------------
def test_a_zip_bomb_bundle_fails_its_deployment_as_an_invalid_revision(hostile: LabstackProcess) -> None:
    role = service_role(hostile.client("iam", account=ACCOUNT), "deployer", "codedeploy.amazonaws.com")
    s3 = hostile.client("s3", account=ACCOUNT)
    s3.create_bucket(Bucket="bundles")
    s3.put_object(Bucket="bundles", Key="bomb.zip", Body=zeros_zip("appspec.yaml", 2 * ZIP_MAX_BYTES))
    cd = hostile.client("codedeploy", account=ACCOUNT)
    cd.create_application(applicationName="fns", computePlatform="Lambda")
    cd.create_deployment_group(applicationName="fns", deploymentGroupName="live", serviceRoleArn=role,
                               deploymentConfigName="CodeDeployDefault.LambdaAllAtOnce",
                               deploymentStyle={"deploymentType": "BLUE_GREEN", "deploymentOption": "WITH_TRAFFIC_CONTROL"})
    deployment = cd.create_deployment(applicationName="fns", deploymentGroupName="live", revision={
        "revisionType": "S3", "s3Location": {"bucket": "bundles", "key": "bomb.zip", "bundleType": "zip"}})["deploymentId"]
    info = wait_for(lambda: (d := cd.get_deployment(deploymentId=deployment)["deploymentInfo"])["status"] == "Failed" and d)
    assert info["errorInformation"]["code"] == "INVALID_REVISION"
    assert "LABSTACK_ZIP_MAX_BYTES" in info["errorInformation"]["message"], info["errorInformation"]
    assert_unharmed(hostile)
