"""IAM enforcement: every signed call of an IAM principal is decided by ``labstack.iampolicy`` (issue 20).

``asks`` says what a call needs, ``policies`` reads the principal's and the resource's policies from
moto, ``gate`` decides and answers AWS's AccessDenied, ``stream`` keeps each decision for the console
and ``labstack iam suggest``, ``roles`` lets a service act as its service role.
"""
