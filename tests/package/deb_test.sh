#!/bin/sh
# The Debian package end to end, on this machine (CI: root on a throwaway machine; it
# installs and purges the package authmilter, so never run it where authmilter is
# installed for real): cpack builds it; dpkg installs it; the installed conf passes
# `authmilter -n`; the daemon runs as the packaged user with its socket in /run/authmilter
# as the units and tmpfiles.d say; a purge leaves nothing behind — no file the package had,
# no directory, enable link, user or group it made. Cleans up on any exit.
#   deb_test.sh BUILD_DIR
set -u
build=$1
fail() {
  echo "FAIL: $*"
  exit 1
}
[ "$(id -u)" = 0 ] || fail "must run as root: it installs and purges a package"

work=$(mktemp -d)
daemon=
cleanup() {
  if [ -n "$daemon" ]; then kill -KILL "$daemon" 2>/dev/null; fi
  dpkg --purge authmilter >/dev/null 2>&1
  rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 1' INT TERM HUP

# A run that stopped half-way may have left the package (or its conffiles) behind.
if dpkg-query -W authmilter >/dev/null 2>&1; then
  dpkg --purge authmilter >/dev/null || fail "could not purge the authmilter left installed"
fi

# -- the package ---------------------------------------------------------------------------
(cd "$build" && cpack -G DEB -B "$work/cpack") >"$work/cpack.log" 2>&1 || { cat "$work/cpack.log"; fail "cpack -G DEB"; }
version=$("$build/authmilter" -V | cut -d' ' -f2)
deb=$work/cpack/authmilter_${version}_$(dpkg --print-architecture).deb
[ -f "$deb" ] || { ls "$work/cpack"; fail "no $(basename "$deb")"; }
echo "built $(basename "$deb") ($(stat -c %s "$deb") bytes)"

[ "$(dpkg-deb -f "$deb" Section)" = mail ] || fail "Section is not mail"
depends=$(dpkg-deb -f "$deb" Depends)
for dep in adduser libc6 libmilter1.0.1 libopendkim11 libldns3; do
  echo "$depends" | grep -qE "(^|, )$dep( |,|$)" || fail "Depends lacks $dep: $depends"
done
dpkg-deb --ctrl-tarfile "$deb" | tar -xf - -C "$work" ./conffiles ./postinst ./prerm ./postrm ||
  fail "control archive lacks conffiles or a maintainer script"
for conf in authmilter.conf local-domains trusted-networks ignore-hosts sender-logins; do
  grep -qx "/etc/authmilter/$conf" "$work/conffiles" || fail "/etc/authmilter/$conf is not a conffile"
done
for script in postinst prerm postrm; do
  [ -x "$work/$script" ] || fail "$script is not executable"
  sh -n "$work/$script" || fail "$script: sh -n"
done
dpkg-deb -c "$deb" | awk '{print $6}' >"$work/contents"
for path in ./usr/sbin/authmilter ./usr/bin/authmilter-check ./usr/bin/authmilter-dns ./usr/bin/authmilter-keygen \
            ./usr/bin/authmilter-report ./usr/bin/authmilter-import ./usr/share/man/man8/authmilter-import.8.gz \
            ./lib/systemd/system/authmilter.service ./lib/systemd/system/authmilter-report.service \
            ./lib/systemd/system/authmilter-report.timer ./usr/lib/tmpfiles.d/authmilter.conf \
            ./usr/share/man/man8/authmilter.8.gz ./usr/share/man/man5/authmilter.conf.5.gz ./usr/share/man/man1/authmilter-check.1.gz; do
  grep -qx "$path" "$work/contents" || fail "the package lacks $path"
done
if grep -E '^\./usr/share/man/.*[^z]$' "$work/contents" | grep -v '/$'; then fail "man pages not gzipped"; fi

# -- installed -----------------------------------------------------------------------------
dpkg -i "$deb" >"$work/dpkg.log" 2>&1 || { cat "$work/dpkg.log"; fail "dpkg -i"; }
dpkg -L authmilter >"$work/files" || fail "dpkg -L"
grep -q '^ExecStart=/usr/sbin/authmilter -f -c /etc/authmilter/authmilter.conf$' /lib/systemd/system/authmilter.service ||
  fail "the installed unit does not start /usr/sbin/authmilter"

entry=$(getent passwd authmilter) || fail "no user authmilter"
[ "$(echo "$entry" | cut -d: -f6)" = /var/lib/authmilter ] || fail "authmilter's home is not /var/lib/authmilter: $entry"
[ "$(echo "$entry" | cut -d: -f7)" = /usr/sbin/nologin ] || fail "authmilter's shell is not nologin: $entry"
[ "$(echo "$entry" | cut -d: -f3)" -lt 1000 ] || fail "authmilter is not a system user: $entry"
getent group authmilter >/dev/null || fail "no group authmilter"
[ "$(stat -c '%U:%G %a' /var/lib/authmilter)" = "authmilter:authmilter 750" ] ||
  fail "/var/lib/authmilter is $(stat -c '%U:%G %a' /var/lib/authmilter)"
[ "$(stat -c '%U:%G %a' /run/authmilter)" = "authmilter:authmilter 750" ] ||
  fail "/run/authmilter is $(stat -c '%U:%G %a' /run/authmilter 2>&1)"
[ -L /etc/systemd/system/multi-user.target.wants/authmilter.service ] || fail "authmilter.service is not enabled"

out=$(/usr/sbin/authmilter -n -c /etc/authmilter/authmilter.conf 2>&1) || fail "authmilter -n: $out"
echo "$out"
out=$(setpriv --reuid=authmilter --regid=authmilter --init-groups /usr/sbin/authmilter -n -c /etc/authmilter/authmilter.conf 2>&1) ||
  fail "authmilter -n as user authmilter: $out"

# The daemon as the unit runs it: user authmilter, the installed conf, the real socket.
setpriv --reuid=authmilter --regid=authmilter --init-groups \
  /usr/sbin/authmilter -f -c /etc/authmilter/authmilter.conf >"$work/daemon.log" 2>&1 &
daemon=$!
socket=/run/authmilter/authmilter.sock
tries=0
until [ -S "$socket" ] && python3 -c "import socket,sys; socket.socket(socket.AF_UNIX).connect(sys.argv[1])" "$socket" 2>/dev/null; do
  kill -0 "$daemon" 2>/dev/null || { cat "$work/daemon.log"; fail "the daemon exited"; }
  tries=$((tries + 1))
  [ "$tries" -le 100 ] || fail "no socket $socket after 10 s"
  sleep 0.1
done
[ "$(stat -c '%U:%G %A' "$socket")" = "authmilter:authmilter srwxrwx---" ] ||
  fail "socket is $(stat -c '%U:%G %A' "$socket"), not authmilter:authmilter srwxrwx---"
[ "$(ps -o user= -p "$daemon")" = authmilter ] || fail "the daemon does not run as authmilter"
# Outside the group nobody gets in (/run/authmilter is 0750).
if setpriv --reuid=nobody --regid=nogroup --clear-groups python3 -c \
     "import socket,sys; socket.socket(socket.AF_UNIX).connect(sys.argv[1])" "$socket" 2>/dev/null; then
  fail "user nobody could connect to $socket"
fi
kill -TERM "$daemon"
wait "$daemon"
status=$?
daemon=
[ "$status" = 0 ] || { cat "$work/daemon.log"; fail "the daemon exited $status after SIGTERM"; }

# -- purged --------------------------------------------------------------------------------
# What the admin and the daemon add must go too.
install -d -o authmilter -g authmilter /etc/authmilter/keys
echo key >/etc/authmilter/keys/2026.private
echo db >/var/lib/authmilter/reports.db
dpkg --purge authmilter >"$work/purge.log" 2>&1 || { cat "$work/purge.log"; fail "dpkg --purge"; }
! dpkg-query -W authmilter >/dev/null 2>&1 || fail "dpkg still knows authmilter after purge"
while read -r path; do
  if [ -d "$path" ]; then
    # A directory stays only when another package has it too.
    dpkg -S "$path" >/dev/null 2>&1 || fail "directory $path left behind"
  elif [ -e "$path" ] || [ -L "$path" ]; then
    fail "$path left behind"
  fi
done <"$work/files"
for path in /etc/authmilter /var/lib/authmilter /run/authmilter /etc/systemd/system/multi-user.target.wants/authmilter.service; do
  if [ -e "$path" ] || [ -L "$path" ]; then fail "$path left behind"; fi
done
if [ -n "$(find /var/lib/systemd/deb-systemd-helper-enabled /var/lib/dpkg/info -name '*authmilter*' 2>/dev/null)" ]; then
  fail "deb-systemd-helper or dpkg state for authmilter left behind"
fi
! getent passwd authmilter >/dev/null || fail "user authmilter left behind"
! getent group authmilter >/dev/null || fail "group authmilter left behind"
echo "ok: $(wc -l <"$work/files") paths installed, the daemon ran as authmilter, the purge left nothing"
