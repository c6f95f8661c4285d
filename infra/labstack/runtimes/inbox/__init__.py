"""SNS email to a local inbox: what AWS would send to a mailbox, kept for the learner to read."""
