"""CloudFormation: labstack's own engine and provider (issue 22).

Every resource is made by calling the resource's own AWS API on labstack itself, signed as the stack's
acting principal (the stack's RoleARN session, or the caller), as CloudFormation does on AWS. The
template language is ``template``/``intrinsics``/``parameters``, the handler contract ``resource``, the
handlers ``types/``, the state machine ``engine``, the stacks' store ``stacks``.
"""
