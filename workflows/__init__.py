"""The workflows process: Temporal worker, event bridge and RPC endpoint (asyncio, never eventlet).

See docs in each module; `python -m workflows.worker` runs everything.
"""
