#!/usr/bin/python3
# An independent DKIM verifier for the signing tests: dkimpy (Debian python3-dkim, with
# python3-nacl for Ed25519) checks every DKIM-Signature of a message against TXT records
# read from a zone file (lines "NAME IN TXT "chunk" "chunk"", as tests/support's test DNS
# server reads them), never from DNS.
#
#   dkimpy_verify.py MESSAGE.eml KEYS.zone
#
# Prints one line per signature, topmost first: "pass d=... s=... a=..." or
# "fail (why) d=... s=... a=...". Exit 0 when it could check, 2 on usage errors.
import logging
import re
import sys

import dkim


class Collect(logging.Handler):
    def __init__(self):
        super().__init__(logging.DEBUG)
        self.errors = []

    def emit(self, record):
        if record.levelno >= logging.ERROR:
            self.errors.append(record.getMessage())


def zone_dnsfunc(path):
    records = {}
    with open(path, "rb") as f:
        for line in f:
            m = re.match(rb"(\S+)\s+(?:\d+\s+)?IN\s+TXT\s+(.*)$", line)
            if m:
                name = m.group(1).lower().rstrip(b".") + b"."
                records[name] = b"".join(re.findall(rb'"([^"]*)"', m.group(2)))

    def lookup(name, timeout=5):
        if isinstance(name, str):
            name = name.encode()
        return records.get(name.lower().rstrip(b".") + b".")

    return lookup


def tags(msg, idx):
    sigs = [v for (k, v) in dkim.DKIM(msg).headers if k.lower() == b"dkim-signature"]
    t = dkim.util.parse_tag_value(re.sub(rb"\s+", b"", sigs[idx]))
    return "d=%s s=%s a=%s" % tuple(t.get(k, b"-").decode() for k in (b"d", b"s", b"a"))


def main():
    if len(sys.argv) != 3:
        print("usage: dkimpy_verify.py MESSAGE KEYS.zone", file=sys.stderr)
        return 2
    with open(sys.argv[1], "rb") as f:
        msg = f.read()
    dnsfunc = zone_dnsfunc(sys.argv[2])
    count = len([1 for (k, _) in dkim.DKIM(msg).headers if k.lower() == b"dkim-signature"])
    if count == 0:
        print("none")
    for idx in range(count):
        logger, collect = logging.getLogger("dkimpy-verify"), Collect()
        logger.handlers, logger.propagate = [collect], False
        try:
            ok = dkim.DKIM(msg, logger=logger).verify(idx=idx, dnsfunc=dnsfunc)
            result = "pass" if ok else "fail (%s)" % (collect.errors[-1] if collect.errors else "b= does not verify")
        except dkim.DKIMException as e:
            result = "fail (%s: %s)" % (type(e).__name__, e)
        print("%s %s" % (result, tags(msg, idx)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
