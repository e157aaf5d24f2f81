#!/usr/bin/env bash
# The setup lives in dev.py (the same on Linux, macOS and Windows); this calls it.
#   ./dev.sh run [ARGS]   set up and start the editor (on the bundled sample video by default)
#   ./dev.sh test [ARGS]  set up (with the test oracle) and run the whole test suite
#   ./dev.sh setup        set up only
set -euo pipefail
cd "$(dirname "$0")"
# dev.py finds a Python 3.11+ for the venv itself; any python3 can start it.
for py in "${PYTHON:-}" python3.13 python3.12 python3.11 python3; do
    # (run it: a pyenv shim exists for versions that are not selected)
    if [ -n "$py" ] && "$py" -c 'import sys; sys.exit(sys.version_info < (3, 8))' >/dev/null 2>&1; then
        exec "$py" dev.py "$@"
    fi
done
echo "dev.sh: no working python3 found: install Python 3.11 or newer" >&2
exit 1
