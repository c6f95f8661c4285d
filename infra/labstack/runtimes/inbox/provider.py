"""The inbox: Publish goes through moto as usual, and what an email or email-json
subscription would receive lands in a per-account inbox (``labstack inbox``,
``GET /_labstack/inbox``), in AWS's message format. Where LocalStack serves SNS
(``--upstream``) the inbox steps aside and lists what LocalStack's SES kept (``ses.read``)."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any
from urllib.parse import parse_qs

from labstack.clients import without_metadata
from labstack.context import RequestContext
from labstack import motobridge
from labstack.protocol.provider import Provider
from labstack.runtimes.inbox import ses
from labstack.state import AccountRegionStore

MAX_MESSAGES = 1_000  # per account and region; the oldest go first


class Inbox(Provider):
    """SNS Publish, plus a copy for every email subscriber."""

    service = "sns"
    overlay = True

    def __init__(self, labstack: Any) -> None:
        super().__init__(labstack)
        self.mail: AccountRegionStore[list[dict[str, Any]]] = AccountRegionStore(list)
        labstack.hooks.on_reset(self.mail.reset)
        upstream = labstack.settings.upstream if labstack.clients.upstream_serves("sns") else None
        labstack.views["/_labstack/inbox"] = self.view if upstream is None else self._upstream_view(upstream)

    def publish(self, ctx: RequestContext, request: dict) -> dict:
        answer = self.labstack.clients.moto("sns", ctx.account, ctx.region).publish(**request)
        topic = request.get("TopicArn") or request.get("TargetArn")
        if topic:
            self._deliver(ctx, topic, answer["MessageId"], request)
        return without_metadata(answer)

    def _deliver(self, ctx: RequestContext, topic: str, message_id: str, request: dict) -> None:
        subscribers = [s for s in motobridge.sns_subscriptions(ctx.account, ctx.region, topic)
                       if s["Protocol"] in ("email", "email-json")]
        if not subscribers:
            return
        now = dt.datetime.now(dt.timezone.utc)
        subject = request.get("Subject") or "AWS Notification Message"
        message = request["Message"]
        if request.get("MessageStructure") == "json":
            variants = json.loads(message)
        else:
            variants = {}
        with self.mail.lock:
            box = self.mail.get(ctx.account, ctx.region)
            for subscriber in subscribers:
                text = variants.get(subscriber["Protocol"], variants.get("email", variants.get("default", message)))
                if subscriber["Protocol"] == "email-json":
                    text = json.dumps({
                        "Type": "Notification", "MessageId": message_id, "TopicArn": topic, "Subject": subject,
                        "Message": text, "Timestamp": now.isoformat(timespec="milliseconds").replace("+00:00", "Z"),
                        "SignatureVersion": "1", "Signature": "labstack-does-not-sign",
                        "SigningCertURL": "", "UnsubscribeURL": f"{self.labstack.settings.endpoint}/?Action=Unsubscribe"
                                                               f"&SubscriptionArn={subscriber['SubscriptionArn']}"})
                box.append({"messageId": message_id, "to": subscriber["Endpoint"], "protocol": subscriber["Protocol"],
                            "topicArn": topic, "subject": subject, "body": text, "timestamp": now.isoformat(),
                            "account": ctx.account, "region": ctx.region})
            del box[:-MAX_MESSAGES]

    def view(self, environ: dict) -> dict[str, Any]:
        """``/_labstack/inbox[?account=…&region=…]``: messages, newest last."""
        query = {k: v[-1] for k, v in parse_qs(environ.get("QUERY_STRING", "")).items()}
        messages = [m for _key, box in self.mail.items() for m in list(box)
                    if query.get("account") in (None, m["account"]) and query.get("region") in (None, m["region"])]
        return {"messages": sorted(messages, key=lambda m: m["timestamp"])}

    @staticmethod
    def _upstream_view(upstream: str) -> Any:
        def view(environ: dict) -> dict[str, Any]:
            query = {k: v[-1] for k, v in parse_qs(environ.get("QUERY_STRING", "")).items()}
            return {"messages": ses.read(upstream, query.get("account"), query.get("region"))}

        return view


PROVIDER = Inbox
