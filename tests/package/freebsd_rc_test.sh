#!/bin/sh
# contrib/freebsd/authmilter.in, with %%PREFIX%% put in as a port would: valid sh (sh -n)
# and an rc.subr script with what rc(8) and service(8) need.
#   freebsd_rc_test.sh SOURCE_DIR
set -u
script=$(mktemp)
trap 'rm -f "$script"' EXIT
sed 's#%%PREFIX%%#/usr/local#g' "$1/contrib/freebsd/authmilter.in" > "$script"
failures=0
sh -n "$script" || { echo "FAIL: sh -n"; failures=1; }
for line in '^# PROVIDE: authmilter$' '^\. /etc/rc\.subr$' '^name="authmilter"$' '^rcvar="authmilter_enable"$' \
            '^load_rc_config "\$name"$' '^command="/usr/local/sbin/authmilter"$' '^command_args="-c \$\{authmilter_config\}"$' \
            '^pidfile=' '^required_files="\$\{authmilter_config\}"$' '^extra_commands="reload configtest"$' \
            '^start_precmd="authmilter_prestart"$' '^reload_precmd="authmilter_configtest"$' \
            'authmilter_config:=/usr/local/etc/authmilter/authmilter.conf' '"\$\{command\}" -n -c ' \
            '^[[:space:]]*install -d -o "\$\{authmilter_user\}"' '^run_rc_command "\$1"$'; do
  grep -qE -- "$line" "$script" || { echo "FAIL: no line matching $line"; failures=1; }
done
if grep -q '%%' "$script"; then
  echo "FAIL: a %%...%% placeholder is left"
  failures=1
fi
[ "$failures" = 0 ] && echo "ok: contrib/freebsd/authmilter.in"
[ "$failures" = 0 ]
