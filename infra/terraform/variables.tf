variable "region" {
  type    = string
  default = "us-east-1"
}

variable "environment" {
  type    = string
  default = "dev"
  validation {
    condition     = contains(["dev", "prod"], var.environment)
    error_message = "environment must be dev or prod (CloudFormation: AllowedValues)."
  }
}

variable "certificate_arn" {
  type        = string
  description = "An ACM certificate for the production listener (the course's listener is HTTPS)."
}
