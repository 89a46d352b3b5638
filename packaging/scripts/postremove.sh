#!/bin/sh
# edgegate postrm: reload systemd after removal; on purge also delete what
# the service wrote (DynamicUser keeps it under /var/lib/private and
# /var/log/private and /var/cache/private, reached through the
# /var/lib/edgegate, /var/log/edgegate and /var/cache/edgegate links). dpkg itself removes the conffiles on purge.
set -e
case "$1" in
remove)
  if [ -d /run/systemd/system ]; then
    systemctl daemon-reload || true
  fi
  ;;
purge)
  rm -rf /var/lib/edgegate /var/lib/private/edgegate /var/log/edgegate /var/log/private/edgegate \
    /var/cache/edgegate /var/cache/private/edgegate
  rmdir /etc/edgegate 2>/dev/null || true
  if [ -d /run/systemd/system ]; then
    systemctl daemon-reload || true
    systemctl reset-failed edgegate.service >/dev/null 2>&1 || true
  fi
  ;;
esac
exit 0
