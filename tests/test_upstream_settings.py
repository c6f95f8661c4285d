"""labstack's upstream setting and what the proxy keeps of a request, without a LocalStack."""

from __future__ import annotations

import pytest
from labstack.config import Settings
from labstack.upstream import SERVICES, account_key, signing_names


def test_the_upstream_comes_from_the_flag_or_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LABSTACK_UPSTREAM", "http://127.0.0.1:4566/")
    assert Settings.from_env().upstream == "http://127.0.0.1:4566"
    assert Settings.from_env(upstream="http://localhost:4510").upstream == "http://localhost:4510"
    monkeypatch.delenv("LABSTACK_UPSTREAM")
    assert Settings.from_env().upstream is None


@pytest.mark.parametrize("bad", ["ftp://127.0.0.1:4566", "127.0.0.1:4566", "http://127.0.0.1:4566/somewhere"])
def test_an_upstream_that_is_no_url_is_refused_in_one_line(bad: str) -> None:
    with pytest.raises(SystemExit, match=r"^labstack: --upstream .* is not an http\(s\) URL like http://127.0.0.1:4566$"):
        Settings.from_env(upstream=bad)


def test_cloudwatch_is_not_forwarded_and_each_forwarded_service_has_its_signing_name() -> None:
    """CloudWatch (signed ``monitoring``) stays labstack's: LocalStack's free CloudWatch evaluates no metric math alarm."""
    assert "monitoring" not in signing_names() and "cloudwatch" not in SERVICES
    assert {"s3", "iam", "sts", "logs", "events", "secretsmanager"} <= signing_names() and len(signing_names()) == len(SERVICES)


def test_only_keys_localstack_reads_as_the_same_account_pass_unchanged() -> None:
    assert account_key("123456789012") and account_key("LSIAQAAAAAAAGMKEM7X5")
    assert not account_key("test") and not account_key("AKIAIOSFODNN7EXAMPLE")
