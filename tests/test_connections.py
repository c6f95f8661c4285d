"""CodeStar Connections and the local GitHub they reach."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest
from botocore.exceptions import ClientError

from tests.support.gitcli import clone, commit, git, new_work_tree
from tests.support.responses import check_responses
from tests.support.server import LabstackProcess


@pytest.fixture
def connections(labstack: LabstackProcess):  # type: ignore[no-untyped-def]
    return check_responses(labstack.client("codestar-connections"))


def test_a_github_connection_is_available_at_once(connections) -> None:
    created = connections.create_connection(ProviderType="GitHub", ConnectionName="my-github",
                                            Tags=[{"Key": "team", "Value": "ci"}])
    arn = created["ConnectionArn"]
    assert arn.startswith("arn:aws:codestar-connections:us-east-1:123456789012:connection/")
    connection = connections.get_connection(ConnectionArn=arn)["Connection"]
    assert connection == {"ConnectionName": "my-github", "ConnectionArn": arn, "ProviderType": "GitHub",
                          "OwnerAccountId": "123456789012", "ConnectionStatus": "AVAILABLE"}
    assert arn in [c["ConnectionArn"] for c in connections.list_connections(ProviderTypeFilter="GitHub")["Connections"]]
    assert connections.list_connections(ProviderTypeFilter="Bitbucket")["Connections"] == []
    connections.tag_resource(ResourceArn=arn, Tags=[{"Key": "env", "Value": "lab"}])
    connections.untag_resource(ResourceArn=arn, TagKeys=["team"])
    assert connections.list_tags_for_resource(ResourceArn=arn)["Tags"] == [{"Key": "env", "Value": "lab"}]
    connections.delete_connection(ConnectionArn=arn)
    for call in (connections.get_connection, connections.delete_connection):
        with pytest.raises(ClientError) as exc:
            call(ConnectionArn=arn)
        assert exc.value.response["Error"]["Code"] == "ResourceNotFoundException"


def test_connections_belong_to_their_account(connections, labstack: LabstackProcess) -> None:
    arn = connections.create_connection(ProviderType="GitHub", ConnectionName="mine")["ConnectionArn"]
    other = labstack.client("codestar-connections", account="999988887777")
    with pytest.raises(ClientError) as exc:
        other.get_connection(ConnectionArn=arn)
    assert exc.value.response["Error"]["Code"] == "ResourceNotFoundException"


def test_only_github_is_offered(connections) -> None:
    with pytest.raises(ClientError) as exc:
        connections.create_connection(ProviderType="Bitbucket", ConnectionName="bb")
    assert exc.value.response["Error"]["Code"] == "ResourceUnavailableException"


def test_the_local_github_takes_a_first_push_and_clones_back(labstack: LabstackProcess, tmp_path: Path) -> None:
    url = f"{labstack.endpoint}/github/myorg/app-{uuid.uuid4().hex[:8]}.git"
    missing = git(tmp_path, "clone", url, "nothing", check=False)
    assert missing.returncode != 0 and "not found" in missing.stderr
    work = new_work_tree(tmp_path / "work", {"app.py": "print('v1')\n"})
    git(work, "push", "--quiet", url, "main")
    commit(work, {"app.py": "print('v2')\n"}, "v2")
    git(work, "push", "--quiet", url, "main")
    copy = clone(url, tmp_path / "copy")
    assert (copy / "app.py").read_text() == "print('v2')\n"
    assert git(copy, "rev-parse", "--abbrev-ref", "HEAD").stdout.strip() == "main"


@pytest.mark.parametrize("path", ["/github/bad owner/x.git/info/refs", "/github/-x/y.git/info/refs", "/github/only-owner"])
def test_bad_github_paths_are_not_found(labstack: LabstackProcess, path: str) -> None:
    from tests.support.raw import send

    assert send(labstack.endpoint, path.replace(" ", "%20"), {}, method="GET").status == 404


def test_codeconnections_shares_the_connections(connections, labstack: LabstackProcess) -> None:
    newer = check_responses(labstack.client("codeconnections"))
    arn = newer.create_connection(ProviderType="GitHub", ConnectionName="newer", Tags=[{"Key": "k", "Value": "v"}])["ConnectionArn"]
    assert arn.startswith("arn:aws:codeconnections:us-east-1:123456789012:connection/")
    assert newer.get_connection(ConnectionArn=arn)["Connection"]["ConnectionStatus"] == "AVAILABLE"
    assert connections.get_connection(ConnectionArn=arn)["Connection"]["ConnectionName"] == "newer"
    older = connections.create_connection(ProviderType="GitHub", ConnectionName="older")["ConnectionArn"]
    listed = [c["ConnectionArn"] for c in newer.list_connections()["Connections"]]
    assert arn in listed and older in listed
    assert newer.list_tags_for_resource(ResourceArn=arn)["Tags"] == [{"Key": "k", "Value": "v"}]
    newer.delete_connection(ConnectionArn=arn)
    with pytest.raises(ClientError) as exc:
        newer.get_connection(ConnectionArn=arn)
    assert exc.value.response["Error"]["Code"] == "ResourceNotFoundException"
    with pytest.raises(ClientError) as exc:
        labstack.client("codeconnections", validate=False).create_connection(ProviderType="GitHub", ConnectionName="")
    assert exc.value.response["Error"]["Code"] == "ValidationException"
