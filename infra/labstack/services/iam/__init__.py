"""IAM additions moto lacks: service-specific credentials (CodeCommit's HTTPS Git credentials)."""
