"""CodeStar Connections: CodeConnections' older name, same connections (see ``codeconnections/``)."""
