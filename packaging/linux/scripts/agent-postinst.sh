#!/bin/sh
# postinstall of sonevakt-agent. Arguments: deb "configure OLDVERSION"
# (OLDVERSION empty on a first install); rpm "1" on install, "2" or more on
# upgrade. Identity and spool in /var/lib/sonevakt/agent are never touched.
set -e

data=/var/lib/sonevakt/agent
envfile=/etc/sonevakt/agent.env
unit=sonevakt-agent.service

upgrade=no
case "$1" in
  configure) [ -z "$2" ] || upgrade=yes ;;
  abort-*) exit 0 ;;
  [0-9]*) [ "$1" -lt 2 ] || upgrade=yes ;;
esac

mkdir -p "$data"
chown root:root "$data"
chmod 0700 "$data"
[ ! -f "$envfile" ] || chmod 0600 "$envfile"

# envvalue NAME prints the last NAME=value of agent.env without quotes.
envvalue() {
  sed -n "s/^[[:space:]]*$1[[:space:]]*=[[:space:]]*//p" "$envfile" | tail -n 1 |
    sed -e 's/[[:space:]]*$//' -e 's/^"\(.*\)"$/\1/' -e "s/^'\(.*\)'\$/\1/"
}

collector=""
token=""
if [ -f "$envfile" ]; then
  collector=$(envvalue COLLECTOR)
  token=$(envvalue TOKEN)
fi

# Enrollment from agent.env, once: an agent with an identity keeps it. When
# this fails, the service (which reads agent.env too) retries at its start.
if [ ! -f "$data/identity.json" ]; then
  if [ -n "$collector" ] && [ -n "$token" ]; then
    to=""
    if command -v timeout >/dev/null 2>&1; then to="timeout 60"; fi
    if $to /usr/bin/sonevakt-agent enroll --collector "$collector" --token "$token" --data "$data"; then
      echo "sonevakt-agent: enrolled with $collector"
    else
      echo "sonevakt-agent: enrollment with $collector from $envfile failed (see above);" >&2
      echo "sonevakt-agent: the package is installed and the service retries it when it starts." >&2
    fi
  elif [ -n "$collector$token" ]; then
    echo "sonevakt-agent: $envfile sets only one of COLLECTOR and TOKEN; not enrolled" >&2
  fi
fi

if [ -d /run/systemd/system ] && command -v systemctl >/dev/null 2>&1; then
  systemctl daemon-reload || true
  if [ "$upgrade" = yes ]; then
    systemctl try-restart "$unit" || echo "sonevakt-agent: restart of $unit failed: journalctl -u $unit" >&2
  else
    systemctl enable "$unit" || true
    if [ -f "$data/identity.json" ] || { [ -n "$collector" ] && [ -n "$token" ]; }; then
      systemctl start "$unit" || echo "sonevakt-agent: start of $unit failed: journalctl -u $unit" >&2
    else
      echo "sonevakt-agent: not enrolled yet; the service starts after" >&2
      echo "  sonevakt-agent enroll --collector HOST:PORT --token TOKEN --data $data && systemctl start $unit" >&2
    fi
  fi
fi
exit 0
