"""STS over moto: AssumeRole across accounts only where the role's trust policy lets the caller in."""
