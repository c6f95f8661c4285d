"""Which release this source is. A release changes it in the same commit as its code."""

SERVICE = "sample-app"
VERSION = "v1"
