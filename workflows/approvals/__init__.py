"""Multi-department approvals (营转非, 注销) driven by a step list; see services/common/processes.py."""
