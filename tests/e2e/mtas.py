# The MTAs of the end-to-end test (mta_e2e.py): Postfix from a private config_directory and
# sendmail unpacked from Debian's packages, each configured from the contrib/ snippets and
# run on loopback inside the test's temporary directory.
import json
import os
import pathlib
import re
import shutil
import subprocess
import sys

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1] / "support"))
from loopback import can_connect, free_port, stop_process, wait_until  # noqa: E402
from e2e_common import PASSWORD, check, run  # noqa: E402


# -- the MTAs ------------------------------------------------------------------------------------

def make_sasldb(d, group):
    """A sasldb with user alice, as a site makes one with saslpasswd2: in realm local.test (she
    logs in as alice@local.test) and in the MTA's host name, the default realm (as alice)."""
    db = d / "sasldb2"
    for realm in ("local.test", "mx.local.test"):
        r = subprocess.run(["saslpasswd2", "-f", str(db), "-c", "-p", "-u", realm, "alice"],
                           input=PASSWORD, text=True, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        check(r.returncode == 0, "saslpasswd2: " + r.stdout)
    shutil.chown(db, group=group)
    os.chmod(db, 0o640)
    return db


def sasl_conf(db):
    return f"pwcheck_method: auxprop\nauxprop_plugin: sasldb\nsasldb_path: {db}\nmech_list: PLAIN LOGIN\n"


class Postfix:
    name = "postfix"
    milter_down_reply = r"451 4\.7\.1 "  # milter_default_action = tempfail
    # With a milter configured, Postfix 3.7 keeps about 60 KB of a header field and cuts the
    # rest (measured: without milters it keeps header_size_limit, 100 KB); the milter sees
    # what is kept. None: a 200 KB header field is accepted.
    large_header_reply = None

    def __init__(self, world):
        self.w = world
        self.conf = world.dir / "postfix"
        # authmilter-report's ReportCommand: this instance's sendmail(1).
        self.report_command = f"/usr/sbin/sendmail -C {self.conf} -t -oi"

    def start(self):
        d, w = self.w.dir, self.w
        self.port, self.submission_port = free_port(), free_port()
        self.conf.mkdir()
        for sub in ("spool", "data"):
            (d / sub).mkdir()
        shutil.chown(d / "data", user="postfix", group="postfix")
        self.make_tls()
        self.make_sasl()
        contrib_main = (w.src / "contrib/postfix-main.cf").read_text()
        # Our shipped snippet, with the socket where this test's authmilter listens (no chroot here).
        contrib_main = contrib_main.replace("unix:/authmilter/authmilter.sock", f"unix:{d}/authmilter.sock")
        check(f"unix:{d}/authmilter.sock" in contrib_main, "contrib/postfix-main.cf no longer names the socket")
        (self.conf / "main.cf").write_text(f"""\
compatibility_level = 3.6
queue_directory = {d}/spool
data_directory = {d}/data
mail_owner = postfix
setgid_group = postdrop
inet_interfaces = 127.0.0.1
inet_protocols = ipv4
myhostname = mx.local.test
mydomain = local.test
myorigin = local.test
mydestination = local.test
mynetworks = 127.0.0.1/32
local_recipient_maps =
alias_maps =
alias_database =
smtpd_peername_lookup = no
smtputf8_enable = no
biff = no
# The milter is the only relay gate (smtpd_relay_restrictions = permit kills every smtpd).
smtpd_relay_restrictions = check_client_access static:OK, reject_unauth_destination
# Every recipient, local or remote, ends in the test's sink.
local_transport = sink
default_transport = sink
relay_transport = sink
virtual_transport = sink
maillog_file = {d}/postfix.log
maillog_file_prefixes = {d}
smtpd_tls_cert_file = {d}/tls.crt
smtpd_tls_key_file = {d}/tls.key
smtpd_tls_security_level = may
smtpd_sasl_type = cyrus
smtpd_sasl_path = smtpd
{contrib_main}
""")
        contrib_master = (w.src / "contrib/postfix-master.cf").read_text()
        entry = re.sub(r"^submission inet n\s+-\s+y\s+", f"127.0.0.1:{self.submission_port} inet n - n ",
                       contrib_master, flags=re.M)
        check(f"127.0.0.1:{self.submission_port}" in entry, "contrib/postfix-master.cf: no submission entry")
        (self.conf / "master.cf").write_text(f"""\
127.0.0.1:{self.port} inet n - n - - smtpd
{entry}
pickup    unix  n       -       n       60      1       pickup
cleanup   unix  n       -       n       -       0       cleanup
qmgr      unix  n       -       n       300     1       qmgr
tlsmgr    unix  -       -       n       1000?   1       tlsmgr
rewrite   unix  -       -       n       -       -       trivial-rewrite
bounce    unix  -       -       n       -       0       bounce
defer     unix  -       -       n       -       0       bounce
trace     unix  -       -       n       -       0       bounce
verify    unix  -       -       n       -       1       verify
flush     unix  n       -       n       1000?   0       flush
proxymap  unix  -       -       n       -       -       proxymap
showq     unix  n       -       n       -       -       showq
error     unix  -       -       n       -       -       error
retry     unix  -       -       n       -       -       error
discard   unix  -       -       n       -       -       discard
anvil     unix  -       -       n       -       1       anvil
scache    unix  -       -       n       -       1       scache
postlog   unix-dgram n  -       n       -       1       postlogd
sink      unix  -       n       n       -       -       pipe
  user=nobody argv=/bin/sh -c {{cat > "$$0"}} {d}/sink/${{queue_id}}.${{recipient}}
""")
        r = run(["postfix", "-c", str(self.conf), "start"])
        check(r.returncode == 0, "postfix start: " + r.stdout)
        wait_until("Postfix's smtpd", lambda: can_connect(("127.0.0.1", self.port)))
        wait_until("Postfix's submission smtpd", lambda: can_connect(("127.0.0.1", self.submission_port)))

    def make_tls(self):  # also used by Sendmail
        d = self.w.dir
        r = run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=mx.local.test",
                 "-keyout", str(d / "tls.key"), "-out", str(d / "tls.crt")])
        check(r.returncode == 0, "openssl req: " + r.stdout)

    def make_sasl(self):
        db = make_sasldb(self.w.dir, group="postfix")
        # Debian's smtpd reads its SASL configuration from $config_directory/sasl/smtpd.conf only.
        (self.conf / "sasl").mkdir()
        (self.conf / "sasl/smtpd.conf").write_text(sasl_conf(db))

    @property
    def milter_checked_submission_port(self):
        return self.submission_port

    def stop(self):
        if self.conf.exists():
            run(["postfix", "-c", str(self.conf), "stop"])

    def queue(self):
        r = run(["postqueue", "-c", str(self.conf), "-j"])
        return [json.loads(line) for line in r.stdout.splitlines() if line.startswith("{")]

    def held(self, queue_id):
        return any(q["queue_id"] == queue_id and q["queue_name"] == "hold" for q in self.queue())

    def queued_ids(self):
        return [q["queue_id"] for q in self.queue()]


class Sendmail:
    """sendmail from Debian's packages, unpacked (it conflicts with postfix), run in a private
    mount + UTS namespace: its own host name, /etc/hosts and nsswitch.conf (host lookups from
    files only: sendmail resolves its own name and its clients' before anything else, and
    would ask the machine's DNS), and its SASL configuration over /usr/lib/sasl2 (it wipes its
    environment, so SASL_CONF_PATH cannot point there)."""

    name = "sendmail"
    milter_down_reply = r"451 4\.3\.2 "  # F=T
    report_command = "/bin/false"  # reports are sent in the Postfix run only
    # sendmail refuses more than MaxHeadersLength (32 KB by default) of headers itself.
    large_header_reply = r"552 5\.6\.0 "
    debs = ("sendmail-bin", "sendmail-base", "sendmail-cf", "libwrap0")

    def __init__(self, world):
        self.w = world
        self.root = world.dir / "sendmail-root"
        self.proc = None

    def unpack(self):
        cache = pathlib.Path(os.environ.get("AUTHMILTER_SENDMAIL_DEBS", "/var/cache/authmilter-tests/sendmail"))
        for package in self.debs:
            found = sorted(cache.glob(f"{package}_*.deb"))
            check(found, f"{cache}/{package}_*.deb missing: contrib/install-deps downloads it")
            r = run(["dpkg-deb", "-x", str(found[-1]), str(self.root)])
            check(r.returncode == 0, "dpkg-deb: " + r.stdout)
        self.binary = self.root / "usr/libexec/sendmail/sendmail"
        # Without its setgid bit the dynamic loader honours LD_LIBRARY_PATH (libwrap0 is unpacked too).
        os.chmod(self.binary, 0o755)

    def command(self, *args):
        d = self.w.dir
        script = (f"hostname mx.local.test && mount --bind {d}/etc/hosts /etc/hosts && "
                  f"mount --bind {d}/etc/nsswitch.conf /etc/nsswitch.conf && "
                  f"mount --bind {d}/etc/resolv.conf /etc/resolv.conf && "
                  f"mount --bind {d}/sasl /usr/lib/sasl2 && "
                  f"LD_LIBRARY_PATH={self.root}/usr/lib/x86_64-linux-gnu exec {self.binary} -C {d}/sendmail.cf "
                  + " ".join(args))
        return ["unshare", "-m", "-u", "sh", "-c", script]

    def start(self):
        d, w = self.w.dir, self.w
        self.port, self.submission_port, self.msa_port = free_port(), free_port(), free_port()
        self.unpack()
        (d / "etc").mkdir()
        (d / "etc/hosts").write_text("127.0.0.1 mx.local.test mx localhost\n")
        (d / "etc/nsswitch.conf").write_text("passwd: files\ngroup: files\nhosts: files\n")
        (d / "etc/resolv.conf").write_text("nameserver 127.0.0.1\n")
        (d / "mqueue").mkdir(mode=0o700)
        (d / "local-host-names").write_text("local.test\nmx.local.test\n")
        sink = d / "sink.sh"
        sink.write_text(f'#!/bin/sh\ncat > "{d}/sink/sendmail.$$.$1"\n')
        os.chmod(sink, 0o755)
        Postfix.make_tls(self)
        self.make_sasl()
        contrib = (w.src / "contrib/sendmail.mc").read_text()
        contrib = contrib.replace("S=local:/run/authmilter/authmilter.sock", f"S=local:{d}/authmilter.sock")
        contrib = contrib.replace("Port=smtp,", f"Port={self.port}, Addr=127.0.0.1,")
        contrib = contrib.replace("Port=submission,", f"Port={self.submission_port}, Addr=127.0.0.1,")
        for needle in (f"S=local:{d}/", f"Port={self.port},", f"Port={self.submission_port},"):
            check(needle in contrib, f"contrib/sendmail.mc changed: {needle} not found")
        mc = f"""\
divert(0)dnl
VERSIONID(`authmilter e2e')dnl
OSTYPE(`linux')dnl
define(`confDOMAIN_NAME', `mx.local.test')dnl
define(`QUEUE_DIR', `{d}/mqueue')dnl
define(`confPID_FILE', `{d}/sendmail.pid')dnl
define(`STATUS_FILE', `{d}/statistics')dnl
undefine(`ALIAS_FILE')dnl
define(`confCW_FILE', `{d}/local-host-names')dnl
define(`confHOSTS_FILE', `{d}/etc/hosts')dnl
define(`confDONT_PROBE_INTERFACES', `True')dnl
define(`confBIND_OPTS', `-DNSRCH -DEFNAMES')dnl
define(`confTO_IDENT', `0s')dnl
define(`confDEF_USER_ID', `nobody:nogroup')dnl
define(`confSERVER_CERT', `{d}/tls.crt')dnl
define(`confSERVER_KEY', `{d}/tls.key')dnl
define(`confCACERT', `{d}/tls.crt')dnl
define(`confCACERT_PATH', `{d}')dnl
define(`confAUTH_MECHANISMS', `PLAIN LOGIN')dnl
TRUST_AUTH_MECH(`PLAIN LOGIN')dnl
define(`LOCAL_MAILER_PATH', `{d}/sink.sh')dnl
define(`LOCAL_MAILER_ARGS', `sink.sh $u')dnl
MODIFY_MAILER_FLAGS(`LOCAL', `-w')dnl
FEATURE(`no_default_msa')dnl
FEATURE(`nocanonify')dnl
FEATURE(`accept_unresolvable_domains')dnl
FEATURE(`accept_unqualified_senders')dnl
dnl authmilter is the relay gate under test: sendmail relays for anyone it lets through.
FEATURE(`promiscuous_relay')dnl
{contrib}
dnl An MSA that does not require AUTH itself (M=E): authmilter's own 530 is tested there.
DAEMON_OPTIONS(`Port={self.msa_port}, Addr=127.0.0.1, Name=MSA, M=E')dnl
MAILER(`local')dnl
MAILER(`smtp')dnl
LOCAL_RULE_0
R$* < @ $* > $*\t$#sink $@ $2 $: $1 < @ $2 > $3
MAILER_DEFINITIONS
Msink, P={d}/sink.sh, F=lsDFMqn, S=EnvFromSMTP/HdrFromSMTP, R=EnvToSMTP, T=DNS/RFC822/SMTP, A=sink.sh $u
"""
        (d / "sendmail.mc").write_text(mc)
        cf = self.root / "usr/share/sendmail/cf"
        r = subprocess.run(["m4", f"-D_CF_DIR_={cf}/", f"{cf}/m4/cf.m4", str(d / "sendmail.mc")],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, timeout=60)
        check(r.returncode == 0 and "ERROR" not in r.stderr, "m4: " + r.stderr[-2000:])
        (d / "sendmail.cf").write_text(r.stdout)
        self.proc = subprocess.Popen(self.command("-bD", "-q10s", "-O", "LogLevel=9"),
                                     stdout=open(d / "sendmail.out", "a"), stderr=subprocess.STDOUT)
        for port in (self.port, self.submission_port, self.msa_port):
            wait_until(f"sendmail on port {port}", lambda: self.proc.poll() is not None or can_connect(("127.0.0.1", port)))
            check(self.proc.poll() is None, "sendmail exited: " + (d / "sendmail.out").read_text())

    def make_sasl(self):
        db = make_sasldb(self.w.dir, group="root")
        (self.w.dir / "sasl").mkdir()
        (self.w.dir / "sasl/Sendmail.conf").write_text(sasl_conf(db))

    @property
    def milter_checked_submission_port(self):
        return self.msa_port

    def stop(self):
        if self.proc:
            stop_process(self.proc)

    def listing(self, *args):
        r = run(self.command("-bp", *args))
        return re.findall(r"^([0-9A-Za-z]{14})[*X-]?\s", r.stdout, flags=re.M)

    def held(self, queue_id):
        return queue_id in self.listing("-qQ")

    def queued_ids(self):
        return sorted(self.listing() + self.listing("-qQ"))
