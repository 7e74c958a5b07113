#!/usr/bin/env bash
# `make run`: migrate the embedded SQLite database, load the two demo sites once (DEMO and
# NORTH), give the demo users without a password one (printed once, on the first start), then
# serve the web app and print its URL.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=.venv/bin
HOST=${HOST:-127.0.0.1}
PORT=${PORT:-8000}
mkdir -p var

# The key that signs the wallet card's QR links: one for every worker, kept across restarts.
if [ -z "${TARLA_SECRET_KEY:-}" ] && [ -z "${TARLA_SECRET_KEY_FILE:-}" ]; then
  if [ ! -s var/secret.key ]; then
    (umask 077; $BIN/python -c 'import secrets; print(secrets.token_urlsafe(48))' > var/secret.key)
  fi
  export TARLA_SECRET_KEY_FILE="$PWD/var/secret.key"
fi

echo "== Database: ${TARLA_DATABASE_URL}"
$BIN/tarla db upgrade

# Two demo sites in two time zones. Sites are walls: each site's staff see and change
# their own site's patients only.
for site in "DEMO America/New_York" "NORTH America/Chicago"; do
  set -- $site
  if $BIN/tarla worklist --site "$1" --json >/dev/null 2>&1; then
    echo "== Demo site $1 is already loaded (delete var/ to start over)"
  else
    echo "== Loading the demo site $1 ($2)"
    $BIN/tarla demo-data --site "$1" --timezone "$2" --patients "${DEMO_PATIENTS:-21}"
  fi
done

# Passwords are printed only for the demo users this start gave one to (the first start);
# an existing password (the admin's included) is never reset. To set new ones on a demo
# database: .venv/bin/tarla demo-users
echo "== Demo users of both sites"
$BIN/tarla demo-users --only-new || echo "== No demo passwords set (see the reason above)"

echo
echo "== Tarla is starting: open http://${HOST}:${PORT}/ in a browser and sign in as a user above."
echo "   Stop with Ctrl-C. The command line is .venv/bin/tarla (try: .venv/bin/tarla demo)."
echo
exec $BIN/tarla serve --host "$HOST" --port "$PORT" --workers "${WORKERS:-2}"
