#!/bin/sh
# postremove of sonevakt-collector. Arguments: deb "remove", "purge",
# "upgrade NEWVERSION", ...; rpm "0" on erase, "1" on upgrade.
# deb purge deletes the store, the CA and all state in
# /var/lib/sonevakt/collector, the collector's files in /etc/sonevakt and the
# user sonevakt. rpm has no purge, and an erase keeps the store and the CA
# (they cannot be made again): delete them by hand (docs/install.md).
set -e

if [ -d /run/systemd/system ] && command -v systemctl >/dev/null 2>&1; then
  systemctl daemon-reload || true
fi

case "$1" in
  purge) ;;
  0)
    if [ -d /var/lib/sonevakt/collector ]; then
      echo "sonevakt-collector: kept /var/lib/sonevakt/collector (store and CA) and the user sonevakt;" >&2
      echo "  to delete them: rm -rf /var/lib/sonevakt/collector && userdel sonevakt" >&2
    fi
    exit 0 ;;
  *) exit 0 ;;
esac

rm -rf /var/lib/sonevakt/collector
rm -f /etc/sonevakt/collector.yaml /etc/sonevakt/collector.yaml.*
rm -f /etc/systemd/system/multi-user.target.wants/sonevakt-collector.service
if getent passwd sonevakt >/dev/null 2>&1; then
  userdel sonevakt || echo "sonevakt-collector: could not delete the user sonevakt" >&2
fi
if getent group sonevakt >/dev/null 2>&1; then
  groupdel sonevakt || true
fi
rmdir /var/lib/sonevakt 2>/dev/null || true
rmdir /etc/sonevakt 2>/dev/null || true
exit 0
