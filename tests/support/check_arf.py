#!/usr/bin/python3
# Independent checks of DMARC failure reports (RFC 9991) produced by authmilter, with
# Python's own email package as the ARF parser and field rules written from RFC 5965,
# RFC 6591 and RFC 9991.
#
#   check_arf.py [--dns-txt-file F] [--body] FILE.eml...
#
# For each report mail:
#   (a) the top level is multipart/report; report-type=feedback-report (RFC 5965 §2) with
#       exactly: a text/plain part, a message/feedback-report part, and the original as
#       text/rfc822-headers (or, with --body, message/rfc822 carrying a body);
#   (b) the feedback report has Feedback-Type: auth-failure, User-Agent, Version: 1, each
#       once (RFC 5965 §3.1); Auth-Failure one of RFC 6591's words; Identity-Alignment (RFC
#       9991 §3.3: none, or dkim/spf joined by commas); Source-IP an address; Arrival-Date an
#       RFC 5322 date; Original-Mail-From; Reported-Domain; Authentication-Results; the
#       DKIM-Domain/-Selector pair together; SPF-DNS as "txt : domain : record";
#   (c) dkimpy verifies a DKIM-Signature with d= aligned to the From domain (keys from
#       --dns-txt-file, never DNS).
# Prints one JSON object a line: {"file":..., "fields": {name: value}, "original": headers}
# for the tests to compare; on any failure prints "FAIL FILE: why" to stderr and exits 1.
import argparse
import email
import email.policy
import email.utils
import ipaddress
import json
import os
import re
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from check_dmarc_report import CheckError, check_dkim, load_txt_records  # noqa: E402

AUTH_FAILURES = {"adsp", "bodyhash", "revoked", "signature", "spf", "dmarc"}  # RFC 6591 §3.2.2
ONCE = ["Feedback-Type", "User-Agent", "Version", "Auth-Failure", "Identity-Alignment", "Source-IP",
        "Arrival-Date", "Original-Mail-From", "Reported-Domain", "Authentication-Results"]


def check(raw, want_body, records):
    msg = email.message_from_bytes(raw, policy=email.policy.compat32)
    if msg.get_content_type() != "multipart/report" or msg.get_param("report-type") != "feedback-report":
        raise CheckError("not multipart/report; report-type=feedback-report: %s" % msg.get("Content-Type"))
    parts = msg.get_payload()
    types = [p.get_content_type() for p in parts]
    original = "message/rfc822" if want_body else "text/rfc822-headers"
    if types != ["text/plain", "message/feedback-report", original]:
        raise CheckError("parts are %s, expected text/plain, message/feedback-report, %s" % (types, original))
    report = parts[1].get_payload()
    report = report[0] if isinstance(report, list) else email.message_from_string(report)
    fields = {}
    for name in ONCE:
        values = report.get_all(name) or []
        if len(values) != 1:
            raise CheckError("%s appears %d times, expected once" % (name, len(values)))
        fields[name] = re.sub(r"\s+", " ", values[0]).strip()
    if fields["Feedback-Type"] != "auth-failure":
        raise CheckError("Feedback-Type is %r" % fields["Feedback-Type"])
    if fields["Version"] != "1":
        raise CheckError("Version is %r" % fields["Version"])
    if fields["Auth-Failure"] not in AUTH_FAILURES:
        raise CheckError("Auth-Failure %r is not an RFC 6591 word" % fields["Auth-Failure"])
    words = [w.strip() for w in fields["Identity-Alignment"].split(",")]
    if not (words == ["none"] or (words and set(words) <= {"dkim", "spf"} and len(set(words)) == len(words))):
        raise CheckError("Identity-Alignment %r" % fields["Identity-Alignment"])
    ipaddress.ip_address(fields["Source-IP"])
    if email.utils.parsedate_tz(fields["Arrival-Date"]) is None:
        raise CheckError("Arrival-Date %r is not an RFC 5322 date" % fields["Arrival-Date"])
    for name in ("DKIM-Domain", "DKIM-Identity", "DKIM-Selector", "SPF-DNS", "Delivery-Result",
                 "Original-Envelope-Id"):
        values = report.get_all(name) or []
        if len(values) > 1:
            raise CheckError("%s appears %d times" % (name, len(values)))
        if values:
            fields[name] = values[0].strip()
    if ("DKIM-Domain" in fields) != ("DKIM-Selector" in fields):
        raise CheckError("DKIM-Domain and DKIM-Selector go together (RFC 9991 3.3)")
    if "SPF-DNS" in fields and not re.match(r"^(txt|spf) : [^ :]+ : .+$", fields["SPF-DNS"]):
        raise CheckError("SPF-DNS %r is not 'txt : domain : record' (RFC 6591 3.2.7)" % fields["SPF-DNS"])
    if fields.get("Delivery-Result", "delivered") not in {"delivered", "spam", "policy", "reject", "other"}:
        raise CheckError("Delivery-Result %r" % fields["Delivery-Result"])
    if want_body:
        inner = parts[2].get_payload()[0]
        headers_text = "".join("%s: %s\n" % (k, v) for k, v in inner.items())
        body = inner.get_payload()
        if not body:
            raise CheckError("message/rfc822 without a body")
    else:
        headers_text = parts[2].get_payload()
        if "\n\n" in headers_text.strip("\n"):
            raise CheckError("text/rfc822-headers carries more than a header section")
    from_domain = email.utils.parseaddr(msg.get("From"))[1].rpartition("@")[2]
    fields["dkim"] = check_dkim(raw, from_domain, records) if records is not None else "not checked"
    return fields, headers_text


def main(argv):
    ap = argparse.ArgumentParser()
    ap.add_argument("--dns-txt-file")
    ap.add_argument("--body", action="store_true", help="the original must include its body")
    ap.add_argument("files", nargs="+")
    args = ap.parse_args(argv)
    records = load_txt_records(args.dns_txt_file) if args.dns_txt_file else None
    failed = False
    for path in args.files:
        try:
            with open(path, "rb") as f:
                fields, original = check(f.read(), args.body, records)
            print(json.dumps({"file": path, "fields": fields, "original": original}))
        except (CheckError, ValueError) as e:
            print("FAIL %s: %s" % (path, e), file=sys.stderr)
            failed = True
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
