"""The load-balancer runtime: every ELBv2 listener listens on a local port."""
