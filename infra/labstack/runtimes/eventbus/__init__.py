"""EventBridge in front of LocalStack (``--upstream``): rules there may target labstack's pipelines."""
