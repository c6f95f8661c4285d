"""AWS::ECR::Repository, made through ECR's API (lifecycle policy, scan on push, tag mutability,
repository policy; EmptyOnDelete deletes a repository that still holds images)."""

from __future__ import annotations

from typing import Any

from labstack.services.cloudformation.properties import (
    changed, document, gone_ok, only, parsed, retag, tag_list, url_suffix, without_empty,
)
from labstack.services.cloudformation.resource import Context, ResourceType, Result

GONE = ("RepositoryNotFoundException",)


def _flag(value: Any) -> bool:
    return value if isinstance(value, bool) else str(value).lower() == "true"


class Repository(ResourceType):
    """AWS::ECR::Repository: Ref is the repository's name; GetAtt Arn and RepositoryUri."""

    type_name = "AWS::ECR::Repository"
    SUPPORTED = ("RepositoryName", "ImageTagMutability", "ImageScanningConfiguration", "EncryptionConfiguration",
                 "LifecyclePolicy", "RepositoryPolicyText", "EmptyOnDelete", "Tags")

    def create(self, ctx: Context, props: dict) -> Result:
        only(self.type_name, props, self.SUPPORTED, ctx)
        only("AWS::ECR::Repository LifecyclePolicy", props.get("LifecyclePolicy") or {}, ("LifecyclePolicyText", "RegistryId"))
        ecr = ctx.client("ecr")
        name = props.get("RepositoryName") or ctx.name(256, lowercase=True)
        params: dict[str, Any] = {"repositoryName": name}
        if "ImageTagMutability" in props:
            params["imageTagMutability"] = props["ImageTagMutability"]
        if "ImageScanningConfiguration" in props:
            params["imageScanningConfiguration"] = {
                "scanOnPush": _flag(props["ImageScanningConfiguration"].get("ScanOnPush", False))}
        if "EncryptionConfiguration" in props:
            encryption = props["EncryptionConfiguration"]
            params["encryptionConfiguration"] = {"encryptionType": encryption.get("EncryptionType", "AES256"),
                                                 **({"kmsKey": encryption["KmsKey"]} if "KmsKey" in encryption else {})}
        if props.get("Tags"):
            params["tags"] = tag_list(props["Tags"])
        repository = ecr.create_repository(**params)["repository"]
        self._policies(ecr, name, {}, props)
        return Result(name, self._attributes(ctx, repository))

    @staticmethod
    def _attributes(ctx: Context, repository: dict) -> dict:
        return {"Arn": repository["repositoryArn"], "RepositoryUri": repository.get("repositoryUri") or
                f"{ctx.account}.dkr.ecr.{ctx.region}.{url_suffix(ctx)}/{repository['repositoryName']}"}

    @staticmethod
    def _policies(ecr: Any, name: str, old: dict, new: dict) -> None:
        """The lifecycle and repository policies turned from ``old``'s into ``new``'s."""
        before = (old.get("LifecyclePolicy") or {}).get("LifecyclePolicyText")
        after = (new.get("LifecyclePolicy") or {}).get("LifecyclePolicyText")
        if after and after != before:
            ecr.put_lifecycle_policy(repositoryName=name, lifecyclePolicyText=document(after))
        elif before and not after:
            with gone_ok("LifecyclePolicyNotFoundException"):
                ecr.delete_lifecycle_policy(repositoryName=name)
        if new.get("RepositoryPolicyText") and changed(old, new, "RepositoryPolicyText"):
            ecr.set_repository_policy(repositoryName=name, policyText=document(new["RepositoryPolicyText"]))
        elif old.get("RepositoryPolicyText") and not new.get("RepositoryPolicyText"):
            with gone_ok("RepositoryPolicyNotFoundException"):
                ecr.delete_repository_policy(repositoryName=name)

    def update(self, ctx: Context, physical_id: str, old: dict, new: dict) -> Result:
        only(self.type_name, new, self.SUPPORTED, ctx)
        ecr = ctx.client("ecr")
        if changed(old, new, "ImageTagMutability"):
            ecr.put_image_tag_mutability(repositoryName=physical_id,
                                         imageTagMutability=new.get("ImageTagMutability", "MUTABLE"))
        if changed(old, new, "ImageScanningConfiguration"):
            ecr.put_image_scanning_configuration(repositoryName=physical_id, imageScanningConfiguration={
                "scanOnPush": _flag((new.get("ImageScanningConfiguration") or {}).get("ScanOnPush", False))})
        self._policies(ecr, physical_id, old, new)
        repository = ecr.describe_repositories(repositoryNames=[physical_id])["repositories"][0]
        retag(old, new, lambda remove: ecr.untag_resource(resourceArn=repository["repositoryArn"], tagKeys=remove),
              lambda put: ecr.tag_resource(resourceArn=repository["repositoryArn"], tags=tag_list(put)))
        return Result(physical_id, self._attributes(ctx, repository))

    def delete(self, ctx: Context, physical_id: str, props: dict) -> None:
        """A repository with images fails to delete (RepositoryNotEmptyException), unless EmptyOnDelete."""
        with gone_ok(*GONE):
            ctx.client("ecr").delete_repository(repositoryName=physical_id, force=_flag(props.get("EmptyOnDelete", False)))

    def read(self, ctx: Context, physical_id: str, props: dict) -> dict | None:
        ecr = ctx.client("ecr")
        with gone_ok(*GONE):
            repository = ecr.describe_repositories(repositoryNames=[physical_id])["repositories"][0]
            live: dict[str, Any] = {
                "RepositoryName": physical_id, "ImageTagMutability": repository.get("imageTagMutability"),
                "ImageScanningConfiguration": {"ScanOnPush": repository.get("imageScanningConfiguration", {})
                                               .get("scanOnPush", False)}}
            with gone_ok("LifecyclePolicyNotFoundException"):
                text = ecr.get_lifecycle_policy(repositoryName=physical_id)["lifecyclePolicyText"]
                live["LifecyclePolicy"] = {"LifecyclePolicyText": parsed(text) if isinstance(
                    (props.get("LifecyclePolicy") or {}).get("LifecyclePolicyText"), dict) else text}
            with gone_ok("RepositoryPolicyNotFoundException"):
                text = ecr.get_repository_policy(repositoryName=physical_id)["policyText"]
                live["RepositoryPolicyText"] = parsed(text)
            live["Tags"] = ecr.list_tags_for_resource(resourceArn=repository["repositoryArn"]).get("tags")
            return without_empty(live)
        return None


TYPES: list[ResourceType] = [Repository()]
