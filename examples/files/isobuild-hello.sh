#!/bin/bash
# Installed by examples/systemd-files.bu as /usr/local/bin/isobuild-hello and
# run once at boot by isobuild-hello.service, which loads GREETING and
# GREETING_FILE from /etc/isobuild-hello.conf.
set -euo pipefail

greeting="${GREETING:-hello}"
out="${GREETING_FILE:-/var/lib/isobuild-hello/greeting}"

msg="@isobuild-hello@ ${greeting} from $(hostname) at $(date --utc +%Y-%m-%dT%H:%M:%SZ)"
echo "${msg}" > "${out}"
echo "${msg}"
