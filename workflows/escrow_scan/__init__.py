"""The daily early-warning scan of prepaid money (预收费预警), on a Temporal schedule."""
