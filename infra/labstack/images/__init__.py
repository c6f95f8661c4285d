"""A daemonless image tool: build OCI images from a Dockerfile subset, tag, push to ECR.

``labstack image …`` everywhere, and ``docker …`` inside CodeBuild's privileged mode.
Images are real OCI images (config, gzipped layer tarballs, manifest, real digests); what
labstack does not support fails with a message that names it.
"""
