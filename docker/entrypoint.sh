#!/bin/sh
# gateway | worker | serve | migrate | create-key [args] | any other command as given.
set -e
case "$1" in
  gateway) shift; exec node /app/dist/apps/gateway/src/main.js "$@" ;;
  worker) shift; exec node /app/dist/apps/worker/src/main.js "$@" ;;
  serve) shift; exec node /app/dist/apps/serve/src/main.js "$@" ;;
  migrate) shift; exec node /app/dist/apps/gateway/src/cli/migrate.js "$@" ;;
  create-key) shift; exec node /app/dist/apps/gateway/src/cli/create-key.js "$@" ;;
  *) exec "$@" ;;
esac
