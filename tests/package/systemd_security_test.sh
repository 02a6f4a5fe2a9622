#!/bin/sh
# The systemd units as `cmake --install` writes them: installed into a temporary DESTDIR
# with prefix /usr (as the Debian package has them) and /usr/local (the default), each
# names its own programs, and `systemd-analyze security --offline=yes` rates each service
# OK or better (an overall exposure level below 5.0: OK, SAFE or PERFECT).
#   systemd_security_test.sh BUILD_DIR
set -u
build=$1
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
failures=0
fail() {
  echo "FAIL: $*"
  failures=$((failures + 1))
}

command -v systemd-analyze >/dev/null || { echo "FAIL: systemd-analyze is missing (contrib/install-deps --tests installs systemd)"; exit 1; }

for prefix in /usr /usr/local; do
  root=$work/root$(echo "$prefix" | tr / _)
  if ! DESTDIR=$root cmake --install "$build" --prefix "$prefix" >"$work/install.log" 2>&1; then
    cat "$work/install.log"
    fail "cmake --install --prefix $prefix failed"
    continue
  fi
  if [ "$prefix" = /usr ]; then unitdir=$root/lib/systemd/system; else unitdir=$root$prefix/lib/systemd/system; fi
  for unit in authmilter.service authmilter-report.service authmilter-report.timer; do
    [ -f "$unitdir/$unit" ] || fail "$prefix: no $unit in ${unitdir#"$root"}"
  done
  [ -f "$root$prefix/lib/tmpfiles.d/authmilter.conf" ] || fail "$prefix: no lib/tmpfiles.d/authmilter.conf"
  grep -qx "ExecStart=$prefix/sbin/authmilter -f -c /etc/authmilter/authmilter.conf" "$unitdir/authmilter.service" ||
    fail "$prefix: authmilter.service does not start $prefix/sbin/authmilter"
  grep -qx "ExecStart=$prefix/bin/authmilter-report -c /etc/authmilter/authmilter.conf" "$unitdir/authmilter-report.service" ||
    fail "$prefix: authmilter-report.service does not run $prefix/bin/authmilter-report"
  if grep -qE '@[A-Z_]+@' "$unitdir/authmilter.service" "$unitdir/authmilter-report.service"; then
    fail "$prefix: a @placeholder@ is left in a unit"
  fi
done

# The package's units (prefix /usr), rated.
unitdir=$work/root_usr/lib/systemd/system
for unit in authmilter.service authmilter-report.service; do
  [ -f "$unitdir/$unit" ] || continue
  out=$(systemd-analyze security --offline=yes "$unitdir/$unit" 2>&1)
  line=$(printf '%s\n' "$out" | grep 'Overall exposure level for')
  if [ -z "$line" ]; then
    printf '%s\n' "$out"
    fail "$unit: no overall exposure level from systemd-analyze"
    continue
  fi
  echo "$line"
  level=$(printf '%s\n' "$line" | sed -E 's/.*: ([0-9]+\.[0-9]) ([A-Z]+).*/\1 \2/')
  score=${level% *}
  word=${level#* }
  case "$word" in OK | SAFE | PERFECT) ;; *) fail "$unit is rated $word ($score), not OK or better" ;; esac
  awk -v s="$score" 'BEGIN { exit !(s + 0 < 5.0) }' || fail "$unit: exposure $score is not below 5.0"
  # Each service keeps its directories (the socket's and the report store's).
  grep -q '^StateDirectory=authmilter$' "$unitdir/$unit" || fail "$unit: no StateDirectory"
done
if [ -f "$unitdir/authmilter.service" ]; then
  grep -q '^RuntimeDirectory=authmilter$' "$unitdir/authmilter.service" || fail "authmilter.service: no RuntimeDirectory"
fi

[ "$failures" = 0 ] && echo "ok: units installed with their prefix's paths and rated OK or better"
[ "$failures" = 0 ]
