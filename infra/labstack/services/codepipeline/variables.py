"""Variables in action configurations: ``#{Namespace.Name}`` from earlier actions' output
variables, ``#{variables.Name}`` (pipeline variables, V2) and ``#{codepipeline.PipelineExecutionId}``."""

from __future__ import annotations

from labstack.services.codepipeline.structure import VARIABLE


class Unresolved(Exception):
    """A reference names a variable no earlier action (or the pipeline) produced."""


def resolve(configuration: dict[str, str], namespaces: dict[str, dict[str, str]]) -> dict[str, str]:
    """``configuration`` with every reference replaced by its value."""

    def value(match) -> str:  # type: ignore[no-untyped-def]
        namespace, name = match.group(1), match.group(2)
        found = namespaces.get(namespace, {}).get(name)
        if found is None:
            raise Unresolved(f"The variable '{match.group(0)}' in the action configuration could not be resolved: "
                             f"no value named {name} in namespace {namespace}")
        return found

    return {key: VARIABLE.sub(value, text) for key, text in configuration.items()}
