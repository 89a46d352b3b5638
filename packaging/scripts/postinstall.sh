#!/bin/sh
# edgegate postinst. The unit uses DynamicUser, so there is no system user
# to create; systemd makes the state and log directories when it starts
# the service. Without a running systemd (a container, a chroot) there is
# nothing to do.
set -e
case "$1" in
configure)
  if [ -d /run/systemd/system ]; then
    systemctl daemon-reload || true
    if [ -n "$2" ]; then
      # An upgrade: restart a running service on the new binary.
      systemctl try-restart edgegate.service || true
    else
      echo "edgegate: edit /etc/edgegate/edgegate.yaml, rules.yaml and edgegate.env, then: systemctl enable --now edgegate"
    fi
  fi
  ;;
esac
exit 0
