"""The alarms runtime: CloudWatch metric alarms evaluated from their metric's data, with actions."""
