"""The model-driven protocol layer: botocore's service models parse, validate and serialise."""
