"""labstack's own services, one folder each; ``PROVIDERS`` lists the built-in ones."""

from __future__ import annotations

# Filled by the service issues (CodeCommit, CodeBuild, CodeDeploy, CodePipeline).
PROVIDERS: tuple[str, ...] = ()
