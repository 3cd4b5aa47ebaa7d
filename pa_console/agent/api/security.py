from __future__ import annotations

from fastapi import APIRouter

from pa_console.agent.auth import Admin, Runtime
from pa_console.agent.identity import generate_ia_key, key_fingerprint
from pa_console.protocol.events import KeyChanged
from pa_console.protocol.models import GeneratedKey, KeyFingerprint, KeyUpdate

router = APIRouter(prefix="/security", dependencies=[Admin])


@router.get("/key", response_model=KeyFingerprint)
def get_key(runtime: Runtime) -> KeyFingerprint:
    return KeyFingerprint(fingerprint=runtime.identity.key_fingerprint())


@router.put("/key", response_model=KeyFingerprint)
def put_key(body: KeyUpdate, runtime: Runtime) -> KeyFingerprint:
    runtime.identity.set_ia_key(body.key)
    fingerprint = key_fingerprint(body.key.strip().encode())
    runtime.bus.publish(KeyChanged(fingerprint=fingerprint))
    return KeyFingerprint(fingerprint=fingerprint)


@router.post("/key/generate", response_model=GeneratedKey)
def generate_key(runtime: Runtime) -> GeneratedKey:
    key = generate_ia_key()
    runtime.identity.set_ia_key(key)
    fingerprint = key_fingerprint(key.encode())
    runtime.bus.publish(KeyChanged(fingerprint=fingerprint))
    return GeneratedKey(key=key, fingerprint=fingerprint)
