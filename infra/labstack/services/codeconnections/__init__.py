"""Connections to a local GitHub: the CodeStar Connections API (``provider.py``) and the
GitHub of ``owner/repo`` repositories it connects to (``github.py``)."""
