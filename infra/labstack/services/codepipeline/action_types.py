"""The action types AWS offers (owner AWS) that a pipeline may declare, as ListActionTypes
describes them: configuration properties and how many input and output artifacts each takes.

The facts follow CodePipeline's action structure reference. A declared type labstack does not
run (``runners.RUNNERS`` has those it runs) is accepted, as AWS accepts it, and fails its action
at run time with a message naming it.
"""

from __future__ import annotations

from dataclasses import dataclass, field

LISTED_PROPERTIES = 10
LISTED_COUNT = 5


@dataclass(frozen=True)
class Property:
    """One configuration property of an action type."""

    name: str
    required: bool = False
    key: bool = False
    secret: bool = False
    queryable: bool = False
    kind: str = "String"
    description: str = ""

    def describe(self) -> dict:
        """The ``ActionConfigurationProperty`` shape (``RuleConfigurationProperty`` is the same)."""
        described = {"name": self.name, "required": self.required, "key": self.key, "secret": self.secret,
                     "queryable": self.queryable, "type": self.kind}
        if self.description:
            described["description"] = self.description
        return described


@dataclass(frozen=True)
class ActionType:
    """One action type: its id, properties and artifact counts (min, max)."""

    category: str
    owner: str
    provider: str
    version: str
    properties: tuple[Property, ...]
    inputs: tuple[int, int]
    outputs: tuple[int, int]
    settings: dict = field(default_factory=dict, hash=False, compare=False)

    @property
    def key(self) -> tuple[str, str, str, str]:
        return (self.category, self.owner, self.provider, self.version)

    def property_names(self) -> set[str]:
        return {p.name for p in self.properties}

    def describe(self) -> dict:
        """The ``ActionType`` shape. The shape holds at most 10 properties and counts up to 5, so
        CodeDeployToECS lists its first image pairs only and CloudFormation's 10 inputs read 5."""
        described = {
            "id": {"category": self.category, "owner": self.owner, "provider": self.provider, "version": self.version},
            "actionConfigurationProperties": [p.describe() for p in self.properties[:LISTED_PROPERTIES]],
            "inputArtifactDetails": {"minimumCount": self.inputs[0], "maximumCount": min(self.inputs[1], LISTED_COUNT)},
            "outputArtifactDetails": {"minimumCount": self.outputs[0], "maximumCount": min(self.outputs[1], LISTED_COUNT)},
        }
        if self.settings:
            described["settings"] = dict(self.settings)
        return described


def _props(required: str = "", optional: str = "") -> tuple[Property, ...]:
    return tuple([Property(n, required=True, key=True) for n in required.split()]
                 + [Property(n) for n in optional.split()])


_CODEBUILD = _props("ProjectName", "PrimarySource EnvironmentVariables BatchEnabled CombineArtifacts")
_IMAGES = " ".join(f"Image{i}ArtifactName Image{i}ContainerName" for i in range(1, 5))

BUILTIN: tuple[ActionType, ...] = (
    ActionType("Source", "AWS", "S3", "1", _props("S3Bucket S3ObjectKey", "PollForSourceChanges AllowOverrideForS3ObjectKey"),
               (0, 0), (1, 1)),
    ActionType("Source", "AWS", "CodeCommit", "1",
               _props("RepositoryName BranchName", "PollForSourceChanges OutputArtifactFormat"), (0, 0), (1, 1)),
    ActionType("Source", "AWS", "CodeStarSourceConnection", "1",
               _props("ConnectionArn FullRepositoryId BranchName", "OutputArtifactFormat DetectChanges"), (0, 0), (1, 1)),
    ActionType("Source", "AWS", "ECR", "1", _props("RepositoryName", "ImageTag"), (0, 0), (1, 1)),
    ActionType("Build", "AWS", "CodeBuild", "1", _CODEBUILD, (1, 5), (0, 5)),
    ActionType("Test", "AWS", "CodeBuild", "1", _CODEBUILD, (1, 5), (0, 5)),
    ActionType("Deploy", "AWS", "ECS", "1", _props("ClusterName ServiceName", "FileName DeploymentTimeout"), (1, 1), (0, 0)),
    ActionType("Deploy", "AWS", "CodeDeployToECS", "1",
               _props("ApplicationName DeploymentGroupName TaskDefinitionTemplateArtifact AppSpecTemplateArtifact",
                      f"TaskDefinitionTemplatePath AppSpecTemplatePath {_IMAGES}"), (1, 3), (0, 0)),
    ActionType("Deploy", "AWS", "CodeDeploy", "1", _props("ApplicationName DeploymentGroupName"), (1, 1), (0, 0)),
    ActionType("Deploy", "AWS", "S3", "1",
               _props("BucketName Extract", "ObjectKey KMSEncryptionKeyARN CannedACL CacheControl"), (1, 1), (0, 0)),
    ActionType("Deploy", "AWS", "CloudFormation", "1",
               _props("ActionMode StackName", "Capabilities ChangeSetName OutputFileName ParameterOverrides RoleArn "
                      "TemplatePath TemplateConfiguration"), (0, 10), (0, 1)),
    ActionType("Approval", "AWS", "Manual", "1", _props("", "NotificationArn CustomData ExternalEntityLink"), (0, 0), (0, 0)),
    ActionType("Invoke", "AWS", "Lambda", "1", _props("FunctionName", "UserParameters"), (0, 5), (0, 5)),
)

CATALOGUE: dict[tuple[str, str, str, str], ActionType] = {t.key: t for t in BUILTIN}


def custom(request: dict) -> ActionType:
    """An action type from a CreateCustomActionType request (owner Custom; jobs for workers)."""
    properties = tuple(Property(p["name"], p["required"], p["key"], p["secret"], p.get("queryable", False),
                                p.get("type", "String"), p.get("description", ""))
                       for p in request.get("configurationProperties", []))
    counts = request["inputArtifactDetails"], request["outputArtifactDetails"]
    return ActionType(request["category"], "Custom", request["provider"], request["version"], properties,
                      (counts[0]["minimumCount"], counts[0]["maximumCount"]),
                      (counts[1]["minimumCount"], counts[1]["maximumCount"]),
                      settings=dict(request.get("settings") or {}))


def type_key(type_id: dict) -> tuple[str, str, str, str]:
    """The catalogue key of an ``ActionTypeId``."""
    return (type_id["category"], type_id["owner"], type_id["provider"], type_id["version"])
