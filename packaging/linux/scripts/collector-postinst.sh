#!/bin/sh
# postinstall of sonevakt-collector. Arguments: deb "configure OLDVERSION"
# (OLDVERSION empty on a first install); rpm "1" on install, "2" or more on
# upgrade. Creates the system user sonevakt (Debian and RHEL alike) and gives
# it /var/lib/sonevakt/collector; the CA, store and state there are never
# removed on upgrade.
set -e

data=/var/lib/sonevakt/collector
unit=sonevakt-collector.service

upgrade=no
case "$1" in
  configure) [ -z "$2" ] || upgrade=yes ;;
  abort-*) exit 0 ;;
  [0-9]*) [ "$1" -lt 2 ] || upgrade=yes ;;
esac

nologin=/usr/sbin/nologin
[ -x "$nologin" ] || nologin=/sbin/nologin
if ! getent group sonevakt >/dev/null 2>&1; then
  groupadd --system sonevakt
fi
if ! getent passwd sonevakt >/dev/null 2>&1; then
  useradd --system --gid sonevakt --home-dir "$data" --no-create-home \
    --shell "$nologin" --comment "Sonevakt collector" sonevakt
fi

mkdir -p "$data"
# -R: files an operator made as root (e.g. with "token create") become the
# service's again; chown does not follow symbolic links here.
chown -R sonevakt:sonevakt "$data"
chmod 0700 "$data"

if [ -d /run/systemd/system ] && command -v systemctl >/dev/null 2>&1; then
  systemctl daemon-reload || true
  if [ "$upgrade" = yes ]; then
    systemctl try-restart "$unit" || echo "sonevakt-collector: restart of $unit failed: journalctl -u $unit" >&2
  else
    systemctl enable "$unit" || true
    systemctl start "$unit" || echo "sonevakt-collector: start of $unit failed: journalctl -u $unit" >&2
  fi
fi
exit 0
