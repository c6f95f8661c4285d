"""CodeCommit: the API (``provider.py``), bare repositories (``repos.py``), git over HTTP
(``githttp.py``) and the events a reference change publishes (``events.py``)."""
