#!/bin/sh
# `npm run drill` and `npm test` start here: the set-up (scripts/setup.mjs) installs whatever is
# missing, then this shell *replaces itself* (exec) with the command, run with Node 24 first on
# the PATH. No process stands in between, so the command gets SIGINT/SIGTERM exactly once (a
# second SIGINT makes the drill quit without cleaning up) and its exit code is the script's.
#
#   sh scripts/with-setup.sh drill|test -- <command> [args...]
set -u
usage='usage: sh scripts/with-setup.sh drill|test -- <command> [args...]'
[ $# -ge 3 ] && [ "$2" = "--" ] || { echo "setup: $usage" >&2; exit 2; }
purpose=$1
shift 2
command -v node >/dev/null 2>&1 || {
  echo "setup: node not found on the PATH: install Node.js (any version from 18 on; the set-up then puts Node 24 into .tools/)" >&2
  exit 2
}
node_dir=$(node "$(dirname "$0")/setup.mjs" --for "$purpose") || exit $?
PATH="$node_dir:$PATH"
export PATH
exec "$@"
