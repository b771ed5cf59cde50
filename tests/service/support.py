"""Helpers for the service tests."""
from nameko.testing.services import entrypoint_hook


def call(container, method, *args):
    """Call an entrypoint of a running container as a remote caller would."""
    with entrypoint_hook(container, method) as hook:
        return hook(*args)
