"""A small web app image, built with the image tool and pushed to a labstack's ECR."""

from __future__ import annotations

from pathlib import Path

from labstack.images.build import Builder
from labstack.images.layout import LocalImages
from labstack.images.registry import login, push

from tests.support.server import LabstackProcess

APP = """\
import os
import random
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class Handler(BaseHTTPRequestHandler):
    def log_message(self, *args):
        pass

    def do_GET(self):
        body = f"{os.environ['VERSION']} {os.environ.get('DB_PASSWORD', '-')} {os.getcwd().endswith('/srv')}".encode()
        failing = random.random() * 100 < float(os.environ.get("FAIL_PERCENT", "0"))
        self.send_response(500 if failing else 200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


print("listening on", os.environ["PORT"], flush=True)
ThreadingHTTPServer((os.environ["HOST"], int(os.environ["PORT"])), Handler).serve_forever()
"""
DOCKERFILE = """\
FROM python:3.12-slim
WORKDIR /srv
COPY app.py .
ENV VERSION=v1
EXPOSE 8080
CMD ["python", "/srv/app.py"]
"""


def push_web_image(labstack: LabstackProcess, account: str, folder: Path, repository: str = "web", tag: str = "v1") -> str:
    """Build the app's image and push it to ``repository`` in ``account``; returns the image URI."""
    uri = f"{account}.dkr.ecr.us-east-1.amazonaws.com/{repository}:{tag}"
    (folder / "Dockerfile").write_text(DOCKERFILE)
    (folder / "app.py").write_text(APP)
    images = LocalImages(folder / "store")
    Builder(folder, folder / "Dockerfile", images, log=lambda line: None).build([uri])
    labstack.client("ecr", account=account).create_repository(repositoryName=repository)
    login(images, uri.split("/")[0], "AWS", "token")
    push(images, uri, log=lambda line: None, client=labstack.client("ecr", account=account))
    return uri
