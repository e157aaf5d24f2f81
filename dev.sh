#!/usr/bin/env bash
# One entry point for a fresh machine: sets up .venv (torch first), then runs what you ask.
#   ./dev.sh run [ARGS]   set up and start the editor (on the bundled sample video by default)
#   ./dev.sh test [ARGS]  set up (with the test oracle) and run the whole test suite
#   ./dev.sh setup        set up only
set -euo pipefail
cd "$(dirname "$0")"

VENV=${VENV:-.venv}
TORCH_SPEC=${TORCH_SPEC:-torch==2.13.0}
SAMPLE=resources/sample/car-shadow.mp4

find_python() {
    for py in "${PYTHON:-}" python3.11 python3.12 python3.13 python3; do
        [ -n "$py" ] || continue
        if command -v "$py" >/dev/null 2>&1 &&
           "$py" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
            echo "$py"; return 0
        fi
    done
    echo "dev.sh: Python 3.11 or newer is needed (set PYTHON=/path/to/python3.11)" >&2
    return 1
}

setup() {
    local extras=$1 stamp
    if [ ! -x "$VENV/bin/python" ]; then
        "$(find_python)" -m venv "$VENV"
    fi
    PY="$VENV/bin/python"
    # Re-install only when the declared dependencies changed.
    stamp="$VENV/.setup-$extras-$(cat pyproject.toml dev.sh | cksum | cut -d' ' -f1)"
    if [ -f "$stamp" ]; then return 0; fi
    "$PY" -m pip install -q --upgrade pip >/dev/null 2>&1 || true
    # torch first and pinned: any other spec pulls gigabytes of CUDA packages on these machines.
    "$PY" -m pip install -q "$TORCH_SPEC"
    if [ "$extras" = test ]; then
        "$PY" -m pip install -q -e ".[test]"
        # The reference implementation, a test oracle only: no CUDA build, no other torch.
        SAM2_BUILD_CUDA=0 "$PY" -m pip install -q --no-build-isolation --no-deps sam2==1.1.0
    else
        "$PY" -m pip install -q -e .
    fi
    rm -f "$VENV"/.setup-"$extras"-*
    touch "$stamp"
}

cmd=${1:-run}
[ $# -gt 0 ] && shift
case "$cmd" in
    setup) setup test ;;
    run)
        setup run
        if [ $# -eq 0 ] && [ -f "$SAMPLE" ]; then set -- "$SAMPLE"; fi
        exec "$VENV/bin/sam2-studio" "$@"
        ;;
    test)
        setup test
        export QT_QPA_PLATFORM=${QT_QPA_PLATFORM:-offscreen}
        exec "$VENV/bin/python" -m pytest "$@"
        ;;
    *) echo "usage: ./dev.sh run|test|setup [ARGS]" >&2; exit 2 ;;
esac
