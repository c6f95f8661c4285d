"""InvalidateProjectCache: "Resets the cache for a project"
(https://docs.aws.amazon.com/codebuild/latest/APIReference/API_InvalidateProjectCache.html; the CLI's
example: https://docs.aws.amazon.com/cli/latest/reference/codebuild/invalidate-project-cache.html). The
build after a reset starts cold, with either kind of cache
(https://docs.aws.amazon.com/codebuild/latest/userguide/build-caching.html)."""

from __future__ import annotations

import pytest
from botocore.exceptions import ClientError

from tests.support.codebuild import Lab, buildspec

pytest_plugins = ["tests.support.codebuild_fixtures"]

SPEC = buildspec({"build": {"commands": ["cat deps/cached.txt || echo cache-miss",
                                         "mkdir -p deps && echo cache-hit > deps/cached.txt"]}},
                 cache={"paths": ["deps/**/*"]})


@pytest.mark.parametrize("kind", ["LOCAL", "S3"])
def test_the_build_after_invalidate_project_cache_starts_cold(lab: Lab, kind: str) -> None:
    s3 = lab.client("s3")
    s3.create_bucket(Bucket=f"cache-{lab.account}")
    declared = ({"type": "LOCAL", "modes": ["LOCAL_CUSTOM_CACHE"]} if kind == "LOCAL"
                else {"type": "S3", "location": f"cache-{lab.account}/ci"})
    lab.project("cached", SPEC, cache=declared)
    assert "cache-miss" in lab.logs(lab.run("cached"))
    assert "cache-hit" in lab.logs(lab.run("cached"))
    assert lab.codebuild.invalidate_project_cache(projectName="cached")["ResponseMetadata"]["HTTPStatusCode"] == 200
    if kind == "S3":
        assert "Contents" not in s3.list_objects_v2(Bucket=f"cache-{lab.account}", Prefix="ci/")
    cold = lab.logs(lab.run("cached"))
    assert "cache-miss" in cold and "cache-hit" not in cold
    assert "cache-hit" in lab.logs(lab.run("cached"))  # and it caches again


def test_invalidating_leaves_other_projects_caches(lab: Lab) -> None:
    local = {"type": "LOCAL", "modes": ["LOCAL_CUSTOM_CACHE"]}
    lab.project("one", SPEC, cache=local)
    lab.project("two", SPEC, cache=local)
    lab.run("one"), lab.run("two")
    lab.codebuild.invalidate_project_cache(projectName="one")
    assert "cache-miss" in lab.logs(lab.run("one"))
    assert "cache-hit" in lab.logs(lab.run("two"))


def test_invalidate_project_cache_of_a_project_without_cache_or_of_none(lab: Lab) -> None:
    lab.project("plain", buildspec({"build": {"commands": ["true"]}}))
    lab.codebuild.invalidate_project_cache(projectName="plain")
    with pytest.raises(ClientError) as raised:
        lab.codebuild.invalidate_project_cache(projectName="nowhere")
    assert raised.value.response["Error"]["Code"] == "ResourceNotFoundException"
