"""CodeBuild: projects, builds that really run their buildspec, logs, artifacts and reports."""
