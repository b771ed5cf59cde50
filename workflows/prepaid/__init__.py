"""一课一消 and refund deadlines of a prepaid contract (预收费), as Temporal timers."""
