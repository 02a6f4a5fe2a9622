#!/usr/bin/python3
# Benchmark corpus generator: realistic messages with per-message envelopes, and the DNS zones
# that give them their SPF, DKIM and DMARC results. Made at benchmark time, never committed.
#
#   make_corpus.py OUTDIR [--messages N] [--seed S] [--body-size BYTES]
#
# OUTDIR/mail/NNNNNN.eml   the message (CRLF), signed by dkimpy (Debian python3-dkim) with the
#                          test keys of tests/data/dkim -- an independent signer
# OUTDIR/mail/NNNNNN.env   its envelope, one "key value" a line: client_ip, client_name, helo,
#                          sender, rcpt (one line each), login ("-": not authenticated)
# OUTDIR/zones/bench.zone  one RFC 1035 zone for every domain (SPF, DKIM keys, DMARC records)
# OUTDIR/nsd.conf.zones    the "zone:" stanza naming it, for NSD
# OUTDIR/corpus.zone       the same records as absolute-name lines, for authmilter-testdns
# OUTDIR/corpus.txt        what was made, one line per message (kind, size, expected results)
#
# Mix (deterministic for a seed): bodies of 2 KB (60 %), 20 KB (30 %), 200 KB (10 %); 15-30
# headers; a fifth multipart/alternative; From domains publishing p=none, p=quarantine,
# p=reject, or no DMARC record; signed RSA-2048 or Ed25519 or both, relaxed or simple, some
# unsigned, some tampered after signing; client addresses that pass SPF (198.51.100.0/24) or
# fail it (203.0.113.0/24); a tenth from authenticated clients. The addresses only ever
# appear inside the milter protocol and DNS records: nothing connects to them.
import argparse
import base64
import pathlib
import random
import subprocess
import sys

import dkim

SOURCE = pathlib.Path(__file__).resolve().parents[2]
FIXTURES = SOURCE / "tests/data/dkim"
DOMAINS = {  # apex -> DMARC record (None: no record)
    "none.bench": "v=DMARC1; p=none",
    "quarantine.bench": "v=DMARC1; p=quarantine",
    "reject.bench": "v=DMARC1; p=reject",
    "nodmarc.bench": None,
}
WORDS = ("invoice report meeting quarterly numbers project update schedule review budget team "
         "customer delivery contract proposal summary agenda notes draft final revised").split()


def ed25519_seed(pem_path):
    der = subprocess.run(["openssl", "pkey", "-in", str(pem_path), "-outform", "DER"],
                         stdout=subprocess.PIPE, check=True).stdout
    return base64.b64encode(der[-32:])


def txt_record(path):
    return (FIXTURES / path).read_text().strip()


def quoted_chunks(value):
    return " ".join('"%s"' % value[i:i + 250] for i in range(0, len(value), 250))


def write_zones(out):
    """One zone, "bench.", holds every domain: a name without records (_dmarc.bench, the end
    of the DMARC tree walk) then gets an authoritative NXDOMAIN, as from a real resolver."""
    records = []
    for apex, dmarc in DOMAINS.items():
        records += [
            f'{apex}. IN TXT "v=spf1 ip4:198.51.100.0/24 -all"',
            f"mail.{apex}. IN A 198.51.100.25",
            f'mail.{apex}. IN TXT "v=spf1 a -all"',
            f"rsa._domainkey.{apex}. IN TXT {quoted_chunks(txt_record('rsa2048.txt'))}",
            f"ed._domainkey.{apex}. IN TXT {quoted_chunks(txt_record('ed25519.txt'))}",
        ]
        if dmarc:
            records.append(f'_dmarc.{apex}. IN TXT "{dmarc}"')
    zones = out / "zones"
    zones.mkdir(parents=True, exist_ok=True)
    (zones / "bench.zone").write_text("\n".join([
        "$TTL 3600",
        "bench. IN SOA ns.bench. hostmaster.bench. 1 3600 600 86400 300",
        "bench. IN NS ns.bench.",
        "ns.bench. IN A 127.0.0.1",
        *records]) + "\n")
    (out / "nsd.conf.zones").write_text(f'zone:\n\tname: "bench"\n\tzonefile: "{zones / "bench.zone"}"\n')
    (out / "corpus.zone").write_text("\n".join(records) + "\n")


def body_text(rng, size):
    lines, total = [], 0
    while total < size:
        line = " ".join(rng.choice(WORDS) for _ in range(rng.randint(6, 12))).capitalize() + "."
        if rng.random() < 0.1:
            line += "  "  # trailing white space: relaxed and simple differ
        lines.append(line)
        total += len(line) + 2
    return "\r\n".join(lines) + "\r\n"


def make_message(rng, index, domain, size, multipart):
    sender = f"user{index % 97}@{domain}"
    headers = [
        ("Received", f"from mail.{domain} (mail.{domain} [198.51.100.25]) by relay{index % 3}.{domain}; "
                     "Fri, 4 Dec 2026 09:59:58 +0000"),
        ("Received", f"from workstation.{domain} by mail.{domain}; Fri, 4 Dec 2026 09:59:57 +0000"),
        ("From", f"User {index % 97} <{sender}>"),
        ("To", f"Recipient <rcpt{index % 13}@local.bench>"),
        ("Subject", " ".join(rng.choice(WORDS) for _ in range(rng.randint(2, 7)))),
        ("Date", "Fri, 04 Dec 2026 10:00:00 +0000"),
        ("Message-ID", f"<bench.{index}@{domain}>"),
        ("MIME-Version", "1.0"),
    ]
    for n in range(rng.randint(7, 22 - (1 if multipart else 0))):
        headers.append((f"X-Bench-{n}", " ".join(rng.choice(WORDS) for _ in range(rng.randint(1, 8)))))
    if multipart:
        boundary = f"=_bench_{index}"
        headers.append(("Content-Type", f'multipart/alternative; boundary="{boundary}"'))
        text = body_text(rng, size // 2)
        html = "<html><body><p>" + body_text(rng, size // 2).replace("\r\n", "</p>\r\n<p>") + "</p></body></html>\r\n"
        body = (f"--{boundary}\r\nContent-Type: text/plain; charset=us-ascii\r\n\r\n{text}"
                f"--{boundary}\r\nContent-Type: text/html; charset=us-ascii\r\n\r\n{html}--{boundary}--\r\n")
    else:
        headers.append(("Content-Type", "text/plain; charset=us-ascii"))
        body = body_text(rng, size)
    head = "".join(f"{name}: {value}\r\n" for name, value in headers)
    return sender, (head + "\r\n" + body).encode()


def sign(raw, domain, selector, key, algorithm, canon):
    return dkim.sign(raw, selector, domain.encode(), key, canonicalize=canon, signature_algorithm=algorithm,
                     include_headers=[b"from", b"to", b"subject", b"date", b"message-id", b"mime-version",
                                      b"content-type"]) + raw


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("outdir")
    ap.add_argument("--messages", type=int, default=1000)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--body-size", type=int, default=0, help="every body this size (bytes), not the mix")
    args = ap.parse_args()
    out = pathlib.Path(args.outdir)
    mail = out / "mail"
    mail.mkdir(parents=True, exist_ok=True)
    write_zones(out)
    rsa = (FIXTURES / "rsa2048.pem").read_bytes()
    ed = ed25519_seed(FIXTURES / "ed25519.pem")
    rng = random.Random(args.seed)
    summary = []
    signings = ["rsa-relaxed", "rsa-simple", "ed-relaxed", "ed-simple", "both", "unsigned", "tampered"]
    for i in range(args.messages):
        domain = rng.choice(list(DOMAINS))
        r = rng.random()
        size = args.body_size or (2048 if r < 0.6 else 20480 if r < 0.9 else 204800)
        multipart = rng.random() < 0.2
        sender, raw = make_message(rng, i, domain, size, multipart)
        kind = signings[i % len(signings)]
        if kind.startswith("rsa"):
            canon = (b"relaxed", b"relaxed") if kind.endswith("relaxed") else (b"simple", b"simple")
            raw = sign(raw, domain, b"rsa", rsa, b"rsa-sha256", canon)
        elif kind.startswith("ed"):
            canon = (b"relaxed", b"relaxed") if kind.endswith("relaxed") else (b"simple", b"relaxed")
            raw = sign(raw, domain, b"ed", ed, b"ed25519-sha256", canon)
        elif kind in ("both", "tampered"):
            raw = sign(raw, domain, b"rsa", rsa, b"rsa-sha256", (b"relaxed", b"relaxed"))
            raw = sign(raw, domain, b"ed", ed, b"ed25519-sha256", (b"relaxed", b"relaxed"))
            if kind == "tampered":
                raw = raw.replace(b".\r\n", b"!\r\n", 1)
        authenticated = rng.random() < 0.1
        spf_pass = authenticated or rng.random() < 0.7
        client = "192.0.2.50" if authenticated else (f"198.51.100.{rng.randint(1, 254)}" if spf_pass
                                                     else f"203.0.113.{rng.randint(1, 254)}")
        name = f"{i:06d}"
        (mail / f"{name}.eml").write_bytes(raw)
        (mail / f"{name}.env").write_text(
            f"client_ip {client}\nclient_name mail.{domain}\nhelo mail.{domain}\nsender {sender}\n"
            f"rcpt rcpt{i % 13}@local.bench\nlogin {'alice' if authenticated else '-'}\n")
        summary.append(f"{name} {kind} {size} {'multipart' if multipart else 'text'} {domain} "
                       f"{'auth' if authenticated else 'spf-pass' if spf_pass else 'spf-fail'} {len(raw)}")
    (out / "corpus.txt").write_text("\n".join(summary) + "\n")
    print(f"{args.messages} messages in {mail}, zones in {out / 'zones'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
