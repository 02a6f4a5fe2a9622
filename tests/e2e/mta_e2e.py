#!/usr/bin/python3
# End to end: authmilter behind a real MTA (Postfix, or sendmail), driven by swaks the way
# SMTP clients are, everything on loopback inside one temporary directory.
#
#   mta_e2e.py --mta postfix|sendmail --source SRC --build BUILD [--keep] [--only NAME]
#
# Starts the test DNS server (build/tests/authmilter-testdns) with the zone below, authmilter
# with a test configuration, and the MTA with a private configuration built from the snippets
# we ship in contrib/ (so the documentation is what is tested); runs every scenario; stops
# everything. Clients use distinct loopback addresses (127.0.0.10 outside, 127.0.0.20 in
# IgnoreHosts, 127.0.0.30 a submission user), so nothing is trusted by being local.
# Mail is never delivered anywhere: every recipient, local or remote, ends in a sink
# directory the scenarios read. Prints one line per scenario and "N passed, N failed";
# exits 1 if any failed. A scenario (or a set-up step) that cannot run is a failure, never a skip.
import argparse
import os
import pathlib
import re
import shutil
import signal
import smtplib
import subprocess
import sys
import tempfile
import time
import traceback
import uuid

import dkim

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1] / "support"))
from loopback import Timeout, can_connect, stop_process, wait_until  # noqa: E402
sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
from e2e_common import PASSWORD, Failure, check, run  # noqa: E402
from mtas import Postfix, Sendmail  # noqa: E402

OUTSIDE = "127.0.0.10"    # an ordinary client on the internet
IGNORED = "127.0.0.20"    # in IgnoreHosts
SUBMITTER = "127.0.0.30"  # our own user's client (authenticates on submission)
TIMEOUT = 30.0            # seconds any one thing may take before the scenario fails


class Swaks:
    """One SMTP transaction by swaks; the transcript and the server's replies."""

    def __init__(self, cmd):
        self.result = run(cmd)
        self.transcript = self.result.stdout
        # swaks marks server lines "<-" (and "<~" under TLS), failures "<**" / "<~*".
        self.replies = [line.split(None, 1)[1] if len(line.split(None, 1)) > 1 else ""
                        for line in self.transcript.splitlines() if re.match(r"^<[-~*]+ ", line)]

    def has_reply(self, pattern):
        return any(re.match(pattern, r) for r in self.replies)

    def queue_id(self):
        for r in self.replies:
            m = re.match(r"250 .*(?:queued as |2\.0\.0 )(\w+)", r)
            if m:
                return m.group(1)
        return None


def message(mid, sender, to, subject="test", extra="", body="Hello.\n"):
    return (f"From: {sender}\nTo: {to}\nSubject: {subject}\nDate: Fri, 04 Dec 2026 10:00:00 +0000\n"
            f"Message-ID: <{mid}>\nMIME-Version: 1.0\nContent-Type: text/plain; charset=us-ascii\n{extra}\n{body}")


class World:
    def __init__(self, args):
        self.args = args
        self.src = pathlib.Path(args.source).resolve()
        self.build = pathlib.Path(args.build).resolve()
        # Not under /tmp: sendmail refuses a milter socket below a world-writable directory.
        base = pathlib.Path("/run/authmilter-e2e")
        base.mkdir(mode=0o755, exist_ok=True)
        self.dir = pathlib.Path(tempfile.mkdtemp(prefix=f"{args.mta}-", dir=base))
        os.chmod(self.dir, 0o755)  # the MTA's own users must reach the sink and the socket
        self.procs = {}
        self.mta = Postfix(self) if args.mta == "postfix" else Sendmail(self)

    # -- DNS ---------------------------------------------------------------------------------
    def zone(self):
        fixtures = self.src / "tests/data/dkim"
        keys = (fixtures / "keys.zone").read_text()
        ours = [line.replace("._domainkey.example.com.", "._domainkey.local.test.")
                for line in keys.splitlines() if re.match(r"^(rsa2048|ed25519)\._domainkey\.example\.com\.", line)]
        return "\n".join([
            keys,
            *ours,
            # our own domain: mail from it must be signed (p=reject)
            'local.test. IN TXT "v=spf1 ip4:127.0.0.30 -all"',
            '_dmarc.local.test. IN TXT "v=DMARC1; p=reject"',
            # outside senders
            'client.remote.test. IN A 127.0.0.10',
            'client.remote.test. IN TXT "v=spf1 a -all"',
            'example.com. IN TXT "v=spf1 ip4:127.0.0.10 -all"',
            '_dmarc.example.com. IN TXT "v=DMARC1; p=reject; rua=mailto:dmarc-rua@local.test"',
            # aggregate reports: local.test takes them for reject.test and example.com (RFC 9990
            # external destination verification); nobody verifies unverified.test
            'example.com._report._dmarc.local.test. IN TXT "v=DMARC1"',
            'reject.test._report._dmarc.local.test. IN TXT "v=DMARC1"',
            'spffail.test. IN TXT "v=spf1 ip4:192.0.2.1 -all"',
            'reject.test. IN TXT "v=spf1 ip4:192.0.2.1 -all"',
            '_dmarc.reject.test. IN TXT "v=DMARC1; p=reject; rua=mailto:dmarc-rua@local.test!10m; '
            'ruf=mailto:dmarc-ruf@local.test"',
            'quarantine.test. IN TXT "v=spf1 ip4:192.0.2.1 -all"',
            '_dmarc.quarantine.test. IN TXT "v=DMARC1; p=quarantine; rua=mailto:agg@unverified.test"',
            'remote.test. IN TXT "v=spf1 -all"',
            # a DKIM key that never comes: authmilter waits at end of message (mid-message kill)
            '!drop stuck._domainkey.remote.test TXT',
        ]) + "\n"

    def start_dns(self):
        zone = self.dir / "test.zone"
        zone.write_text(self.zone())
        self.zone_file = zone
        p = subprocess.Popen([str(self.build / "tests/authmilter-testdns"), str(zone)],
                             stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        self.procs["dns"] = p
        line = p.stdout.readline()
        m = re.search(r"listening on port (\d+)", line)
        check(m, "test DNS server did not start: " + line)
        self.dns_port = int(m.group(1))

    # -- authmilter ----------------------------------------------------------------------------
    def write_authmilter_conf(self):
        d = self.dir
        for name, fixture in (("rsa.key", "rsa2048.pem"), ("ed.key", "ed25519.pem")):
            shutil.copy(self.src / "tests/data/dkim" / fixture, d / name)
            os.chmod(d / name, 0o600)
        (d / "local-domains").write_text("local.test\n")
        (d / "ignore-hosts").write_text(IGNORED + "\n")
        # The default trusts all of 127.0.0.0/8; the test clients are outsiders on it.
        (d / "trusted-networks").write_text("127.0.0.1\n::1\n")
        # Both MTAs pass {auth_authen} as the client typed the login: with or without the realm.
        (d / "sender-logins").write_text("alice@local.test alice@local.test\nalice alice@local.test\n")
        (d / "keytable").write_text(f"local local.test:rsa2048:{d}/rsa.key\nlocal local.test:ed25519:{d}/ed.key\n")
        (d / "signingtable").write_text("local.test local\n")
        (d / "arc-sealers").write_text("local.test\n")  # our own list host, as a receiver trusts it
        (d / "authmilter.conf").write_text(f"""\
Socket unix:{d}/authmilter.sock
UMask 000
PidFile {d}/authmilter.pid
Syslog no
LogFile {d}/authmilter.log
AuthservID mx.local.test
LocalDomains local-domains
TrustedNetworks trusted-networks
IgnoreHosts ignore-hosts
SubmissionDaemons MSA, ORIGINATING
SenderLoginMap sender-logins
Nameservers 127.0.0.1:{self.dns_port}
DNSTimeout 2s
KeyTable keytable
SigningTable signingtable
ReportStore sqlite:{d}/reports.db
ReportEmail dmarc-reports@local.test
ReportOrgName Local Test Mail
ReportCommand {self.mta.report_command}
FailureReports yes
FailureReportRate 100,1000
ARCSealing outbound
ARCSealKey local.test:rsa2048:{d}/rsa.key
ARCTrustedSealers arc-sealers
MilterEngine {self.args.engine}
""")

    def start_authmilter(self):
        sock = str(self.dir / "authmilter.sock")
        p = subprocess.Popen([str(self.build / "authmilter"), "-f", "-c", str(self.dir / "authmilter.conf")],
                             stdout=open(self.dir / "authmilter.out", "a"), stderr=subprocess.STDOUT)
        self.procs["authmilter"] = p
        wait_until("authmilter's socket", lambda: p.poll() is not None or can_connect(sock))
        check(p.poll() is None, "authmilter exited: " + (self.dir / "authmilter.out").read_text())

    def stop_authmilter(self, how):
        p = self.procs.pop("authmilter")
        p.send_signal(how)
        p.wait(timeout=TIMEOUT)

    def log_lines(self, needle):
        path = self.dir / "authmilter.log"
        text = path.read_text() if path.exists() else ""
        return [line for line in text.splitlines() if needle in line]

    # -- running -------------------------------------------------------------------------------
    def start(self):
        self.sink = self.dir / "sink"
        self.sink.mkdir()
        os.chmod(self.sink, 0o1777)
        self.start_dns()
        self.write_authmilter_conf()
        self.start_authmilter()
        self.mta.start()

    def stop(self):
        try:
            self.mta.stop()
        finally:
            for p in self.procs.values():
                stop_process(p)
            if not self.args.keep:
                shutil.rmtree(self.dir, ignore_errors=True)

    def swaks(self, *, port, client=OUTSIDE, helo="client.remote.test", sender, to, data, auth=None, tls=False,
              login="alice@local.test"):
        path = self.dir / f"msg-{uuid.uuid4().hex}.eml"
        path.write_text(data, encoding="utf-8")
        cmd = ["swaks", "--server", f"127.0.0.1:{port}", "--local-interface", client, "--helo", helo,
               "--from", sender, "--to", to, "--data", str(path), "--timeout", str(int(TIMEOUT))]
        if tls:
            cmd += ["--tls"]
        if auth:
            cmd += ["--auth", auth, "--auth-user", login, "--auth-password", PASSWORD]
        return Swaks(cmd)

    def delivered(self, mid):
        """The delivered copy (headers and body, CRLF) of the message with Message-ID <mid>."""
        def find():
            for f in sorted(self.sink.iterdir()):
                text = f.read_bytes()
                if f"<{mid}>".encode() in text:
                    return text
            return None
        raw = wait_until(f"delivery of <{mid}>", find)
        return re.sub(rb"\r?\n", b"\r\n", raw)

    def not_delivered(self, mid):
        return not any(f"<{mid}>".encode() in f.read_bytes() for f in self.sink.iterdir())


def header_values(raw, name):
    msg = raw.split(b"\r\n\r\n", 1)[0].decode("utf-8", "replace")
    unfolded = re.sub(r"\r\n[ \t]", " ", msg)
    return [line.split(":", 1)[1].strip() for line in unfolded.split("\r\n")
            if line.lower().startswith(name.lower() + ":")]


def our_ar(raw):
    values = [v for v in header_values(raw, "Authentication-Results") if v.startswith("mx.local.test;")]
    check(len(values) == 1, f"expected one Authentication-Results of ours, got {values}")
    return values[0]


def dkim_verdicts(world, raw):
    path = world.dir / f"verify-{uuid.uuid4().hex}.eml"
    path.write_bytes(raw)
    r = run(["/usr/bin/python3", str(world.src / "tests/support/dkimpy_verify.py"), str(path), str(world.zone_file)])
    check(r.returncode == 0, "dkimpy_verify.py: " + r.stdout)
    return r.stdout.splitlines()


def sign_as_example_com(world, text):
    key = (world.src / "tests/data/dkim/rsa2048.pem").read_bytes()
    data = re.sub(r"\r?\n", "\r\n", text).encode()
    sig = dkim.sign(data, b"rsa2048", b"example.com", key, include_headers=[b"from", b"to", b"subject", b"date"])
    return (sig + data).decode().replace("\r\n", "\n")


# -- the scenarios -------------------------------------------------------------------------------

SCENARIOS = []


def scenario(fn):
    SCENARIOS.append(fn)
    return fn


def postfix_only(fn):
    """A scenario run with Postfix only (it is not run, nor counted, with sendmail)."""
    fn.only = "postfix"
    return fn


def new_id(tag):
    return f"{tag}.{uuid.uuid4().hex[:12]}@e2e.test"


def refused_from_outside(w, tag, *, sender, to, author, reply, when):
    """Sends from an outside client and checks the refusal: the reply, nothing queued, nothing delivered."""
    mid = new_id(tag)
    before = w.mta.queued_ids()
    s = w.swaks(port=w.mta.port, sender=sender, to=to, data=message(mid, author, to))
    check(s.has_reply(reply), f"expected {reply} {when}:\n" + s.transcript)
    check(w.mta.queued_ids() == before, "something was queued")
    check(w.not_delivered(mid), "the message was delivered")


@scenario
def unauthenticated_relay_is_refused(w):
    refused_from_outside(w, "relay", sender="someone@remote.test", to="victim@elsewhere.test",
                         author="someone@remote.test", reply=r"550 5\.7\.1 ", when="at RCPT")
    check(any("relay denied for <victim@elsewhere.test>" in l for l in w.log_lines("action=reject")),
          "authmilter did not log the refusal")


@scenario
def authenticated_submission_relays_signed(w):
    for mech, login in (("PLAIN", "alice@local.test"), ("LOGIN", "alice")):
        mid = new_id("submit-" + mech.lower())
        s = w.swaks(port=w.mta.submission_port, client=SUBMITTER, helo="laptop.local.test", sender="alice@local.test",
                    to="bob@remote.test", data=message(mid, "Alice <alice@local.test>", "bob@remote.test"),
                    auth=mech, tls=True, login=login)
        check(s.result.returncode == 0, f"AUTH {mech} submission failed:\n" + s.transcript)
        raw = w.delivered(mid)
        ar = our_ar(raw)
        check("auth=pass" in ar, "A-R without auth=pass: " + ar)
        check("dmarc=" not in ar or "dmarc=fail" not in ar, ar)
        verdicts = dkim_verdicts(w, raw)
        check(verdicts == ["pass d=local.test s=rsa2048 a=rsa-sha256", "pass d=local.test s=ed25519 a=ed25519-sha256"],
              f"signatures: {verdicts}\n{raw.decode()}")
        qid = s.queue_id()
        lines = w.log_lines(f"{qid}:") if qid else []
        check(any("dkim_sign=" in l and "s=ed25519" in l and f"auth={login} " in l for l in lines),
              f"log line for {qid} does not name the signatures and the login: {lines}")


@scenario
def unauthenticated_submission_is_refused(w):
    # authmilter's own check, on a submission listener whose MTA does not demand AUTH itself.
    mid = new_id("noauth")
    s = w.swaks(port=w.mta.milter_checked_submission_port, client=SUBMITTER, helo="laptop.local.test",
                sender="alice@local.test", to="bob@remote.test",
                data=message(mid, "alice@local.test", "bob@remote.test"), tls=True)
    check(s.has_reply(r"530 5\.7\.0 "), "expected 530 5.7.0 at MAIL:\n" + s.transcript)
    check(w.not_delivered(mid), "the message was delivered")
    check(any("unauthenticated submission on" in l and "action=reject" in l for l in w.log_lines("from=<alice@local.test>")),
          "authmilter did not log the refusal")
    # The shipped submission listener (sendmail's M=Ea refuses before the milter sees MAIL).
    s = w.swaks(port=w.mta.submission_port, client=SUBMITTER, helo="laptop.local.test", sender="alice@local.test",
                to="bob@remote.test", data=message(mid, "alice@local.test", "bob@remote.test"), tls=True)
    check(s.has_reply(r"530 5\.7\.0 "), "expected 530 5.7.0 at MAIL:\n" + s.transcript)
    check(w.not_delivered(mid), "the message was delivered")


@scenario
def inbound_mail_for_a_local_user_is_delivered_with_results(w):
    mid = new_id("inbound")
    s = w.swaks(port=w.mta.port, sender="someone@remote.test", to="bob@local.test",
                data=message(mid, "someone@remote.test", "bob@local.test"))
    check(s.result.returncode == 0, "inbound mail refused:\n" + s.transcript)
    raw = w.delivered(mid)
    ar = our_ar(raw)
    check("spf=fail" in ar and "smtp.mailfrom=someone@remote.test" in ar, "A-R: " + ar)
    check(not header_values(raw, "DKIM-Signature"), "inbound mail was signed")


@scenario
def spf_and_dkim_results_reach_the_header(w):
    # SPF pass + DKIM pass (signed by dkimpy) from an outside client.
    mid = new_id("dkim-pass")
    good = sign_as_example_com(w, message(mid, "news@example.com", "bob@local.test"))
    s = w.swaks(port=w.mta.port, sender="news@example.com", to="bob@local.test", data=good)
    check(s.result.returncode == 0, s.transcript)
    ar = our_ar(w.delivered(mid))
    for part in ("spf=pass", "dkim=pass header.d=example.com", "dmarc=pass"):
        check(part in ar, f"{part} missing: {ar}")
    # The same, its body changed after signing: DKIM fails, DMARC still passes through SPF.
    mid = new_id("dkim-fail")
    bad = sign_as_example_com(w, message(mid, "news@example.com", "bob@local.test")).replace("Hello.", "Hellp.")
    s = w.swaks(port=w.mta.port, sender="news@example.com", to="bob@local.test", data=bad)
    check(s.result.returncode == 0, s.transcript)
    ar = our_ar(w.delivered(mid))
    check("dkim=fail" in ar and "dmarc=pass" in ar, "A-R: " + ar)
    # SPF fail (no DMARC record): recorded, not refused (SPFRejectFail no).
    mid = new_id("spf-fail")
    s = w.swaks(port=w.mta.port, sender="x@spffail.test", to="bob@local.test",
                data=message(mid, "x@spffail.test", "bob@local.test"))
    check(s.result.returncode == 0, s.transcript)
    ar = our_ar(w.delivered(mid))
    check("spf=fail" in ar and "smtp.mailfrom=x@spffail.test" in ar, "A-R: " + ar)


@scenario
def forged_authentication_results_are_removed(w):
    # RFC 8601 §5: every header claiming our authserv-id goes, however it is spelt; others stay.
    mid = new_id("forged-ar")
    forged = ("Authentication-Results: mx.local.test.; spf=pass smtp.mailfrom=ceo@reject.test\n"
              "Authentication-Results: mx.local.test\u00a0; dkim=pass header.d=reject.test\n"
              "Authentication-Results : MX.local.test; dmarc=pass header.from=reject.test\n"
              "Authentication-Results: mx.local.test.evil; spf=pass smtp.mailfrom=kept.test\n"
              "Authentication-Results: upstream.test; spf=pass smtp.mailfrom=kept.test\n")
    s = w.swaks(port=w.mta.port, sender="someone@remote.test", to="bob@local.test",
                data=forged + message(mid, "someone@remote.test", "bob@local.test"))
    check(s.result.returncode == 0, s.transcript)
    raw = w.delivered(mid)
    ar = our_ar(raw)  # exactly one starting with our id
    check(ar.startswith("mx.local.test;"), "A-R: " + ar)
    values = header_values(raw, "Authentication-Results")
    check(sorted(v for v in values if v != ar) == ["mx.local.test.evil; spf=pass smtp.mailfrom=kept.test",
                                                   "upstream.test; spf=pass smtp.mailfrom=kept.test"],
          f"Authentication-Results delivered: {values}")
    check(b"Authentication-Results :" not in raw, "the blank-before-colon forgery survived:\n" + raw.decode("utf-8", "replace"))
    qid = s.queue_id()
    check(any("removed_ar=3 removed_ar_lookalike=1" in l for l in w.log_lines(f"{qid}:")),
          f"log line does not count the removals: {w.log_lines(f'{qid}:')}")


@scenario
def large_header_goes_through(w):
    # A 200 KB header field (folded), more than libmilter's default 64 KB milter packet: the
    # message is delivered with its signature verified, or the MTA itself refuses it at once
    # (never a tempfail that the MTA retries until the message bounces).
    mid = new_id("large-header")
    big = "X-Big: " + "\n ".join(["a" * 76] * (200 * 1024 // 78)) + "\n"
    data = sign_as_example_com(w, message(mid, "news@example.com", "bob@local.test", extra=big))
    before = w.mta.queued_ids()
    s = w.swaks(port=w.mta.port, sender="news@example.com", to="bob@local.test", data=data)
    if w.mta.large_header_reply:
        check(s.has_reply(w.mta.large_header_reply), f"expected {w.mta.large_header_reply}:\n" + s.transcript[-3000:])
        check(w.mta.queued_ids() == before and w.not_delivered(mid), "the refused message went on")
        return
    check(s.result.returncode == 0, "a 200 KB header was refused:\n" + s.transcript[-3000:])
    raw = w.delivered(mid)
    check(len(raw) > 50 * 1024, f"delivered only {len(raw)} bytes")
    ar = our_ar(raw)
    check("dkim=pass header.d=example.com" in ar, "A-R: " + ar)
    qid = s.queue_id()
    check(any("action=accept" in l for l in w.log_lines(f"{qid}:")), "no accept log line")


@scenario
def dmarc_reject_is_refused(w):
    refused_from_outside(w, "forged", sender="ceo@reject.test", to="bob@local.test", author="CEO <ceo@reject.test>",
                         reply=r"550 5\.7\.1 ", when="after DATA")
    check(any("action=reject" in l for l in w.log_lines("reject.test")), "no reject log line")


@scenario
def dmarc_quarantine_is_held(w):
    mid = new_id("quarantine")
    s = w.swaks(port=w.mta.port, sender="billing@quarantine.test", to="bob@local.test",
                data=message(mid, "billing@quarantine.test", "bob@local.test"))
    check(s.result.returncode == 0, s.transcript)
    qid = s.queue_id()
    check(qid, "no queue id in:\n" + s.transcript)
    wait_until(f"{qid} in the quarantine", lambda: w.mta.held(qid))
    check(w.not_delivered(mid), "the quarantined message was delivered")


@scenario
def authenticated_user_may_send_as_a_reject_domain(w):
    mid = new_id("auth-reject-from")
    s = w.swaks(port=w.mta.submission_port, client=SUBMITTER, helo="laptop.local.test", sender="alice@local.test",
                to="bob@remote.test", data=message(mid, "ceo@reject.test", "bob@remote.test"), auth="PLAIN", tls=True)
    check(s.result.returncode == 0, s.transcript)
    raw = w.delivered(mid)
    ar = our_ar(raw)
    check("auth=pass" in ar and "dmarc=fail" not in ar, "A-R: " + ar)
    check(not header_values(raw, "DKIM-Signature"), "signed for a domain the table does not cover")


@scenario
def ignored_host_is_not_checked(w):
    mid = new_id("ignored")
    s = w.swaks(port=w.mta.port, client=IGNORED, sender="ceo@reject.test", to="bob@local.test",
                data=message(mid, "ceo@reject.test", "bob@local.test"))
    check(s.result.returncode == 0, "IgnoreHosts client refused:\n" + s.transcript)
    ar = our_ar(w.delivered(mid))
    check("dmarc=" not in ar and "spf=" not in ar, "checks ran for an IgnoreHosts client: " + ar)
    qid = s.queue_id()
    check(any("ignored=yes" in l for l in w.log_lines(f"{qid}:")), "log does not say ignored=yes")


@scenario
def sender_login_map_applies_to_the_login_the_mta_passes(w):
    # alice may send as alice@local.test only (SenderLoginMap), whatever form of the login
    # the MTA passes in {auth_authen}.
    mid = new_id("not-owned")
    for login in ("alice@local.test", "alice"):
        s = w.swaks(port=w.mta.submission_port, client=SUBMITTER, helo="laptop.local.test", sender="ceo@local.test",
                    to="bob@remote.test", data=message(mid, "ceo@local.test", "bob@remote.test"), auth="LOGIN",
                    tls=True, login=login)
        check(s.has_reply(r"553 5\.7\.1 "), "expected 553 5.7.1 at MAIL:\n" + s.transcript)
        check(w.not_delivered(mid), "the message was delivered")
        check(any(f"not owned by user {login}\"" in l for l in w.log_lines("from=<ceo@local.test>")),
              f"authmilter did not log the refusal with the login {login}")


@scenario
def milter_down_tempfails_and_loses_nothing(w):
    for how in (signal.SIGTERM, signal.SIGKILL):  # stopped, then killed
        mid = new_id(f"milter-down-{how.name.lower()}")
        data = message(mid, "someone@remote.test", "bob@local.test")
        w.stop_authmilter(how)
        try:
            before = w.mta.queued_ids()
            s = w.swaks(port=w.mta.port, sender="someone@remote.test", to="bob@local.test", data=data)
            check(s.has_reply(w.mta.milter_down_reply), f"expected {w.mta.milter_down_reply} at MAIL:\n" + s.transcript)
            # A submission fails too (AUTH or MAIL temp-fails): retried later, never relayed unsigned.
            sub = w.swaks(port=w.mta.submission_port, client=SUBMITTER, helo="laptop.local.test",
                          sender="alice@local.test", to="bob@remote.test",
                          data=message(new_id("down-submit"), "alice@local.test", "bob@remote.test"), auth="PLAIN",
                          tls=True)
            check(sub.result.returncode != 0 and sub.has_reply(r"4\d\d "), "expected a 4xx on submission:\n" + sub.transcript)
            check(w.mta.queued_ids() == before, "something was queued while authmilter was down")
            check(w.not_delivered(mid), "delivered unchecked while authmilter was down")
        finally:
            w.start_authmilter()
        s = w.swaks(port=w.mta.port, sender="someone@remote.test", to="bob@local.test", data=data)
        check(s.result.returncode == 0, "refused after the restart:\n" + s.transcript)
        our_ar(w.delivered(mid))


def udp_sockets_of(pid):
    """The inodes of the UDP sockets process `pid` has open (a DNS query in flight)."""
    inodes = set()
    for fd in pathlib.Path(f"/proc/{pid}/fd").iterdir():
        try:
            m = re.match(r"socket:\[(\d+)\]", os.readlink(fd))
        except OSError:
            continue
        if m:
            inodes.add(m.group(1))
    udp = set()
    for table in ("/proc/net/udp", "/proc/net/udp6"):
        for line in pathlib.Path(table).read_text().splitlines()[1:]:
            fields = line.split()
            if len(fields) > 9 and fields[9] in inodes:
                udp.add(fields[9])
    return udp


@scenario
def milter_killed_mid_message_tempfails_and_loses_nothing(w):
    # The message's DKIM key lookup never gets an answer, so authmilter is still working on the
    # end of message when it is killed: the MTA must tempfail that message (not accept it
    # unchecked), keep nothing, and take it once authmilter is back.
    mid = new_id("killed-mid-message")
    sig = ("DKIM-Signature: v=1; a=rsa-sha256; c=relaxed/relaxed; d=remote.test; s=stuck; h=from:subject;\n"
           " bh=47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=; b=dGhpcyBpcyBub3QgYSBzaWduYXR1cmU=\n")
    data = sig + message(mid, "someone@remote.test", "bob@local.test")
    before = w.mta.queued_ids()
    authmilter = w.procs["authmilter"]
    smtp = smtplib.SMTP("127.0.0.1", w.mta.port, source_address=(OUTSIDE, 0), timeout=TIMEOUT)
    try:
        smtp.ehlo("client.remote.test")
        check(smtp.mail("someone@remote.test")[0] == 250, "MAIL refused")
        check(smtp.rcpt("bob@local.test")[0] == 250, "RCPT refused")
        check(smtp.docmd("DATA")[0] == 354, "DATA refused")
        wire = data.replace("\n", "\r\n").replace("\r\n.", "\r\n..")
        smtp.send(wire.encode() + (b"" if wire.endswith("\r\n") else b"\r\n") + b".\r\n")
        wait_until("authmilter's DNS query at end of message", lambda: udp_sockets_of(authmilter.pid))
        w.stop_authmilter(signal.SIGKILL)
        code, text = smtp.getreply()
    finally:
        smtp.close()
        if "authmilter" not in w.procs:
            w.start_authmilter()
    check(400 <= code < 500, f"expected a 4xx for the message in progress, got {code} {text!r}")
    check(w.mta.queued_ids() == before, "something was queued while authmilter died")
    check(w.not_delivered(mid), "delivered unchecked while authmilter died")
    s = w.swaks(port=w.mta.port, sender="someone@remote.test", to="bob@local.test", data=data)
    check(s.result.returncode == 0, "refused after the restart:\n" + s.transcript)
    raw = w.delivered(mid)
    check(b"dkim=temperror" in raw, "expected dkim=temperror for the key that never comes:\n" + raw.decode())


def as_list_resends(raw, subject_tag="[list] "):
    """What a mailing list manager makes of a delivered message: Subject tagged, List-Id and a
    footer added (the author's DKIM signature breaks), re-signed by the list as local.test."""
    head, body = raw.decode().split("\r\n\r\n", 1)
    head = re.sub(r"(?m)^Subject: ", "Subject: " + subject_tag, head) + "\r\nList-Id: <list.local.test>"
    data = (head + "\r\n\r\n" + body + "-- \r\nlist@local.test\r\n").encode()
    key = (pathlib.Path(__file__).resolve().parents[1] / "data/dkim/rsa2048.pem").read_bytes()
    sig = dkim.sign(data, b"rsa2048", b"local.test", key, include_headers=[b"from", b"subject", b"list-id"])
    return sig + data


@scenario
def list_sealed_mail_of_a_reject_domain_passes_a_trusting_receiver(w):
    # The author (example.com, p=reject) writes to our list; our MX checks it (dkim and dmarc
    # pass, in our Authentication-Results).
    mid = new_id("arc-author")
    s = w.swaks(port=w.mta.port, sender="alice@example.com", to="list@local.test",
                data=sign_as_example_com(w, message(mid, "alice@example.com", "list@local.test", "hello list")))
    check(s.result.returncode == 0, s.transcript)
    received = w.delivered(mid)
    check("dmarc=pass" in our_ar(received), our_ar(received))
    # The list manager on a trusted host changes it, re-signs it and sends it to a subscriber
    # through the MTA: authmilter seals it (ARCSealing outbound), copying the results of that
    # inbound pass into its ARC-Authentication-Results.
    resent = as_list_resends(received)
    path = w.dir / "list-resent.eml"
    path.write_bytes(resent.replace(f"<{mid}>".encode(), f"<{mid}.list>".encode()))
    s = Swaks(["swaks", "--server", f"127.0.0.1:{w.mta.port}", "--local-interface", "127.0.0.1", "--helo",
               "mx.local.test", "--from", "list-bounces@local.test", "--to", "carol@remote.test", "--data",
               str(path), "--timeout", str(int(TIMEOUT))])
    check(s.result.returncode == 0, s.transcript)
    sealed = w.delivered(f"{mid}.list")
    aar = header_values(sealed, "ARC-Authentication-Results")
    check(len(aar) == 1 and aar[0].startswith("i=1; mx.local.test;") and "dmarc=pass" in aar[0], f"AAR: {aar}")
    check(header_values(sealed, "ARC-Seal")[0].startswith("i=1; cv=none;"), "no ARC-Seal i=1 cv=none")
    check(w.log_lines(f"arc_seal=\"i=1 cv=none d=local.test s=rsa2048\""), "no arc_seal= in the log")
    # A receiver that trusts local.test as a sealer (here: our own MX, from outside) takes it
    # although DMARC fails (the author's signature broke, the list's does not align) ...
    mid2 = f"{mid}.list.2"  # in a header no signature covers: the message is as sealed
    again = w.swaks(port=w.mta.port, sender="list-bounces@local.test", to="bob@local.test",
                    data=f"X-Test-Copy: <{mid2}>\r\n" + sealed.decode())
    check(again.result.returncode == 0, again.transcript)
    ar = our_ar(w.delivered(mid2))
    check("arc=pass header.oldest-pass=0 smtp.remote-ip=127.0.0.10" in ar, ar)
    check("dmarc=fail (p=reject dis=none override=trusted_forwarder arc=pass as[1].d=local.test)" in ar, ar)
    # ... and refuses the same changed message sealed by a sealer it does not trust.
    untrusted = resent.replace(f"<{mid}>".encode(), f"<{mid}.x>".encode())
    key = (w.src / "tests/data/dkim/rsa2048.pem").read_bytes()
    arc_set = dkim.arc_sign(b"Authentication-Results: lists.example; arc=none\r\n" + untrusted, b"rsa2048",
                            b"example.com", key, b"lists.example")
    refused = w.swaks(port=w.mta.port, sender="list-bounces@local.test", to="bob@local.test",
                      data=(b"".join(arc_set) + untrusted).decode())
    check(refused.has_reply(r"550 5\.7\.1"), refused.transcript)
    check(w.not_delivered(f"{mid}.x"), "the untrusted chain was delivered")


@scenario
@postfix_only
def dmarc_failure_reports_reach_the_ruf_address(w):
    # A forgery of reject.test (ruf=mailto:dmarc-ruf@local.test) is refused at once; the
    # daemon's reporter thread sends the failure report through Postfix's sendmail.
    mid = new_id("ruf-forged")
    s = w.swaks(port=w.mta.port, sender="ceo@reject.test", to="bob@local.test",
                data=message(mid, "CEO <ceo@reject.test>", "bob@local.test", "urgent wire transfer"))
    check(s.has_reply(r"550 5\.7\.1"), s.transcript)

    def report():
        for f in w.sink.iterdir():
            if f.name.endswith("dmarc-ruf@local.test") and f"<{mid}>".encode() in f.read_bytes():
                return f
        return None
    copy = w.dir / "failure-report.eml"
    shutil.copy(wait_until("the failure report in the sink", report), copy)
    r = run(["/usr/bin/python3", str(w.src / "tests/support/check_arf.py"), "--dns-txt-file", str(w.zone_file),
             str(copy)])
    check(r.returncode == 0, "check_arf.py: " + r.stdout)
    for want in ('"Reported-Domain": "reject.test"', '"Delivery-Result": "reject"', '"Source-IP": "127.0.0.10"',
                 '"Auth-Failure": "dmarc"', '"dkim": "d=local.test s='):
        check(want in r.stdout, f"{want} not in {r.stdout}")
    check(w.log_lines("to dmarc-ruf@local.test: sent"), "no 'sent' line in authmilter's log")


@scenario
@postfix_only
def dmarc_reports_reach_the_rua_address(w):
    # A day of mail (the scenarios above, and these), recorded by authmilter; then
    # authmilter-report, as the daily timer runs it the next day, sends each report through
    # Postfix's sendmail to dmarc-rua@local.test, where it lands in the sink.
    for domain in ("reject.test", "reject.test", "quarantine.test"):
        w.swaks(port=w.mta.port, sender=f"ceo@{domain}", to="bob@local.test",
                data=message(new_id("report-forged"), f"CEO <ceo@{domain}>", "bob@local.test"))
    mid = new_id("report-signed")
    s = w.swaks(port=w.mta.port, sender="news@example.com", to="bob@local.test",
                data=sign_as_example_com(w, message(mid, "news@example.com", "bob@local.test")))
    check(s.result.returncode == 0, s.transcript)
    w.stop_authmilter(signal.SIGTERM)  # a stop stores every record still queued
    w.start_authmilter()
    report = [str(w.build / "authmilter-report"), "-c", str(w.dir / "authmilter.conf"),
              "--now", str(int(time.time()) + 86400)]
    r = run(report)
    check(r.returncode == 0, "authmilter-report: " + r.stdout)
    check("external destination not verified" in r.stdout and "agg@unverified.test" in r.stdout,
          "the unverified destination was not refused: " + r.stdout)

    def reports():
        found = {}
        for f in w.sink.iterdir():
            if f.name.endswith("dmarc-rua@local.test"):
                m = re.search(rb"Report Domain: (\S+)", re.sub(rb"\r?\n[ \t]", b" ", f.read_bytes()))
                if m:
                    found[m.group(1).decode()] = f
        return found if {"reject.test", "example.com"} <= found.keys() else None
    found = wait_until("the reports in the sink", reports)
    copies = []
    for domain, f in found.items():  # the checker tells a report mail by its .eml name
        copies.append(w.dir / f"report-{domain}.eml")
        shutil.copy(f, copies[-1])
    r = run(["/usr/bin/python3", str(w.src / "tests/support/check_dmarc_report.py"), "--dns-txt-file",
             str(w.zone_file), *map(str, copies)])
    check(r.returncode == 0, "check_dmarc_report.py: " + r.stdout)
    raw = found["reject.test"].read_text()
    check(len(header_values(re.sub(r"\r?\n", "\r\n", raw).encode(), "DKIM-Signature")) >= 1, "report not signed")
    again = run(report)
    check(again.returncode == 0 and "0 report(s) made, 0 sent" in again.stdout,
          "a second run sent something: " + again.stdout)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--mta", choices=["postfix", "sendmail"], required=True)
    ap.add_argument("--source", required=True)
    ap.add_argument("--build", required=True)
    ap.add_argument("--engine", choices=["native", "libmilter"], default="native",
                    help="authmilter's MilterEngine (the same scenarios pass on both)")
    ap.add_argument("--keep", action="store_true", help="keep the temporary directory")
    ap.add_argument("--only", help="run only the scenarios whose name contains this")
    args = ap.parse_args()
    passed = failed = 0
    world = None
    try:
        world = World(args)
        world.start()
        print(f"{args.mta} on the {args.engine} engine: {world.dir}", flush=True)
        for fn in SCENARIOS:
            if args.only and args.only not in fn.__name__:
                continue
            if getattr(fn, "only", args.mta) != args.mta:
                continue
            start = time.monotonic()
            try:
                fn(world)
                passed += 1
                print(f"ok   {args.mta} {fn.__name__} ({time.monotonic() - start:.1f}s)", flush=True)
            except Exception as e:  # noqa: BLE001 - every scenario failure is reported, then the next runs
                failed += 1
                detail = str(e) if isinstance(e, (Failure, Timeout)) else traceback.format_exc()
                print(f"FAIL {args.mta} {fn.__name__}: {detail}", flush=True)
    except Exception as e:  # noqa: BLE001
        failed += 1
        print(f"FAIL {args.mta} setup: {e if isinstance(e, (Failure, Timeout)) else traceback.format_exc()}",
              flush=True)
        if world is not None:
            for log in ("authmilter.out", "authmilter.log", "postfix.log", "sendmail.out"):
                p = world.dir / log
                if p.exists():
                    print(f"--- {log}\n{p.read_text()[-4000:]}")
    finally:
        if world is not None:
            world.stop()
    print(f"{args.mta} ({args.engine}): {passed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
