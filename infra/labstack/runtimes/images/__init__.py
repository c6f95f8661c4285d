"""Images: ECR layers kept for real in a content-addressed store, served back by URL."""
