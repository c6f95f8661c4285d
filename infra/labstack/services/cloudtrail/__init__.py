"""CloudTrail's event history over moto's trails: every call labstack serves, recorded and looked up."""
