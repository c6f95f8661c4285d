"""labstack's IAM policy evaluator: AWS's documented policy evaluation logic, with explanations.

Used by the grader's permission checks today and by labstack's enforcement (issue 20).

Why our own: no maintained Python library evaluates a request against policies as AWS does.
moto's ``iam/access_control.py`` checks actions, ignores most of Resource and Condition (its own
TODO says so) and treats a statement whose condition fails as a denial; policyuniverse and
policy_sentry analyse or write policies but decide no request; iam-ape flattens a principal's
effective permissions and leaves conditions as text; the complete evaluators (iam-simulate,
iam-analyzer) are JavaScript and Rust. Each rule here cites the AWS page it follows, and
``tests/test_policy_evaluation.py`` encodes the pages' examples.

    from labstack.iampolicy import Policy, Principal, Request, evaluate, can_assume, IDENTITY
    decision = evaluate(Request(Principal.from_arn(arn), "s3:GetObject", "arn:aws:s3:::b/k"),
                        identity=[Policy.parse(doc, "inline policy build")])
    decision.allowed, decision.decision, decision.message(), decision.explain()
"""

from labstack.iampolicy.conditions import PolicyError
from labstack.iampolicy.evaluate import (
    ALLOWED,
    EXPLICIT_DENY,
    IDENTITY,
    IMPLICIT_DENY,
    KEY,
    RESOURCE,
    TRUST,
    Decision,
    Match,
    Policy,
    Request,
    Statement,
    can_assume,
    evaluate,
)
from labstack.iampolicy.principals import ANONYMOUS, Principal

__all__ = ["ALLOWED", "ANONYMOUS", "EXPLICIT_DENY", "IDENTITY", "IMPLICIT_DENY", "KEY", "RESOURCE", "TRUST", "Decision",
           "Match", "Policy", "PolicyError", "Principal", "Request", "Statement", "can_assume", "evaluate"]
