"""Attack: a learner hooks many projects with catastrophic patterns to their repository, so that the one
thread matching webhooks spends seconds on each of their pushes while everyone's builds wait. An account's
webhooks get at most webhooks.ACCOUNT_SECONDS per event: the rest start nothing for it (a warning says so),
and other accounts' webhooks are still matched and build."""

from __future__ import annotations

from pathlib import Path

import pytest
from labstack.services.codebuild.webhooks import ACCOUNT_SECONDS, WEBHOOK_SECONDS

from tests.support.codebuild import Lab
from tests.test_codebuild_webhooks import Repo, builds_of, event, hooked, versions

pytest_plugins = ["tests.support.codebuild_fixtures"]
REDOS = {"type": "COMMIT_MESSAGE", "pattern": "^(a|a)*$"}  # backtracks 2^40 ways on forty a's and a '!'


@pytest.mark.slow
def test_an_accounts_hostile_webhooks_cannot_hold_the_matching_thread_past_its_budget(lab: Lab, tmp_path: Path) -> None:
    repo = Repo(lab, tmp_path)
    # each webhook: enough undecided groups to use its whole WEBHOOK_SECONDS; together more than ACCOUNT_SECONDS
    count = int(ACCOUNT_SECONDS / WEBHOOK_SECONDS) + 2
    for number in range(count):
        hooked(lab, repo, f"hostile-{number}", [[event("PUSH"), REDOS]] * 10)
    hooked(lab, repo, "late")  # the account's own webhook after its hostile ones
    other = Lab(lab.server)
    hooked(other, repo, "sentinel")  # another account's webhook on the same (laptop) repository
    hostile = repo.push({"app.txt": "x\n"}, "a" * 40 + "!")
    plain = repo.push({"app.txt": "y\n"}, "bbbb")
    builds_of(other, "sentinel", 2)
    assert versions(other, "sentinel") == [hostile, plain]  # another account is matched after the hostile ones
    assert versions(lab, "late") == [plain]  # the account's time for the hostile push was spent before "late"
    log = (lab.server.settings.home / "labstack.log").read_text()
    assert f"project late of account {lab.account} not matched against PUSH of {repo.full_id}" in log
