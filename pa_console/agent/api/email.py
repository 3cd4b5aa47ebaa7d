from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from pa_console.agent.api.write_gate import PrimaryConfirmed
from pa_console.agent.auth import Admin, Runtime
from pa_console.agent.errors import AgentError
from pa_console.agent.mail import EMAIL_SETTING, MailError, public_config, send_mail
from pa_console.agent.mail_tls import CaFileError, check_ca_file
from pa_console.protocol.events import EmailChanged
from pa_console.protocol.models import EmailConfig, EmailConfigUpdate, EmailTestResult, Role

router = APIRouter(prefix="/email", dependencies=[Admin])


@router.get("", response_model=EmailConfig)
def get_email(runtime: Runtime) -> EmailConfig:
    return public_config(runtime.site.get_setting(EMAIL_SETTING))


@router.put("", response_model=EmailConfig, dependencies=[PrimaryConfirmed])
def put_email(body: EmailConfigUpdate, runtime: Runtime) -> EmailConfig:
    if runtime.role == Role.BACKUP and runtime.local.get("fence") is None:  # a fenced one: the store says why
        # The backup's copy is overwritten by every sync; an edit here would silently vanish.
        raise AgentError(409, "This appliance is a backup: it receives the email configuration from its primary "
                              "with each sync. Change it on the primary.")
    changes = body.model_dump(mode="json", exclude_unset=True)
    if changes.get("ca_file"):
        try:
            check_ca_file(changes["ca_file"])
        except CaFileError as exc:
            raise AgentError(422, str(exc)) from exc
    known = EmailConfigUpdate.model_fields

    def merge(stored: Any) -> dict[str, Any]:
        # Partial, as PUT /failover/settings is: a field left out keeps its stored value (a PUT of only the
        # recipients used to wipe the server, sender and password). The console sends every field. Merged inside
        # the write transaction, with what is stored now: two PUTs at once never lose one another.
        current: dict[str, Any] = stored or {}
        new = EmailConfigUpdate().model_dump(mode="json") | {k: v for k, v in current.items() if k in known} | changes
        if new.get("password") is None:
            new["password"] = current.get("password", "")
        EmailConfigUpdate.model_validate(new)
        return new

    new: dict[str, Any] = runtime.site.update_setting(EMAIL_SETTING, merge)
    merged = EmailConfigUpdate.model_validate(new)
    runtime.bus.publish(EmailChanged(host=merged.host, port=merged.port, recipients=merged.recipients))
    return public_config(new)


@router.post("/test", response_model=EmailTestResult)
async def test_email(runtime: Runtime) -> EmailTestResult:
    try:
        return await send_mail(runtime.site.get_setting(EMAIL_SETTING), f"pa-agent test message from {runtime.name}",
                               f"This is a test message from the PA appliance {runtime.name}.\n"
                               "If you can read it, failover alerts will reach you.")
    except MailError as exc:
        return EmailTestResult(ok=False, message=str(exc))
