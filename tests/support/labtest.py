"""A small provider for the LabTest service (``support/models``), used to prove the protocol layer."""

from __future__ import annotations

import datetime as dt
import time

from labstack.context import RequestContext
from labstack.errors import AwsError
from labstack.protocol.provider import Provider
from labstack.state import AccountRegionStore


class LabTestProvider(Provider):
    """Widgets per account and region; one operation sleeps on the lab clock, one crashes."""

    service = "labtest"

    def __init__(self, labstack) -> None:  # type: ignore[no-untyped-def]
        super().__init__(labstack)
        self.widgets: AccountRegionStore[dict[str, dict]] = AccountRegionStore(dict)
        labstack.hooks.on_reset(self.widgets.reset)
        labstack.routes.add("/labtest/", self.echo)

    def echo(self, environ: dict, start_response) -> list[bytes]:  # type: ignore[no-untyped-def]
        """A plain HTTP route: answers the path it was asked for."""
        body = f"labtest route saw {environ['REQUEST_METHOD']} {environ['PATH_INFO']}".encode()
        start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", str(len(body)))])
        return [body]

    def count_buckets(self, ctx: RequestContext, request: dict) -> dict:
        """Calls S3 through labstack's internal clients, as the caller's account."""
        clients = self.labstack.clients
        buckets = clients.get("s3", ctx.account, ctx.region).list_buckets()["Buckets"]
        identity = clients.get("sts", ctx.account, ctx.region).get_caller_identity()
        return {"count": len(buckets), "account": identity["Account"]}

    def create_widget(self, ctx: RequestContext, request: dict) -> dict:
        with self.widgets.lock:
            widgets = self.widgets.get(ctx.account, ctx.region)
            if request["name"] in widgets:
                raise AwsError("WidgetExistsException", f"Widget {request['name']} already exists")
            widget = {
                **request,
                "arn": ctx.arn("labtest", f"widget/{request['name']}"),
                "createdAt": request.get("createdAt") or dt.datetime.now(dt.timezone.utc),
            }
            widgets[request["name"]] = widget
        return {"widget": widget}

    def get_widget(self, ctx: RequestContext, request: dict) -> dict:
        return {"widget": self._find(ctx, request["name"])}

    def list_widgets(self, ctx: RequestContext, request: dict) -> dict:
        return {"widgets": list(self.widgets.get(ctx.account, ctx.region).values())}

    def delete_widget(self, ctx: RequestContext, request: dict) -> dict:
        with self.widgets.lock:
            self._find(ctx, request["name"])
            del self.widgets.get(ctx.account, ctx.region)[request["name"]]
        return {}

    def wait_widget(self, ctx: RequestContext, request: dict) -> dict:
        started = time.monotonic()
        self.labstack.clock.sleep(request["labSeconds"])
        return {"waitedRealSeconds": time.monotonic() - started}

    def explode_widget(self, ctx: RequestContext, request: dict) -> dict:
        raise RuntimeError("this operation always fails, to test InternalFailure")

    def resource_counts(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for (account, _region), widgets in self.widgets.items():
            counts[account] = counts.get(account, 0) + len(widgets)
        return counts

    def _find(self, ctx: RequestContext, name: str) -> dict:
        widget = self.widgets.get(ctx.account, ctx.region).get(name)
        if widget is None:
            raise AwsError("WidgetNotFoundException", f"Widget {name} does not exist", fields={"widgetName": name})
        return widget
