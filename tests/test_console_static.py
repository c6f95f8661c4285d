"""The console's files on their own: colours with WCAG AA contrast, nothing loaded from
outside labstack, every file shipped as package data, approvals read from both email forms."""

from __future__ import annotations

import json
import re
import sys
from fnmatch import fnmatch
from pathlib import Path

import pytest
from labstack.console.approvals import approval_in

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10 has tomli (pinned for it in requirements.lock)
    import tomli as tomllib

ROOT = Path(__file__).resolve().parents[1]
STATIC = ROOT / "infra" / "labstack" / "console" / "static"
TOKEN = "0f8fad5b-d9cb-469f-a165-70867728950e"
# (text, background) pairs the stylesheet draws; AA asks 4.5:1 for normal text.
PAIRS = [("fg", "bg"), ("muted", "bg"), ("link", "bg"), ("fg", "panel"), ("muted", "panel"), ("link", "panel"),
         ("on-top", "top"), ("status-fail", "bg"), ("status-fail", "panel")] + [
    ("on-status", f"status-{tone}") for tone in ("ok", "progress", "fail", "neutral", "pending")]


def colours() -> dict[str, str]:
    css = (STATIC / "console.css").read_text()
    return dict(re.findall(r"--([a-z-]+):\s*(#[0-9a-fA-F]{6})\s*;", css))


def luminance(hex_colour: str) -> float:
    def channel(value: int) -> float:
        c = value / 255
        return c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4

    r, g, b = (int(hex_colour[i:i + 2], 16) for i in (1, 3, 5))
    return 0.2126 * channel(r) + 0.7152 * channel(g) + 0.0722 * channel(b)


def contrast(one: str, other: str) -> float:
    light, dark = sorted((luminance(one), luminance(other)), reverse=True)
    return (light + 0.05) / (dark + 0.05)


@pytest.mark.parametrize(("text", "background"), PAIRS)
def test_text_colours_meet_wcag_aa_contrast(text: str, background: str) -> None:
    palette = colours()
    assert contrast(palette[text], palette[background]) >= 4.5, (text, background)


def test_the_focus_outline_stands_out_from_both_backgrounds() -> None:
    palette = colours()
    assert contrast(palette["focus"], palette["bg"]) >= 3 and contrast(palette["on-top"], palette["top"]) >= 3


def test_every_asset_is_local() -> None:
    for path in STATIC.iterdir():
        text = path.read_text()
        assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", text), path.name
        assert not re.search(r"""@import|url\(\s*["']?(https?:)?//""", text), path.name
        assert "fetch(\"http" not in text and "fonts.googleapis" not in text, path.name


def test_every_console_file_is_package_data() -> None:
    setuptools = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    patterns = setuptools["package-data"]["labstack.console"]
    for path in STATIC.iterdir():
        assert any(fnmatch(str(path.relative_to(STATIC.parent)), p) for p in patterns), path.name


def mail(protocol: str, body: str, subject: str = "APPROVAL NEEDED: AWS CodePipeline app for action Review") -> dict:
    return {"protocol": protocol, "subject": subject, "body": body}


def test_an_approval_is_read_from_an_email_and_from_email_json() -> None:
    expected = {"pipelineName": "app", "stageName": "Approve", "actionName": "Review", "token": TOKEN}
    text = ("Hello,\n\n--Pipeline Details--\n\nPipeline name: app\nStage name: Approve\nAction name: Review\n"
            f"Region: us-east-1\n\nApprove or reject: https://console.aws.amazon.com/x#/view/app/Approve/Review/approve/{TOKEN}\n")
    assert approval_in(mail("email", text)) == expected
    envelope = {"Type": "Notification", "Message": json.dumps({"region": "us-east-1", "approval": {**expected, "expires": "x"}})}
    assert approval_in(mail("email-json", json.dumps(envelope))) == expected


def test_other_mail_carries_no_approval() -> None:
    assert approval_in(mail("email", "Pipeline name: app", subject="ALARM: errors")) is None
    assert approval_in(mail("email", "Pipeline name: app\nStage name: Approve\n")) is None  # no action, no token
    assert approval_in(mail("email-json", "not json")) is None
    assert approval_in(mail("email-json", json.dumps({"Message": json.dumps({"approval": {"token": TOKEN}})}))) is None
