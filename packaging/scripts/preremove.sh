#!/bin/sh
# edgegate prerm: on removal (not on upgrade) stop and disable the service
# if systemd runs; nothing to do without it.
set -e
case "$1" in
remove)
  if [ -d /run/systemd/system ]; then
    systemctl stop edgegate.service || true
    systemctl disable edgegate.service >/dev/null 2>&1 || true
  fi
  ;;
esac
exit 0
