"""The HTTP server around the gateway: threads, timeouts, the pid file and clean shutdown."""

from __future__ import annotations

import ipaddress
import logging
import os
import signal
import sys
import threading
from typing import Any

from werkzeug.serving import BaseWSGIServer, WSGIRequestHandler, make_server

from labstack.config import Settings
from labstack.gateway import Gateway
from labstack.instance import Labstack
from labstack.learners import LearnersFileError
from labstack.motobridge import UnsupportedMoto
from labstack.ports import describe_holder, port_is_free

log = logging.getLogger("labstack")


class _Quiet:
    """Request logging through ``logging`` at debug level instead of stderr lines."""

    def log_request(self, code: Any = "-", size: Any = "-") -> None:
        log.debug('"%s" %s %s', getattr(self, "requestline", ""), code, size)

    def log_error(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib signature
        log.info("client %s: " + format, self.address_string(), *args)  # type: ignore[attr-defined]

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
        log.debug(format, *args)


def handler_class(base: type[WSGIRequestHandler], timeout: float) -> type[WSGIRequestHandler]:
    """A request handler on ``base`` whose sockets time out after ``timeout`` seconds idle."""
    # HTTP/1.1 as werkzeug gives threaded servers (chunked responses allowed); it still
    # closes the connection after each response.
    attrs = {"timeout": timeout, "server_version": "labstack", "protocol_version": "HTTP/1.1"}
    return type("LabstackRequestHandler", (_Quiet, base), attrs)


def build_server(settings: Settings) -> tuple[BaseWSGIServer, Labstack]:
    """Bind the socket (raises OSError if the port is taken) and prepare labstack."""
    labstack = Labstack(settings)
    server = make_server(
        settings.host,
        settings.port,
        Gateway(labstack),
        threaded=True,
        request_handler=handler_class(WSGIRequestHandler, settings.client_timeout),
    )
    server.daemon_threads = True
    return server, labstack


def exposure_problem(settings: Settings) -> str | None:
    """Why labstack must not serve ``settings.host``, or None: outside class mode (``--learners``)
    it trusts every caller, so it serves a loopback address only unless ``--insecure-shared`` says otherwise."""
    if settings.class_mode and settings.upstream:
        return ("--learners and --upstream do not go together: the services LocalStack serves would take every "
                "learner's calls unchecked (LocalStack's free edition verifies no signature). Serve a class without "
                "--upstream.")
    if settings.class_mode or settings.insecure_shared or _loopback(settings.host):
        return None
    return (f"refusing to serve {settings.host or 'every address'} without --learners: anyone who reaches it "
            "could act in every account and wipe it. Add --learners FILE (a class: `labstack learners new N "
            "--out FILE`), or --insecure-shared to accept that risk (e.g. in a container whose port is published "
            "on the host's 127.0.0.1 only), or serve 127.0.0.1.")


def _loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False  # another name, or "" (every address)


def serve(settings: Settings) -> int:
    """Run labstack in the foreground until SIGINT/SIGTERM."""
    logging.basicConfig(
        level=os.environ.get("LABSTACK_LOG_LEVEL", "INFO").upper(),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    problem = exposure_problem(settings)
    if problem is not None:
        print(f"labstack: {problem}", file=sys.stderr)
        return 2
    # werkzeug would print its own advice and exit; check first to say it in one line.
    reason = "address already in use" if not port_is_free(settings.host, settings.port) else None
    if reason is None:
        try:
            server, labstack = build_server(settings)
        except OSError as exc:
            reason = exc.strerror or str(exc)
        except (LearnersFileError, UnsupportedMoto) as exc:
            print(f"labstack: {exc}", file=sys.stderr)
            return 2
    if reason is not None:
        print(f"labstack: cannot listen on {settings.host}:{settings.port}: {reason}{describe_holder(settings.port)}", file=sys.stderr)
        return 1
    settings.home.mkdir(parents=True, exist_ok=True)
    labstack.children.reap()  # what a labstack killed on this home left running
    settings.pid_file.write_text(f"{os.getpid()}\n{settings.port}\n")

    def on_warm() -> None:
        try:
            labstack.wait_warm(timeout=300)
        except (TimeoutError, RuntimeError):
            return
        # moto's handler keeps S3 metadata headers that contain underscores.
        if labstack.moto.handler_class is not None:
            server.RequestHandlerClass = handler_class(labstack.moto.handler_class, settings.client_timeout)
        log.info("services ready (moto loaded in %.2fs)", labstack.moto.loaded_in or 0)

    labstack.warm_up()
    threading.Thread(target=on_warm, name="on-warm", daemon=True).start()

    def stop(signum: int, _frame: Any) -> None:
        log.info("signal %s: shutting down", signum)

        def down() -> None:
            labstack.shutdown()  # while labstack still answers: the runtimes' last logs and metrics land
            server.shutdown()

        threading.Thread(target=down, daemon=True).start()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    log.info("labstack listening on %s (time scale %gx)", settings.endpoint, settings.time_scale)
    try:
        server.serve_forever(poll_interval=0.2)
    finally:
        labstack.shutdown()
        server.server_close()
        _remove_pid_file(settings)
        log.info("labstack stopped")
    return 0


def _remove_pid_file(settings: Settings) -> None:
    try:
        if settings.pid_file.read_text().split()[0] == str(os.getpid()):
            settings.pid_file.unlink()
    except (OSError, IndexError):
        pass
