"""CodePipeline: pipelines whose executions run their actions for real."""
