#!/bin/sh
# postremove of sonevakt-agent. Arguments: deb "remove", "purge",
# "upgrade NEWVERSION", ...; rpm "0" on erase, "1" on upgrade.
# deb purge and rpm erase (rpm has no purge) delete the identity and the
# spool in /var/lib/sonevakt/agent and the agent's files in /etc/sonevakt;
# deb remove keeps them.
set -e

purge=no
case "$1" in
  purge|0) purge=yes ;;
esac

if [ -d /run/systemd/system ] && command -v systemctl >/dev/null 2>&1; then
  systemctl daemon-reload || true
fi

if [ "$purge" = yes ]; then
  rm -rf /var/lib/sonevakt/agent
  rm -f /etc/sonevakt/agent.env /etc/sonevakt/agent.env.* /etc/sonevakt/agent.yaml.*
  if [ "$1" = purge ]; then
    rm -f /etc/sonevakt/agent.yaml
  fi
  rm -f /etc/systemd/system/multi-user.target.wants/sonevakt-agent.service
  rmdir /var/lib/sonevakt 2>/dev/null || true
  rmdir /etc/sonevakt 2>/dev/null || true
fi
exit 0
