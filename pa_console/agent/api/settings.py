from __future__ import annotations

from fastapi import APIRouter

from pa_console.agent.auth import Admin, Runtime
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
    merged = runtime.settings.model_dump()
    merged.update(changes)
    settings = FailoverSettings.model_validate(merged)
    runtime.save_settings(settings)
    runtime.bus.publish(SettingsChanged(changed=sorted(changes), settings=settings.model_dump(mode="json")))
    runtime.settings_changed()
    return settings
