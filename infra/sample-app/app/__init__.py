"""The sample app that the labs build, test, scan and ship."""
