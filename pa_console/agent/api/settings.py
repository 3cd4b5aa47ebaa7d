from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from pa_console.agent.auth import Admin, Runtime
from pa_console.agent.runtime import SETTINGS_KEY
from pa_console.agent.takeover_methods.write_only import as_stored, take_write_only_secrets
from pa_console.protocol.events import SettingsChanged
from pa_console.protocol.models import FailoverSettings, FailoverSettingsUpdate

router = APIRouter(prefix="/failover", dependencies=[Admin])


@router.get("/settings", response_model=FailoverSettings)
def get_settings(runtime: Runtime) -> FailoverSettings:
    return runtime.settings


@router.put("/settings", response_model=FailoverSettings)
def put_settings(body: FailoverSettingsUpdate, runtime: Runtime) -> FailoverSettings:
    changes = body.model_dump(exclude_unset=True)
    # Everything checked first (422 from the ValidationError handler): a refused PUT changes nothing at all.
    FailoverSettings.model_validate(runtime.settings.model_dump() | as_stored(changes))
    take_write_only_secrets(runtime, changes)  # the TSIG secret is stored apart, never in the settings

    def merge(stored: Any) -> Any:  # inside the write transaction: merged with what is stored now, not before
        current = FailoverSettings.model_validate(stored) if stored else FailoverSettings()
        return FailoverSettings.model_validate(current.model_dump() | changes).model_dump(mode="json")

    settings = FailoverSettings.model_validate(runtime.local.update(SETTINGS_KEY, merge))
    runtime.bus.publish(SettingsChanged(changed=sorted(changes), settings=settings.model_dump(mode="json")))
    runtime.settings_changed()
    return settings
