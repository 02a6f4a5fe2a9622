#!/usr/bin/python3
# An independent ARC implementation for the ARC tests: dkimpy's arc_sign and arc_verify
# (Debian python3-dkim, with python3-authres, which arc_sign needs), with keys read from a zone
# file (as dkimpy_verify.py does), never from DNS.
#
#   dkimpy_arc.py sign MESSAGE KEY.pem DOMAIN SELECTOR AUTHSERV-ID TIMESTAMP
#       writes MESSAGE with dkimpy's next ARC set on top to stdout; the set's cv= comes, as
#       dkimpy does it, from the arc= of the Authentication-Results of AUTHSERV-ID in the
#       message (none when it has none). Exit 3 when dkimpy adds no set (chain ended).
#   dkimpy_arc.py verify MESSAGE KEYS.zone
#       prints "cv=pass|fail|none|ended (why)" then one line per set, newest first:
#       "i=N ams=pass|fail as=pass|fail cv=... d=... s=...".
# Exit 0 when it could do its job, 2 on usage errors.
import logging
import sys

import dkim

sys.path.insert(0, __file__.rsplit("/", 1)[0])
from dkimpy_verify import zone_dnsfunc  # noqa: E402


def quiet():
    logger = logging.getLogger("dkimpy-arc")
    logger.handlers, logger.propagate = [logging.NullHandler()], False
    return logger


def sign(path, key, domain, selector, srv_id, timestamp):
    with open(path, "rb") as f:
        msg = f.read()
    with open(key, "rb") as f:
        pem = f.read()
    lines = dkim.arc_sign(msg, selector.encode(), domain.encode(), pem, srv_id.encode(),
                          include_headers=[b"from", b"to", b"subject", b"date", b"message-id"],
                          timestamp=timestamp, logger=quiet())
    if not lines:
        return 3
    sys.stdout.buffer.write(b"".join(lines) + msg)
    return 0


def verify(path, zone):
    with open(path, "rb") as f:
        msg = f.read()
    cv, results, why = dkim.arc_verify(msg, logger=quiet(), dnsfunc=zone_dnsfunc(zone))
    print("cv=%s (%s)" % (cv.decode() if cv else "ended", why))
    for r in results:
        print("i=%d ams=%s as=%s cv=%s d=%s s=%s" % (
            r["instance"], "pass" if r.get("ams-valid") else "fail", "pass" if r.get("as-valid") else "fail",
            r.get("cv", b"-").decode(), r.get("as-domain", b"-").decode(), r.get("as-selector", b"-").decode()))
    return 0


def main():
    if len(sys.argv) == 8 and sys.argv[1] == "sign":
        return sign(*sys.argv[2:7], int(sys.argv[7]))
    if len(sys.argv) == 4 and sys.argv[1] == "verify":
        return verify(sys.argv[2], sys.argv[3])
    print(__doc__ if __doc__ else "usage: dkimpy_arc.py sign|verify ...", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main())
