#!/usr/bin/env bash
# Make sure PostgreSQL answers on 127.0.0.1:5432 with trust auth and a `test` database.
# Starts the installed cluster when it is down; installs Debian's postgresql when it is missing.
set -euo pipefail

answers() { pg_isready -q -h 127.0.0.1 -p 5432 2>/dev/null; }

fresh=0
if ! command -v pg_ctlcluster >/dev/null 2>&1; then
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq postgresql >/dev/null
  fresh=1
fi
version=$(ls /etc/postgresql | sort -V | tail -n 1)
if [ "$fresh" = 1 ]; then
  hba=/etc/postgresql/$version/main/pg_hba.conf
  printf 'local all all trust\nhost all all 127.0.0.1/32 trust\nhost all all ::1/128 trust\n' > "$hba"
fi
answers || pg_ctlcluster --skip-systemctl-redirect "$version" main start
for _ in $(seq 1 30); do answers && break; sleep 1; done
answers
if [ "$fresh" = 1 ]; then
  [ "$fresh" = 1 ] && su postgres -c "psql -qc 'ALTER ROLE postgres PASSWORD NULL'" || true
  psql -h 127.0.0.1 -U postgres -d postgres -qtc "SELECT 1 FROM pg_database WHERE datname='test'" | grep -q 1 \
    || psql -h 127.0.0.1 -U postgres -d postgres -qc "CREATE DATABASE test"
fi
