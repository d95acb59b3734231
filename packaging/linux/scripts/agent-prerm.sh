#!/bin/sh
# preremove of sonevakt-agent. Arguments: deb "remove", "upgrade NEWVERSION",
# ...; rpm "0" on erase, "1" on upgrade. Stops the service only on removal.
set -e

unit=sonevakt-agent.service
case "$1" in
  remove|0) ;;
  *) exit 0 ;;
esac
if command -v systemctl >/dev/null 2>&1; then
  if [ -d /run/systemd/system ]; then
    systemctl stop "$unit" || true
  fi
  systemctl disable "$unit" >/dev/null 2>&1 || true
fi
exit 0
