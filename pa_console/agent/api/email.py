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
    if body.ca_file:
        try:
            check_ca_file(body.ca_file)
        except CaFileError as exc:
            raise AgentError(422, str(exc)) from exc
    current: dict[str, Any] = runtime.site.get_setting(EMAIL_SETTING) or {}
    new = body.model_dump(mode="json")
    if body.password is None:
        new["password"] = current.get("password", "")
    runtime.site.set_setting(EMAIL_SETTING, new)
    runtime.bus.publish(EmailChanged(host=body.host, port=body.port, recipients=body.recipients))
    return public_config(new)


@router.post("/test", response_model=EmailTestResult)
async def test_email(runtime: Runtime) -> EmailTestResult:
    try:
        return await send_mail(runtime.site.get_setting(EMAIL_SETTING), f"pa-agent test message from {runtime.name}",
                               f"This is a test message from the PA appliance {runtime.name}.\n"
                               "If you can read it, failover alerts will reach you.")
    except MailError as exc:
        return EmailTestResult(ok=False, message=str(exc))
