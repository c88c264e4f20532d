#!/usr/bin/env bash
# Fetch the extra IMAP servers the integration tests start, into .cache/ (ignored by git):
#   Hoodiecrow 2.1 (npm hoodiecrow-imap), the Gmail stand-in;
#   Courier-IMAP 5.0 (and gamin's gam_server, which it uses to watch folders) from Debian's
#   packages, unpacked with dpkg -x (never installed: it conflicts with dovecot-imapd), run
#   by tests/courierfront.py.
# Idempotent; needs npm and apt-get (Debian 12). Tests skip, with the reason, what is missing.
set -euo pipefail
cd "$(dirname "$0")/.."
CACHE=.cache

if [ ! -f "$CACHE/hoodiecrow/node_modules/hoodiecrow-imap/package.json" ]; then
  mkdir -p "$CACHE/hoodiecrow"
  npm install --prefix "$CACHE/hoodiecrow" --no-audit --no-fund --silent hoodiecrow-imap@2.1.0
fi

if [ ! -x "$CACHE/courier/root/usr/bin/imapd" ] || [ ! -x "$CACHE/courier/root/usr/libexec/gam_server" ]; then
  mkdir -p "$CACHE/courier/debs"
  (cd "$CACHE/courier/debs" &&
   apt-get download -q courier-imap courier-base courier-authlib libcourier-unicode4 \
     libgamin0 gamin libidn12 libltdl7 2>&1 | grep -v '^W: Download is performed unsandboxed' || true)
  for deb in "$CACHE"/courier/debs/*.deb; do dpkg -x "$deb" "$CACHE/courier/root"; done
  test -x "$CACHE/courier/root/usr/bin/imapd" && test -x "$CACHE/courier/root/usr/libexec/gam_server"
fi
echo "setup-servers: hoodiecrow and courier ready in $CACHE/"
