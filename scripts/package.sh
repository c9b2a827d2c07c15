#!/usr/bin/env bash
# Builds the Debian packages IT installs (issue 20): crm-field_VERSION_amd64.deb (the laptop's command, its manual
# pages and shell completions) and crm-sync-server_VERSION_amd64.deb (the server, a crm-sync system user, the
# settings file /etc/crm-sync/server.conf, /var/lib/crm-sync for its data, a hardened systemd unit and a daily
# backup timer keeping the last 14). Output: .build/packages/. The manual pages come from the ArgumentParser
# definitions (swift package generate-manual), so they never drift from --help.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
out=$root/.build/packages
stage=$out/stage
rm -rf "$stage"; mkdir -p "$stage" "$out"

swift package generate-manual --multi-page >/dev/null
manuals=$root/.build/plugins/GenerateManual/outputs
# After the manuals (whose build links dynamically): the binaries with the Swift runtime linked in.
swift build -c release --static-swift-stdlib --product crm-field >/dev/null
swift build -c release --static-swift-stdlib --product crm-sync-server >/dev/null
version=$(.build/release/crm-field --version)
[[ $(.build/release/crm-sync-server --version) == "$version" ]] || { echo "the two versions differ" >&2; exit 1; }

depends="libc6 (>= 2.36), libgcc-s1, libstdc++6, libsqlite3-0, zlib1g"
common() {  # NAME: the documentation every package carries
    local dir=$1 name=$2
    install -d "$dir/usr/share/doc/$name"
    printf 'crm-field sync engine, version %s\n\nCopyright the crm-field team. All rights reserved.\n' "$version" \
        >"$dir/usr/share/doc/$name/copyright"
    printf '%s (%s) stable; urgency=medium\n\n  * Release %s.\n\n -- crm-field team <it@crm-field.example>  %s\n' \
        "$name" "$version" "$version" "$(date -R -u -d @"${SOURCE_DATE_EPOCH:-$(git log -1 --format=%ct)}")" \
        | gzip -9n >"$dir/usr/share/doc/$name/changelog.Debian.gz"
    install -d "$dir/usr/share/man/man1"
    for page in "$manuals/$name"/*.1; do gzip -9n <"$page" >"$dir/usr/share/man/man1/$(basename "$page").gz"; done
}
control() {  # DIR NAME DESCRIPTION…
    local dir=$1 name=$2; shift 2
    install -d "$dir/DEBIAN"
    cat >"$dir/DEBIAN/control" <<CONTROL
Package: $name
Version: $version
Architecture: amd64
Maintainer: crm-field team <it@crm-field.example>
Installed-Size: $(du -sk --exclude=DEBIAN "$dir" | cut -f1)
Depends: $depends
Section: misc
Priority: optional
Homepage: https://crm-field.example
Description: $1
$(shift; printf ' %s\n' "$@")
CONTROL
}

# crm-field
f=$stage/crm-field
install -D -m 0755 .build/release/crm-field "$f/usr/bin/crm-field"
strip --strip-unneeded "$f/usr/bin/crm-field"
common "$f" crm-field
install -d "$f/usr/share/bash-completion/completions" "$f/usr/share/zsh/vendor-completions" \
    "$f/usr/share/fish/vendor_completions.d"
"$f/usr/bin/crm-field" --generate-completion-script=bash >"$f/usr/share/bash-completion/completions/crm-field"
"$f/usr/bin/crm-field" --generate-completion-script=zsh >"$f/usr/share/zsh/vendor-completions/_crm-field"
"$f/usr/bin/crm-field" --generate-completion-script=fish >"$f/usr/share/fish/vendor_completions.d/crm-field.fish"
control "$f" crm-field "offline-first CRM for field sales reps" \
    "Customers, contacts, interactions, tasks, appointments, deals, documents and stock in a" \
    "local SQLite replica that works offline and syncs with the company's crm-sync-server." \
    "Try it with: crm-field demo"

# crm-sync-server
s=$stage/crm-sync-server
install -D -m 0755 .build/release/crm-sync-server "$s/usr/bin/crm-sync-server"
strip --strip-unneeded "$s/usr/bin/crm-sync-server"
common "$s" crm-sync-server
p=packaging/crm-sync-server
install -D -m 0640 "$p/server.conf" "$s/etc/crm-sync/server.conf"
install -D -m 0644 "$p/crm-sync-server.service" "$s/lib/systemd/system/crm-sync-server.service"
install -D -m 0644 "$p/crm-sync-backup.service" "$s/lib/systemd/system/crm-sync-backup.service"
install -D -m 0644 "$p/crm-sync-backup.timer" "$s/lib/systemd/system/crm-sync-backup.timer"
install -D -m 0755 "$p/backup" "$s/usr/lib/crm-sync/backup"
control "$s" crm-sync-server "sync server for crm-field laptops" \
    "The central HTTP sync server of crm-field: users, territories, imports from" \
    "accounting, conflict rules per entity, backups, audit and a status page;" \
    "SQLite by default, PostgreSQL for several servers."
echo "/etc/crm-sync/server.conf" >"$s/DEBIAN/conffiles"
install -m 0755 "$p/preinst" "$p/postinst" "$p/prerm" "$p/postrm" "$s/DEBIAN/"

for name in crm-field crm-sync-server; do
    dpkg-deb --root-owner-group --build "$stage/$name" "$out/${name}_${version}_amd64.deb" >/dev/null
    echo "$out/${name}_${version}_amd64.deb ($(du -h "$out/${name}_${version}_amd64.deb" | cut -f1))"
done
