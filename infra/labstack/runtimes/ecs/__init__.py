"""The ECS runtime: tasks run as local processes from the images in the ECR emulation."""
