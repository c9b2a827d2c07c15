#!/usr/bin/env bash
# Checks the packages scripts/package.sh built (.build/packages): their contents and control data with dpkg-deb,
# an unpack into a throwaway root, `crm-field demo` run from the unpacked files with no toolchain on the path,
# `crm-sync-server --version` and a settings file from the package, and the systemd units with
# `systemd-analyze verify` against that root. (Not yet in the test command: see issue 20's note.)
set -euo pipefail
cd "$(dirname "$0")/.."
out=.build/packages
field=$(ls -1t "$out"/crm-field_*_amd64.deb | head -1)
server=$(ls -1t "$out"/crm-sync-server_*_amd64.deb | head -1)
R=$(mktemp -d)
trap 'rm -rf "$R"' EXIT
fail() { echo "FAIL: $*"; exit 1; }
for deb in "$field" "$server"; do
    dpkg-deb --info "$deb" >"$R/info"
    grep -q "Depends: libc6" "$R/info" || fail "$deb declares no dependencies"
    dpkg-deb --contents "$deb" >"$R/contents"
    awk '{print $6}' "$R/contents" >"$R/paths"
    ! grep -q '^\./\(usr/local\|home\|root\|opt\)' "$R/paths" || fail "$deb installs outside Debian's places"
    dpkg-deb -x "$deb" "$R"
done
for path in usr/bin/crm-field usr/share/man/man1/crm-field.1.gz usr/share/man/man1/crm-field.document.get.1.gz \
    usr/share/bash-completion/completions/crm-field usr/share/zsh/vendor-completions/_crm-field \
    usr/share/fish/vendor_completions.d/crm-field.fish usr/share/doc/crm-field/copyright \
    usr/bin/crm-sync-server usr/share/man/man1/crm-sync-server.serve.1.gz etc/crm-sync/server.conf \
    lib/systemd/system/crm-sync-server.service lib/systemd/system/crm-sync-backup.timer usr/lib/crm-sync/backup; do
    [[ -e $R/$path ]] || fail "the packages lack /$path"
done
dpkg-deb --ctrl-tarfile "$server" | tar -t >"$R/control"
grep -q conffiles "$R/control" || fail "server.conf is not a conffile"
if ldd "$R/usr/bin/crm-field" | grep -q 'libswift\|libFoundation'; then fail "crm-field needs the Swift runtime"; fi
man -l "$R/usr/share/man/man1/crm-field.document.add.1.gz" 2>/dev/null | grep -q "document add" \
    || zcat "$R/usr/share/man/man1/crm-field.document.add.1.gz" | grep -q "document" || fail "no manual page for document add"
env -i HOME="$R/home" PATH=/usr/bin:/bin "$R/usr/bin/crm-field" demo >"$R/demo.out" 2>&1 || { cat "$R/demo.out"; fail "the demo failed"; }
grep -q "conflict" "$R/demo.out" || fail "the demo printed no conflict"
[[ $("$R/usr/bin/crm-sync-server" --version) == $("$R/usr/bin/crm-field" --version) ]] || fail "the versions differ"
sed -i "s|/var/lib/crm-sync|$R/var/lib/crm-sync|" "$R/etc/crm-sync/server.conf"
mkdir -p "$R/var/lib/crm-sync"
"$R/usr/bin/crm-sync-server" user add it-admin --role admin --config "$R/etc/crm-sync/server.conf" >/dev/null
[[ -f $R/var/lib/crm-sync/crm-sync.sqlite ]] || fail "the packaged settings file does not point at /var/lib/crm-sync"
# The units as installed, their commands pointed into the unpacked root (the host has none of them installed).
mkdir -p "$R/units"
for unit in crm-sync-server.service crm-sync-backup.service crm-sync-backup.timer; do
    sed "s|/usr/bin/crm-sync-server|$R/usr/bin/crm-sync-server|; s|/usr/lib/crm-sync/backup|$R/usr/lib/crm-sync/backup|" \
        "$R/lib/systemd/system/$unit" >"$R/units/$unit"
done
(cd "$R/units" && systemd-analyze verify --man=no crm-sync-server.service crm-sync-backup.service crm-sync-backup.timer) \
    2>"$R/verify" || { cat "$R/verify"; fail "systemd-analyze verify"; }
! grep -q . "$R/verify" || { cat "$R/verify"; fail "systemd-analyze warned"; }
echo "ok: $(basename "$field") ($(du -h "$field" | cut -f1)), $(basename "$server") ($(du -h "$server" | cut -f1)); demo ran from the unpacked files; units verified"
