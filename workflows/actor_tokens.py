"""The signed actor inside workflow updates (issue 16).

A decision sent to a workflow (`decide` updates of LicenceVerification, ConversionApproval and
Deregistration) carries the gateway-signed actor token itself, not only the actor's fields. The
update validator verifies the signature with the deployment's key and that the fields it will act
on are the signed ones, so a client that reaches the Temporal frontend directly cannot decide a
step by writing a department into a dict.

The key is configured once per worker process (`configure`, from workflows/worker.py; the tests'
conftest sets their key); a validator in a process that never configured one refuses every
decision. Validators do not run on replay, so the key plays no part in a workflow's history.
The sandbox re-imports workflow code per run: this module is passed through it (`sandbox_runner`,
used by every worker), so the key set here is the one the validators see.
"""
from __future__ import annotations

from services.common.errors import NotAuthenticated
from services.common.identity import Actor, ActorSigner

_signer: ActorSigner | None = None


def configure(signer: ActorSigner) -> None:
    global _signer
    _signer = signer


def verified_actor(token: object, claimed: object) -> Actor:
    """The actor of a decision: `token` must verify and name the same actor as `claimed`."""
    if _signer is None:
        raise NotAuthenticated("流程未配置操作人签名密钥，拒绝决定")
    actor = _signer.verify(token)  # NotAuthenticated: missing or forged
    if not isinstance(claimed, dict) or claimed != actor.to_dict():
        raise NotAuthenticated("操作人信息与签名不符")
    return actor


def sandbox_runner():
    """The workflow runner every worker uses: the default sandbox with this module passed through."""
    from temporalio.worker.workflow_sandbox import SandboxedWorkflowRunner, SandboxRestrictions

    return SandboxedWorkflowRunner(restrictions=SandboxRestrictions.default.with_passthrough_modules(__name__))
