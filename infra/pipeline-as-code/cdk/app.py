"""Lab 07's CDK app: ``python app.py`` (or ``cdk synth``) writes the pipeline stack's template to ``cdk.out/``,
offline: no AWS call, no ``cdk bootstrap``. The BootstraplessSynthesizer makes a template with no bootstrap
version parameter or rule and no assets (the app has none: every buildspec is read from the source), which
CloudFormation deploys as it is (create_stack or a change set)."""

from __future__ import annotations

import sys
from pathlib import Path

import aws_cdk as cdk

sys.path.insert(0, str(Path(__file__).resolve().parent))  # run from anywhere: settings, pipeline_stack

from pipeline_stack import PipelineStack  # noqa: E402
from settings import Settings  # noqa: E402


def synth(settings: Settings, outdir: str | Path) -> Path:
    """Synthesize the pipeline stack for ``settings`` into ``outdir``; the template's path."""
    app = _app(outdir=str(outdir))
    stack = PipelineStack(app, settings.stack_name, settings, synthesizer=cdk.BootstraplessSynthesizer())
    assembly = app.synth()
    return Path(assembly.directory) / assembly.get_stack_by_name(stack.stack_name).template_file


def _app(**kwargs: object) -> cdk.App:
    """An app as ``cdk synth`` runs it (each resource's construct path in its ``aws:cdk:path`` metadata), without
    the CDK's version metadata resource, stack traces in its metadata or its built-in template validation (the
    pipeline's Lint action runs cfn-lint)."""
    return cdk.App(analytics_reporting=False, stack_traces=False, builtin_cloud_formation_validation=False,
                   context={"aws:cdk:enable-path-metadata": True}, **kwargs)


def main() -> None:
    """``cdk synth``'s entry (cdk.json): settings from the CDK context, the template into cdk.out/."""
    app = _app()
    settings = Settings.from_context(app.node.try_get_context)
    PipelineStack(app, settings.stack_name, settings, synthesizer=cdk.BootstraplessSynthesizer())
    app.synth()


if __name__ == "__main__":
    main()
