#!/usr/bin/env bash
# Let the docs sandbox's unprivileged user (uid 65534 when run as root) reach the Python install, the
# virtual environment and this repository: grant search permission (o+x, not read) on each directory
# above them that lacks it, e.g. /root when Python was installed by pyenv under /root. Idempotent;
# only as root (a non-root user runs the sandbox as itself and needs nothing).
set -euo pipefail
[ "$(id -u)" = 0 ] || exit 0
py=${1:?usage: sandbox_access.sh PYTHON REPO}
repo=${2:?usage: sandbox_access.sh PYTHON REPO}
mapfile -t targets < <("$py" -c 'import os, sys; [print(os.path.realpath(p)) for p in {sys.base_prefix, sys.prefix}]')
targets+=("$(realpath "$repo")")
for t in "${targets[@]}"; do
  d=$t
  while [ "$d" != / ]; do
    d=$(dirname "$d")
    if [ -d "$d" ] && [ $(( 0$(stat -c %a "$d") & 1 )) -eq 0 ]; then
      echo "sandbox_access: chmod o+x $d (search only, so the docs sandbox user can reach $t)"
      chmod o+x "$d"
    fi
  done
done
