"""``labstack image`` (and ``docker`` in CodeBuild): build, tag, push, login, images, inspect."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from labstack.images.build import Builder, BuildError
from labstack.images.engine import push_through_labstack
from labstack.images.layout import LocalImages
from labstack.images.registry import RegistryError, login, push


def _build(args: argparse.Namespace, images: LocalImages) -> int:
    if not args.tag:
        print("labstack image build: give the image a name with -t NAME[:TAG]", file=sys.stderr)
        return 1
    context = Path(args.path)
    dockerfile = Path(args.file) if args.file else context / "Dockerfile"
    build_args = dict(item.partition("=")[::2] for item in args.build_arg)
    Builder(context, dockerfile, images, build_args, log=lambda line: print(line, flush=True)).build(args.tag)
    return 0


def _tag(args: argparse.Namespace, images: LocalImages) -> int:
    try:
        images.tag(args.target, images.resolve(args.source))
    except KeyError:
        print(f"Error response: No such image: {args.source}", file=sys.stderr)
        return 1
    return 0


def _push(args: argparse.Namespace, images: LocalImages) -> int:
    def log(line: str) -> None:
        print(line, flush=True)

    if not push_through_labstack(images, args.name, log):
        push(images, args.name, log=log)
    return 0


def _login(args: argparse.Namespace, images: LocalImages) -> int:
    password = sys.stdin.read() if args.password_stdin else (args.password or "")
    login(images, args.server, args.username or "AWS", password)
    print("Login Succeeded")
    return 0


def _images(args: argparse.Namespace, images: LocalImages) -> int:
    print(f"{'REPOSITORY':50} {'TAG':20} {'IMAGE ID':14} SIZE")
    for reference, digest in sorted(images.refs().items()):
        repository, _, tag = reference.rpartition(":")
        manifest = images.manifest(digest)
        size = sum(layer["size"] for layer in manifest["layers"])
        print(f"{repository:50} {tag:20} {digest[7:19]:14} {size / 1024:.1f}kB")
    return 0


def _inspect(args: argparse.Namespace, images: LocalImages) -> int:
    found = []
    for name in args.names:
        try:
            digest = images.resolve(name)
        except KeyError:
            print(f"Error: No such image: {name}", file=sys.stderr)
            return 1
        manifest = images.manifest(digest)
        found.append({"Id": digest, "RepoTags": [r for r, d in images.refs().items() if d == digest],
                      "Manifest": manifest, "Config": images.config(manifest)})
    print(json.dumps(found, indent=2))
    return 0


def parser(prog: str = "labstack image") -> argparse.ArgumentParser:
    root = argparse.ArgumentParser(prog=prog, description="Build, tag and push images without a Docker daemon.")
    sub = root.add_subparsers(dest="command", required=True)
    build = sub.add_parser("build", help="build an image from a Dockerfile")
    build.add_argument("-t", "--tag", action="append", default=[], help="name:tag (repeatable)")
    build.add_argument("-f", "--file", help="the Dockerfile (default PATH/Dockerfile)")
    build.add_argument("--build-arg", action="append", default=[], help="KEY=VALUE for an ARG")
    build.add_argument("path", help="the build context folder")
    build.set_defaults(fn=_build)
    tag = sub.add_parser("tag", help="give an image another name")
    tag.add_argument("source")
    tag.add_argument("target")
    tag.set_defaults(fn=_tag)
    push_cmd = sub.add_parser("push", help="push an image to its ECR repository")
    push_cmd.add_argument("name")
    push_cmd.set_defaults(fn=_push)
    login_cmd = sub.add_parser("login", help="store credentials for a registry")
    login_cmd.add_argument("-u", "--username")
    login_cmd.add_argument("-p", "--password")
    login_cmd.add_argument("--password-stdin", action="store_true")
    login_cmd.add_argument("server")
    login_cmd.set_defaults(fn=_login)
    sub.add_parser("images", help="list local images").set_defaults(fn=_images)
    inspect = sub.add_parser("inspect", help="an image's manifest and config as JSON")
    inspect.add_argument("names", nargs="+")
    inspect.set_defaults(fn=_inspect)
    return root


def main(argv: list[str] | None = None, prog: str = "labstack image") -> int:
    """Run one image command; errors are one line on stderr and a non-zero exit."""
    args = parser(prog).parse_args(argv)
    try:
        return args.fn(args, LocalImages())
    except (BuildError, RegistryError) as exc:
        print(exc, file=sys.stderr)
        return 1


def docker_main() -> int:
    """``docker`` as CodeBuild's privileged mode provides it: the same commands."""
    return main(sys.argv[1:], prog="docker")
