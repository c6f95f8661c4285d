"""Route prefixes: longest match wins, labstack's own paths and duplicates are refused."""

from __future__ import annotations

import pytest
from labstack.routes import Routes


def app_named(name: str):  # type: ignore[no-untyped-def]
    def app(environ, start_response):  # type: ignore[no-untyped-def]
        return [name.encode()]

    return app


def test_the_longest_prefix_wins() -> None:
    routes = Routes()
    short, long = app_named("short"), app_named("long")
    routes.add("/github/", short)
    routes.add("/github/myorg/", long)
    assert routes.match("/github/myorg/myrepo.git/info/refs") is long
    assert routes.match("/github/other/repo.git") is short
    assert routes.match("/") is None


@pytest.mark.parametrize("prefix", ["no-slash/", "/no-trailing", "/_labstack/x/", "/_localstack/"])
def test_bad_prefixes_are_refused(prefix: str) -> None:
    with pytest.raises(ValueError):
        Routes().add(prefix, app_named("x"))


def test_a_prefix_is_served_once() -> None:
    routes = Routes()
    routes.add("/v1/repos/", app_named("a"))
    with pytest.raises(ValueError):
        routes.add("/v1/repos/", app_named("b"))
