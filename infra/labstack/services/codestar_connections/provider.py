"""CodeStar Connections, served by the CodeConnections provider under its older name.

Connections made through either API are visible through both; each ARN names the API that
made it (``arn:aws:codestar-connections:…`` or ``arn:aws:codeconnections:…``), as on AWS.
"""

from __future__ import annotations

from labstack.services.codeconnections.provider import CodeConnectionsProvider


class CodeStarConnectionsProvider(CodeConnectionsProvider):
    """The ``codestar-connections`` API over the connections CodeConnections keeps."""

    service = "codestar-connections"

    def resource_counts(self) -> dict[str, int]:
        return {}  # CodeConnections counts the connections both APIs share


PROVIDER = CodeStarConnectionsProvider
