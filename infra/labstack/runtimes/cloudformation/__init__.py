"""CloudFormation: moto's, with the resource properties it leaves out."""
