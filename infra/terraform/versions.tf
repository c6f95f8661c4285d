# Which Terraform and which AWS provider this configuration was written for. The kit cannot run Terraform
# (neither the binary nor the provider comes from the package registries it installs from); on a real
# account, see README.md.
terraform {
  required_version = ">= 1.5"
  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = "~> 5.0"
    }
  }
}

provider "aws" {
  region = var.region
}

data "aws_region" "current" {}
data "aws_caller_identity" "current" {}
