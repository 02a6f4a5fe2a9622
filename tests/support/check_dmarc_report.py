#!/usr/bin/python3
# Independent checks of DMARC aggregate reports (RFC 9990) produced by authmilter.
#
#   check_dmarc_report.py [--xsd PATH] [--dns-txt-file F] FILE...
#
# FILE is a report (.xml or .xml.gz) or a report mail (.eml).  For every report XML:
#   (a) xmllint (Debian libxml2-utils) validates it against
#       tests/data/dmarc/aggregate-report-2.0.xsd (or --xsd);
#   (b) dmarc-cat (Debian dmarc-cat, a Go consumer whose parser matches elements by
#       local name, so it reads the RFC 9990 namespace) parses it, and what it read
#       (org_name, email, report_id, date range, policy domain, record count, every
#       record's count and header_from) must equal what xml.etree reads here;
#       plus checks no schema can express (begin < end, header_from under the policy
#       domain, report_id syntax).
# For a .eml also:
#   (c) dkimpy (Debian python3-dkim) verifies every DKIM-Signature against TXT records
#       from --dns-txt-file (never DNS); one must pass with d= aligned to the From domain;
#   (d) Subject is "Report Domain: D Submitter: S Report-ID: ID" (RFC 9990 3.5.2
#       ABNF, case-sensitive, folding allowed), D = policy domain, ID = report_id;
#   (e) exactly one report part, application/gzip (or text/xml), whose filename is
#       receiver!policy-domain!begin!end[!unique-id].xml.gz (.xml for text/xml),
#       matching the XML; receiver = Submitter; unique-id, if present, = report_id.
# A .xml/.xml.gz whose own name contains "!" gets the filename check too.
#
# --dns-txt-file lines: "NAME TXT-VALUE" (rest of the line is the value), or zone
# style "NAME [TTL] [IN] TXT "chunk" "chunk"" as in tests/data/dkim/keys.zone.
# Blank lines and lines starting with ";", "#" or "!" are ignored.
#
# Prints one "ok ..." line per file; on any failure prints "FAIL FILE: why" lines to
# stderr and exits 1.  Exit 2 on usage errors or a missing tool.
import argparse
import email
import email.policy
import email.utils
import gzip
import os
import re
import shutil
import subprocess
import sys
import tempfile
import xml.etree.ElementTree as ET

NS = "urn:ietf:params:xml:ns:dmarc-2.0"
Q = "{%s}" % NS
HERE = os.path.dirname(os.path.abspath(__file__))
DEFAULT_XSD = os.path.normpath(os.path.join(HERE, "..", "data", "dmarc", "aggregate-report-2.0.xsd"))

# RFC 5322 atext / dot-atom-text, for ridtxt (RFC 9990 3.5.1).
ATEXT = r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]"
DOT_ATOM = rf"{ATEXT}+(?:\.{ATEXT}+)*"
RIDFMT = rf"{DOT_ATOM}(?:@{DOT_ATOM})?"
RIDTXT_RE = re.compile(rf"^(?:<{RIDFMT}>|{RIDFMT})$")
# A DNS name as it appears in a filename or Subject (LDH labels; "_" tolerated).
LABEL = r"[A-Za-z0-9_](?:[A-Za-z0-9_-]{0,61}[A-Za-z0-9_])?"
DNSNAME = rf"{LABEL}(?:\.{LABEL})*\.?"
# RFC 9990 3.5.2 filename ABNF.
FILENAME_RE = re.compile(
    rf"^(?P<receiver>{DNSNAME})!(?P<domain>{DNSNAME})!(?P<begin>[0-9]+)!(?P<end>[0-9]+)"
    rf"(?:!(?P<uid>[A-Za-z0-9]+))?\.(?P<ext>xml\.gz|xml)$")
# RFC 9990 3.5.2 Subject ABNF, with the Report-ID part that authmilter always sends.
SUBJECT_RE = re.compile(
    r"^Report[ \t]+Domain:[ \t]+(?P<domain>\S+)[ \t]+Submitter:[ \t]+(?P<submitter>\S+)"
    r"[ \t]+Report-ID:[ \t]+(?P<rid>\S+)[ \t]*$")


class CheckError(Exception):
    pass


class ToolMissing(Exception):
    pass


def strip_brackets(rid):
    return rid[1:-1] if rid.startswith("<") and rid.endswith(">") else rid


def same_domain(a, b):
    return a.lower().rstrip(".") == b.lower().rstrip(".")


def under_domain(child, parent):
    c, p = child.lower().rstrip("."), parent.lower().rstrip(".")
    return c == p or c.endswith("." + p)


# ---------------------------------------------------------------------------- DNS

def load_txt_records(path):
    records = {}
    with open(path, "r", encoding="utf-8") as f:
        for lineno, raw in enumerate(f, 1):
            line = raw.strip()
            if not line or line[0] in ";#!":
                continue
            parts = line.split(None, 1)
            if len(parts) != 2:
                raise CheckError("%s:%d: expected 'NAME TXT-VALUE'" % (path, lineno))
            name, rest = parts
            zone = re.match(r'^(?:\d+\s+)?(?:IN\s+)?TXT\s+(".*)$', rest)
            if zone:
                rest = zone.group(1)
            if rest.startswith('"'):
                value = "".join(re.findall(r'"((?:[^"\\]|\\.)*)"', rest))
                value = re.sub(r"\\(.)", r"\1", value)
            else:
                value = rest
            records.setdefault(name.lower().rstrip("."), []).append(value.encode())
    return records


def make_dnsfunc(records):
    def lookup(name, timeout=5):
        if isinstance(name, bytes):
            name = name.decode("ascii", "replace")
        values = records.get(name.lower().rstrip("."))
        return values[0] if values else None
    return lookup


# ---------------------------------------------------------------------- the report

def parse_report(xml_bytes):
    """What xml.etree reads; the reference the independent consumer is compared with."""
    try:
        root = ET.fromstring(xml_bytes)
    except ET.ParseError as e:
        raise CheckError("not well-formed XML: %s" % e)
    if root.tag != Q + "feedback":
        raise CheckError("root element is %s, want {%s}feedback" % (root.tag, NS))

    def text(node, path, default=None):
        el = node.find(path)
        if el is None:
            return default
        return el.text or ""

    meta = root.find(Q + "report_metadata")
    pol = root.find(Q + "policy_published")
    if meta is None or pol is None:
        raise CheckError("report_metadata or policy_published missing")
    rep = {
        "version": text(root, Q + "version"),
        "org_name": text(meta, Q + "org_name", ""),
        "email": text(meta, Q + "email", ""),
        "extra_contact_info": text(meta, Q + "extra_contact_info", ""),
        "report_id": text(meta, Q + "report_id", ""),
        "begin": text(meta, Q + "date_range/" + Q + "begin", ""),
        "end": text(meta, Q + "date_range/" + Q + "end", ""),
        "errors": [e.text or "" for e in meta.findall(Q + "error")],
        "domain": text(pol, Q + "domain", ""),
        "records": [],
    }
    for rec in root.findall(Q + "record"):
        rep["records"].append({
            "source_ip": text(rec, Q + "row/" + Q + "source_ip", ""),
            "count": int(text(rec, Q + "row/" + Q + "count", "0").strip()),
            "header_from": text(rec, Q + "identifiers/" + Q + "header_from", ""),
        })
    return rep


def semantic_checks(rep):
    """Rules of RFC 9990 that the XSD cannot express."""
    begin, end = int(rep["begin"].strip()), int(rep["end"].strip())
    if begin >= end:
        raise CheckError("date_range begin %d is not before end %d" % (begin, end))
    if not RIDTXT_RE.match(rep["report_id"]):
        raise CheckError("report_id %r is not ridtxt (RFC 9990 3.5.1)" % rep["report_id"])
    for rec in rep["records"]:
        if not under_domain(rec["header_from"], rep["domain"]):
            raise CheckError("record header_from %r is not the policy domain %r or below it"
                             " (one Policy Domain per report, 3.1)"
                             % (rec["header_from"], rep["domain"]))


def run_xmllint(xml_bytes, xsd, label):
    if not shutil.which("xmllint"):
        raise ToolMissing("xmllint not found (Debian package libxml2-utils)")
    p = subprocess.run(["xmllint", "--noout", "--schema", xsd, "-"], input=xml_bytes,
                       capture_output=True, timeout=120)
    if p.returncode != 0:
        msgs = re.sub(r"(?m)^-(?=[: ])", lambda _: label,
                      p.stderr.decode("utf-8", "replace").strip())
        raise CheckError("xmllint --schema %s failed (exit %d):\n%s"
                         % (os.path.basename(xsd), p.returncode, msgs))


def run_dmarc_cat(xml_bytes, rep):
    """Parse with dmarc-cat and compare what it read with the etree reading."""
    exe = shutil.which("dmarc-cat")
    if not exe:
        raise ToolMissing("dmarc-cat not found (Debian package dmarc-cat)")
    with tempfile.TemporaryDirectory(prefix="dmarc-cat.") as tmp:
        # dmarc-cat only accepts names matching ^[\w.]+![\w.]+!\d+!\d+\.(xml\.gz|zip)$
        # (no "-", no unique-id, no plain .xml), so it always gets a neutral copy.
        path = os.path.join(tmp, "check!check!0!1.xml.gz")
        with gzip.open(path, "wb") as f:
            f.write(xml_bytes)
        # -N: never resolve IPs (no network); -j 1: one worker; -D: debug log on stderr,
        # which includes the whole parsed report as a Go %v dump.
        p = subprocess.run([exe, "-N", "-j", "1", "-D", path], capture_output=True,
                           timeout=120, cwd=tmp)
    out = p.stdout.decode("utf-8", "replace")
    err = p.stderr.decode("utf-8", "replace")
    if p.returncode != 0 or "Error:" in err:
        errs = [l for l in err.splitlines() if "Error" in l]
        raise CheckError("dmarc-cat could not read the report (exit %d): %s"
                         % (p.returncode, "; ".join(errs)[-500:] or "no message"))

    # 1. Metadata as dmarc-cat parsed it: the debug line "report={VERSION {ORG EMAIL
    #    EXTRA REPORT_ID {BEGIN END} [ERRORS]} {POLICY...} [RECORDS]}".
    dump = [l.split("report=", 1)[1] for l in err.splitlines() if " report={" in l]
    if len(dump) != 1:
        raise CheckError("dmarc-cat debug output has no single report= line")
    version = "0" if rep["version"] is None else ("%g" % float(rep["version"].strip()))
    # Go's %v prints strings unchanged, so the etree strings can be compared as they are.
    want = "{%s {%s %s %s %s {%d %d} [%s]} {%s " % (
        version, rep["org_name"], rep["email"], rep["extra_contact_info"],
        rep["report_id"], int(rep["begin"].strip()), int(rep["end"].strip()),
        " ".join(rep["errors"]), rep["domain"])
    if not dump[0].startswith(want):
        raise CheckError("dmarc-cat read the metadata differently:\n  dmarc-cat: %s\n"
                         "  etree:     %s" % (dump[0][:len(want) + 40], want))

    # 2. The human report on stdout.
    lines = out.splitlines()

    def line_after(prefix):
        for l in lines:
            if l.startswith(prefix):
                return l[len(prefix):]
        raise CheckError("dmarc-cat output has no %r line" % prefix)

    by = line_after("Reporting by: ")
    if by != "%s \u2014 %s" % (rep["org_name"], rep["email"]):
        raise CheckError("dmarc-cat 'Reporting by' is %r" % by)
    if line_after("Domain: ") != rep["domain"]:
        raise CheckError("dmarc-cat policy domain %r != %r"
                         % (line_after("Domain: "), rep["domain"]))
    nrec = int(re.match(r"\((\d+)\):", line_after("Reports")).group(1))
    if nrec != len(rep["records"]):
        raise CheckError("dmarc-cat saw %d records, etree %d" % (nrec, len(rep["records"])))
    head = [i for i, l in enumerate(lines) if l.startswith("IP ") and " Count " in l]
    if len(head) != 1:
        raise CheckError("dmarc-cat output has no record table")
    h = lines[head[0]]
    c0, f0, r0 = h.index("Count"), h.index(" From ") + 1, h.index("RFrom")
    rows = []
    for l in lines[head[0] + 1:]:
        if not l.strip():
            break
        rows.append((int(l[c0:f0].strip()), l[f0:r0].strip()))
    want_rows = sorted((r["count"], r["header_from"].strip()) for r in rep["records"])
    if sorted(rows) != want_rows:
        raise CheckError("dmarc-cat (count, header_from) rows %s != etree %s"
                         % (sorted(rows), want_rows))
    return sum(c for c, _ in rows)


# -------------------------------------------------------------------- file names

def check_filename(name, rep, content_type=None):
    m = FILENAME_RE.match(name)
    if not m:
        raise CheckError("attachment filename %r is not receiver!policy-domain!begin!end"
                         "[!unique-id].xml[.gz] (RFC 9990 3.5.2)" % name)
    if not same_domain(m.group("domain"), rep["domain"]):
        raise CheckError("filename policy-domain %r != policy_published/domain %r"
                         % (m.group("domain"), rep["domain"]))
    if int(m.group("begin")) != int(rep["begin"]) or int(m.group("end")) != int(rep["end"]):
        raise CheckError("filename timestamps %s!%s != date_range %s..%s"
                         % (m.group("begin"), m.group("end"), rep["begin"], rep["end"]))
    uid = m.group("uid")
    if uid is not None and uid != strip_brackets(rep["report_id"]):
        raise CheckError("filename unique-id %r != report_id %r (RFC 9990 3.1.4: they"
                         " MUST be identical when used)" % (uid, rep["report_id"]))
    if content_type == "application/gzip" and m.group("ext") != "xml.gz":
        raise CheckError("application/gzip part named %r, want .xml.gz" % name)
    if content_type == "text/xml" and m.group("ext") != "xml":
        raise CheckError("text/xml part named %r, want .xml" % name)
    return m


# --------------------------------------------------------------------- the mail

def check_dkim(raw, from_domain, dns_records):
    import logging
    try:
        import dkim
    except ImportError:
        raise ToolMissing("python3 module dkim not found (Debian package python3-dkim)")

    class Collect(logging.Handler):
        def __init__(self):
            super().__init__(logging.DEBUG)
            self.msgs = []

        def emit(self, record):
            if record.levelno >= logging.INFO:
                self.msgs.append(record.getMessage())

    dnsfunc = make_dnsfunc(dns_records)
    nsig = len([1 for k, _ in dkim.DKIM(raw).headers if k.lower() == b"dkim-signature"])
    if nsig == 0:
        raise CheckError("report mail has no DKIM-Signature (RFC 9990 3.5.2: reports MUST"
                         " pass DMARC)")
    results, aligned = [], None
    for idx in range(nsig):
        log = logging.getLogger("check_dmarc_report.dkim%d" % idx)
        log.propagate = False
        handler = Collect()
        log.addHandler(handler)
        d = dkim.DKIM(raw, logger=log)
        try:
            ok = d.verify(idx=idx, dnsfunc=dnsfunc)
        except Exception as e:  # dkimpy raises on malformed signatures
            ok, handler.msgs = False, handler.msgs + [str(e)]
        sdom = (d.domain or b"").decode("ascii", "replace")
        ssel = (d.selector or b"").decode("ascii", "replace")
        results.append("%s d=%s s=%s%s" % ("pass" if ok else "fail", sdom, ssel,
                                            "" if ok else " (%s)" % ("; ".join(handler.msgs)[-200:]
                                                               or "signature did not verify")))
        if ok and aligned is None and sdom and "." in sdom.strip(".") and (
                under_domain(from_domain, sdom) or under_domain(sdom, from_domain)):
            aligned = "d=%s s=%s" % (sdom, ssel)
    if aligned is None:
        raise CheckError("no DKIM signature passes with d= aligned to From domain %s: %s"
                         % (from_domain, " | ".join(results)))
    return aligned


def unfold(value):
    return re.sub(r"\r?\n(?=[ \t])", "", str(value))


def check_eml(raw, name, dns_records):
    msg = email.message_from_bytes(raw, policy=email.policy.compat32)
    subjects = msg.get_all("Subject") or []
    if len(subjects) != 1:
        raise CheckError("want exactly one Subject, found %d" % len(subjects))
    subject = unfold(subjects[0])
    sm = SUBJECT_RE.match(subject)
    if not sm:
        raise CheckError("Subject %r is not 'Report Domain: D Submitter: S Report-ID: ID'"
                         " (RFC 9990 3.5.2)" % subject)
    if not RIDTXT_RE.match(sm.group("rid")):
        raise CheckError("Subject Report-ID %r is not ridtxt (RFC 9990 3.5.1)" % sm.group("rid"))

    froms = msg.get_all("From") or []
    if len(froms) != 1:
        raise CheckError("want exactly one From, found %d" % len(froms))
    addr = email.utils.parseaddr(unfold(froms[0]))[1]
    if "@" not in addr:
        raise CheckError("From %r has no address" % froms[0])
    from_domain = addr.rsplit("@", 1)[1]

    parts = []
    for part in msg.walk():
        ctype = part.get_content_type()
        if ctype in ("application/gzip", "text/xml"):
            parts.append(part)
    if len(parts) != 1:
        raise CheckError("want exactly one application/gzip (or text/xml) report part,"
                         " found %d" % len(parts))
    part = parts[0]
    ctype = part.get_content_type()
    fname = part.get_filename()
    if not fname:
        raise CheckError("report part has no filename")
    payload = part.get_payload(decode=True)
    if payload is None:
        raise CheckError("report part has no body")
    if ctype == "application/gzip":
        try:
            xml_bytes = gzip.decompress(payload)
        except OSError as e:
            raise CheckError("application/gzip part is not gzip: %s" % e)
    else:
        xml_bytes = payload

    if dns_records is None:
        raise CheckError("a .eml needs --dns-txt-file for the DKIM check")
    dkim_ok = check_dkim(raw, from_domain, dns_records)
    return xml_bytes, {"subject": sm, "filename": fname, "ctype": ctype,
                       "dkim": dkim_ok}


# ----------------------------------------------------------------------- driver

def check_file(path, xsd, dns_records):
    name = os.path.basename(path)
    with open(path, "rb") as f:
        raw = f.read()
    mail = None
    if name.endswith(".eml"):
        xml_bytes, mail = check_eml(raw, name, dns_records)
    elif name.endswith(".xml.gz") or name.endswith(".gz"):
        try:
            xml_bytes = gzip.decompress(raw)
        except OSError as e:
            raise CheckError("not gzip: %s" % e)
    elif name.endswith(".xml"):
        xml_bytes = raw
    else:
        raise CheckError("unknown file type (want .xml, .xml.gz or .eml)")

    label = name if mail is None else "%s[%s]" % (name, mail["filename"])
    run_xmllint(xml_bytes, xsd, label)
    rep = parse_report(xml_bytes)
    semantic_checks(rep)
    total = run_dmarc_cat(xml_bytes, rep)
    if total != sum(r["count"] for r in rep["records"]):
        raise CheckError("message count sums differ")

    extra = []
    if mail is not None:
        sm = mail["subject"]
        if not same_domain(sm.group("domain"), rep["domain"]):
            raise CheckError("Subject Domain %r != policy_published/domain %r"
                             % (sm.group("domain"), rep["domain"]))
        if strip_brackets(sm.group("rid")) != strip_brackets(rep["report_id"]):
            raise CheckError("Subject Report-ID %r != report_id %r"
                             % (sm.group("rid"), rep["report_id"]))
        fm = check_filename(mail["filename"], rep, mail["ctype"])
        if not same_domain(fm.group("receiver"), sm.group("submitter")):
            raise CheckError("filename receiver %r != Subject Submitter %r"
                             % (fm.group("receiver"), sm.group("submitter")))
        extra.append("dkim=pass(%s)" % mail["dkim"])
        extra.append("subject=ok")
        extra.append("attachment=%s" % mail["filename"])
    elif "!" in name:
        check_filename(name, rep)
        extra.append("filename=ok")

    print("ok %s: org_name=%s report_id=%s domain=%s begin=%s end=%s records=%d"
          " messages=%d xsd=ok dmarc-cat=agrees%s"
          % (name, rep["org_name"], rep["report_id"], rep["domain"], rep["begin"].strip(),
             rep["end"].strip(), len(rep["records"]), total,
             "".join(" " + e for e in extra)))


def main(argv):
    ap = argparse.ArgumentParser(description="Check DMARC aggregate reports (RFC 9990).")
    ap.add_argument("--xsd", default=DEFAULT_XSD, help="schema (default: %(default)s)")
    ap.add_argument("--dns-txt-file", help="TXT records for DKIM keys (needed for .eml)")
    ap.add_argument("files", nargs="+", metavar="FILE")
    args = ap.parse_args(argv)
    if not os.path.isfile(args.xsd):
        print("check_dmarc_report: no schema at %s" % args.xsd, file=sys.stderr)
        return 2
    dns_records = None
    if args.dns_txt_file:
        try:
            dns_records = load_txt_records(args.dns_txt_file)
        except (OSError, CheckError) as e:
            print("check_dmarc_report: %s" % e, file=sys.stderr)
            return 2
    failed = 0
    for path in args.files:
        try:
            check_file(path, args.xsd, dns_records)
        except ToolMissing as e:
            print("check_dmarc_report: %s" % e, file=sys.stderr)
            return 2
        except (CheckError, OSError, ValueError, subprocess.TimeoutExpired) as e:
            failed += 1
            print("FAIL %s: %s" % (path, e), file=sys.stderr)
    if failed:
        print("check_dmarc_report: %d of %d file(s) failed" % (failed, len(args.files)),
              file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
