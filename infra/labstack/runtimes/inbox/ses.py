"""The inbox where LocalStack serves SNS: it hands email deliveries to its SES, which keeps them
at ``/_aws/ses``; read from there in the inbox's own message format.

LocalStack sends each email with the subject ``SNS-Subscriber-Endpoint``; an ``email-json``
body carries the topic, subject and message id, a plain ``email`` body only the message, so
such a message has no topic and no account (it is listed under every account).
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from typing import Any

from labstack.upstream import unreachable

SES_MESSAGES = "/_aws/ses"


def read(upstream: str, account: str | None = None, region: str | None = None) -> list[dict[str, Any]]:
    """The emails LocalStack's SNS sent, oldest first, as ``/_labstack/inbox`` lists them."""
    try:
        with urllib.request.urlopen(upstream + SES_MESSAGES, timeout=5) as answer:
            sent = json.loads(answer.read())["messages"]
    except urllib.error.HTTPError as exc:
        if exc.code != 404:
            raise unreachable(upstream, "the inbox (SES)", exc) from None
        sent = []  # LocalStack serves the endpoint once its SES has started: nothing was sent yet
    except (OSError, ValueError, KeyError) as exc:
        raise unreachable(upstream, "the inbox (SES)", getattr(exc, "reason", exc)) from None
    messages = [m for email in sent for m in _messages(email)]
    wanted = [m for m in messages
              if (account in (None, m["account"]) or m["account"] is None) and region in (None, m["region"])]
    return sorted(wanted, key=lambda m: m["timestamp"])


def _messages(email: dict[str, Any]) -> list[dict[str, Any]]:
    body = (email.get("Body") or {}).get("text_part") or ""
    envelope = _envelope(body)
    topic = envelope.get("TopicArn", "")
    return [{"messageId": envelope.get("MessageId", email.get("Id", "")), "to": to,
             "protocol": "email-json" if envelope else "email", "topicArn": topic,
             "subject": envelope.get("Subject") or email.get("Subject", ""), "body": body,
             "timestamp": email.get("Timestamp", ""), "account": topic.split(":")[4] if topic else None,
             "region": email.get("Region", "")}
            for to in (email.get("Destination") or {}).get("ToAddresses", [])]


def _envelope(body: str) -> dict[str, Any]:
    """An email-json body's notification, or {} for a plain email."""
    try:
        found = json.loads(body)
    except ValueError:
        return {}
    return found if isinstance(found, dict) and found.get("Type") == "Notification" else {}
