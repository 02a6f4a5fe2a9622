#!/bin/sh
# The man pages in contrib/: every expected page exists; every page renders without a
# single warning from man(1) and from groff(1); and each program's page names every option
# its -h/--help text lists.
#   man_pages_test.sh SOURCE_DIR BUILD_DIR
set -u
src=$1
build=$2
failures=0
fail() {
  echo "FAIL: $*"
  failures=$((failures + 1))
}

for tool in man groff; do
  command -v "$tool" >/dev/null || fail "$tool is missing (contrib/install-deps --tests installs man-db and groff-base)"
done
[ "$failures" = 0 ] || exit 1

# Program, its page, and how it prints its usage.
pages="authmilter:authmilter.8:-h
authmilter-check:authmilter-check.1:--help
authmilter-dns:authmilter-dns.1:--help
authmilter-keygen:authmilter-keygen.8:--help
authmilter-report:authmilter-report.8:--help
authmilter-import:authmilter-import.8:-h"

[ -f "$src/contrib/authmilter.conf.5" ] || fail "contrib/authmilter.conf.5 is missing"
for entry in $pages; do
  page=$(echo "$entry" | cut -d: -f2)
  [ -f "$src/contrib/$page" ] || fail "contrib/$page is missing"
done

rendered=0
for page in "$src"/contrib/*.[1-8]; do
  [ -f "$page" ] || continue
  rendered=$((rendered + 1))
  warnings=$(MANWIDTH=80 LC_ALL=C man --warnings -l "$page" 2>&1 >/dev/null)
  [ -z "$warnings" ] || fail "man --warnings -l ${page#"$src"/}: $warnings"
  warnings=$(groff -man -ww -z "$page" 2>&1)
  [ -z "$warnings" ] || fail "groff -man -ww ${page#"$src"/}: $warnings"
done
[ "$rendered" -ge 7 ] || fail "only $rendered pages in contrib/ (expected at least 7)"

# Every option in a program's usage text must appear in its page (rendered as plain text,
# on lines long enough that nothing is hyphenated).
for entry in $pages; do
  program=$(echo "$entry" | cut -d: -f1)
  page=$src/contrib/$(echo "$entry" | cut -d: -f2)
  help=$(echo "$entry" | cut -d: -f3)
  [ -f "$page" ] || continue
  if [ ! -x "$build/$program" ]; then
    fail "$build/$program is not built"
    continue
  fi
  usage=$("$build/$program" "$help" 2>&1) || fail "$program $help exited non-zero"
  options=$(printf '%s\n' "$usage" | grep -oE '(^|[][[:space:](|])--?[A-Za-z][A-Za-z0-9-]*' | sed 's/^[^-]*//' | sort -u)
  [ -n "$options" ] || fail "$program $help lists no options"
  text=$(LC_ALL=C groff -man -Tascii -P-cbou -rLL=2000n "$page" 2>/dev/null)
  for option in $options; do
    printf '%s\n' "$text" | grep -qE -- "(^|[^A-Za-z0-9-])$option([^A-Za-z0-9-]|\$)" ||
      fail "${page#"$src"/} does not mention $option (from $program $help)"
  done
done

[ "$failures" = 0 ] && echo "ok: $rendered man pages render cleanly and document every option"
[ "$failures" = 0 ]
