#!/usr/bin/env bash
# Build the one-folder bundle dist/pa-console/ (pa-console + pa-agent) and smoke-test both programs.
# Usage: packaging/build_bundle.sh            (uses $PYTHON, else the active venv, else python3)
#        packaging/build_bundle.sh --agent    the agent alone, for appliances: dist/pa-agent/, no Qt
set -euo pipefail

cd "$(dirname "$0")/.."
if [[ -n "${PYTHON:-}" ]]; then
    py="$PYTHON"
elif [[ -n "${VIRTUAL_ENV:-}" ]]; then
    py="$VIRTUAL_ENV/bin/python"
else
    py=python3
fi

if ! "$py" -c "import PyInstaller" 2>/dev/null; then
    echo "build_bundle: installing PyInstaller" >&2
    "$py" -m pip install --quiet "pyinstaller>=6.0"
fi

fail() { echo "build_bundle: SMOKE TEST FAILED: $*" >&2; exit 1; }

if [[ "${1:-}" == "--agent" ]]; then
    "$py" -m PyInstaller --noconfirm --clean --distpath dist --workpath build/pyinstaller-agent \
        packaging/pyinstaller/pa-agent.spec
    bundle=dist/pa-agent
    [[ -x "$bundle/pa-agent" ]] || fail "$bundle/pa-agent missing"
    ! find "$bundle" -iname '*qt6*' -o -iname 'PySide6' -o -iname 'shiboken6' | grep -q . || fail "Qt got into $bundle"
    out=$(timeout 60 "$bundle/pa-agent" --help 2>&1) || fail "pa-agent --help exited $?: $out"
    grep -qi "usage" <<<"$out" || fail "pa-agent --help printed no usage: $out"
    echo "build_bundle: OK: $bundle ($(du -sh "$bundle" | cut -f1)), agent only"
    exit 0
fi

"$py" -m PyInstaller --noconfirm --clean \
    --distpath dist --workpath build/pyinstaller \
    packaging/pyinstaller/pa-console.spec

bundle=dist/pa-console

[[ -x "$bundle/pa-agent" ]] || fail "$bundle/pa-agent missing"
[[ -x "$bundle/pa-console" ]] || fail "$bundle/pa-console missing"
find "$bundle" -path '*/resources/icons/pa-console.svg' | grep -q . || fail "resources/ not bundled"

# A hang (e.g. a window opened despite --version) must fail the build, not stall it.
out=$(timeout 60 "$bundle/pa-agent" --help 2>&1) || fail "pa-agent --help exited $?: $out"
grep -qi "usage" <<<"$out" || fail "pa-agent --help printed no usage: $out"

version=$("$py" -c "import pa_console; print(pa_console.__version__)")
out=$(QT_QPA_PLATFORM=offscreen timeout 60 "$bundle/pa-console" --version 2>&1) \
    || fail "pa-console --version exited $?: $out"
grep -qF "$version" <<<"$out" || fail "pa-console --version printed '$out', expected $version"

echo "build_bundle: OK: $bundle ($(du -sh "$bundle" | cut -f1)), version $version"
