"""办学许可核验: the education bureau verifies a newly registered institution's licence."""
