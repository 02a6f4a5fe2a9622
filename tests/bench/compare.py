#!/usr/bin/python3
# The side-by-side benchmark: the same corpus, the same DNS server and the same machine, in
# one run, through (a) authmilter (SPF + DKIM + DMARC) on each milter engine (libmilter, and
# its own: MilterEngine native), on a unix and an inet socket, and (b) OpenDKIM (verify)
# chained with OpenDMARC (SPFSelfValidate), both Debian's packages, driven by authmilter-bench.
#
#   compare.py --build BUILD [--messages N] [--corpus-size N] [--sessions 1,4,16,64] [--reps 3]
#              [--keep] [--only authmilter] [--dns nsd|testdns] [--per-connection K] [--sizes 2048,204800]
#              [--body-size BYTES]
#              [--scale [--hold-sessions 1000] [--soak 1000000]]
#
# Runs itself inside a private network + mount namespace (unshare -n -m): only a loopback
# interface exists there, so nothing can reach any other address; NSD serves the generated
# zones on 127.0.0.1:53 and /etc/resolv.conf (bind-mounted) names it, so all three daemons
# ask the same server. Prints, per setup and concurrency, the median over the repetitions of
# messages/s and latency, the daemons' CPU time per message (utime + stime from /proc, all
# threads) and their peak RSS; then compares the verdicts of (a) and (b) message by message
# and lists every kind of disagreement; then CPU and latency for corpora of one body size each
# (--sizes: 2 KB and 200 KB). --scale then holds --hold-sessions slow sessions open
# at once (authmilter's peak RSS meanwhile) and runs a soak of --soak messages, sampling
# authmilter's RSS 20 times. Needs root and contrib/install-deps --bench.
import argparse
import os
import pathlib
import re
import shutil
import signal
import statistics
import resource
import subprocess
import sys
import tempfile
import threading

SOURCE = pathlib.Path(__file__).resolve().parents[2]
sys.path.insert(0, str(SOURCE / "tests/support"))
from loopback import can_connect, stop_process, wait_until  # noqa: E402
CLK_TCK = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid):
    fields = pathlib.Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK  # utime, stime (fields 14 and 15)


def peak_rss_mb(pid):
    m = re.search(r"VmHWM:\s+(\d+) kB", pathlib.Path(f"/proc/{pid}/status").read_text())
    return int(m.group(1)) / 1024 if m else 0.0


def rss_mb(pid):
    m = re.search(r"VmRSS:\s+(\d+) kB", pathlib.Path(f"/proc/{pid}/status").read_text())
    return int(m.group(1)) / 1024 if m else 0.0


class Lab:
    def __init__(self, args):
        self.args = args
        self.build = pathlib.Path(args.build).resolve()
        base = pathlib.Path("/run/authmilter-bench")
        base.mkdir(mode=0o755, exist_ok=True)
        self.dir = pathlib.Path(tempfile.mkdtemp(dir=base))
        os.chmod(self.dir, 0o755)
        self.procs = {}

    def start(self, name, cmd, ready):
        p = subprocess.Popen(cmd, stdout=open(self.dir / f"{name}.out", "w"), stderr=subprocess.STDOUT)
        self.procs[name] = p
        wait_until(name, lambda: p.poll() is not None or ready())
        if p.poll() is not None:
            sys.exit(f"compare.py: {name} exited:\n" + (self.dir / f"{name}.out").read_text()[-3000:])
        return p

    def stop(self):
        for p in self.procs.values():
            stop_process(p, timeout=15)
        if not self.args.keep:
            shutil.rmtree(self.dir, ignore_errors=True)

    def corpus(self, body_size=0, name="corpus"):
        out = self.dir / name
        subprocess.run(["/usr/bin/python3", str(SOURCE / "tests/bench/make_corpus.py"), str(out),
                        "--messages", str(self.args.corpus_size), "--body-size", str(body_size)],
                       check=True, stdout=subprocess.DEVNULL)
        self.corpus_dir = out
        self.kinds = {}
        for line in (out / "corpus.txt").read_text().splitlines():
            name, kind, size, shape, domain, client, _ = line.split()
            self.kinds[name] = f"{kind} {domain} {client}"

    def dns(self):
        d = self.dir
        (d / "nsd.conf").write_text(f"""\
server:
  ip-address: 127.0.0.1
  port: 53
  username: ""
  chroot: ""
  zonesdir: "{self.corpus_dir}/zones"
  pidfile: "{d}/nsd.pid"
  xfrdfile: "{d}/xfrd.state"
  zonelistfile: "{d}/zone.list"
  database: ""
  logfile: "{d}/nsd.log"
  server-count: 1
  verbosity: 0
remote-control:
  control-enable: no
""" + (self.corpus_dir / "nsd.conf.zones").read_text())
        if self.args.dns == "nsd":
            self.start("nsd", ["nsd", "-d", "-c", str(d / "nsd.conf")], lambda: can_connect(("127.0.0.1", 53)))
        else:  # the project's test DNS server: enough for authmilter alone (the smoke test)
            self.start("testdns", [str(self.build / "tests/authmilter-testdns"), "--port", "53",
                                   str(self.corpus_dir / "corpus.zone")], lambda: can_connect(("127.0.0.1", 53)))
        (d / "resolv.conf").write_text("nameserver 127.0.0.1\noptions attempts:1 timeout:2\n")
        subprocess.run(["mount", "--bind", str(d / "resolv.conf"), "/etc/resolv.conf"], check=True)
        (d / "local-domains").write_text("local.bench\n")
        (d / "trusted").write_text("127.0.0.1\n")

    def authmilter(self):
        d = self.dir
        (d / "authmilter.conf").write_text(f"""\
Socket unix:{d}/authmilter.sock
AuthservID mx.local.bench
LocalDomains local-domains
TrustedNetworks trusted
Nameservers 127.0.0.1
MilterEngine libmilter
""")
        (d / "authmilter-inet.conf").write_text((d / "authmilter.conf").read_text().replace(
            f"Socket unix:{d}/authmilter.sock", "Socket inet:10025@127.0.0.1"))
        # The same daemon on its own milter engine (MilterEngine native), on both kinds of socket.
        (d / "native.conf").write_text((d / "authmilter.conf").read_text().replace(
            f"Socket unix:{d}/authmilter.sock", f"Socket unix:{d}/native.sock").replace(
            "MilterEngine libmilter", "MilterEngine native"))
        (d / "native-inet.conf").write_text((d / "native.conf").read_text().replace(
            f"Socket unix:{d}/native.sock", "Socket inet:10026@127.0.0.1"))
        sock = str(d / "authmilter.sock")
        self.start("authmilter", [str(self.build / "authmilter"), "-f", "-c", str(d / "authmilter.conf")],
                   lambda: can_connect(sock))
        self.start("authmilter-inet", [str(self.build / "authmilter"), "-f", "-c", str(d / "authmilter-inet.conf")],
                   lambda: can_connect(("127.0.0.1", 10025)))
        self.start("native", [str(self.build / "authmilter"), "-f", "-c", str(d / "native.conf")],
                   lambda: can_connect(str(d / "native.sock")))
        self.start("native-inet", [str(self.build / "authmilter"), "-f", "-c", str(d / "native-inet.conf")],
                   lambda: can_connect(("127.0.0.1", 10026)))

    def peers(self):
        d = self.dir
        (d / "opendkim.conf").write_text(f"""\
Mode v
Socket local:{d}/opendkim.sock
AuthservID mx.local.bench
Background no
Syslog no
Nameservers 127.0.0.1
MinimumKeyBits 1024
AlwaysAddARHeader yes
SoftwareHeader no
PidFile {d}/opendkim.pid
UMask 000
""")
        (d / "opendmarc.conf").write_text(f"""\
Socket local:{d}/opendmarc.sock
AuthservID mx.local.bench
TrustedAuthservIDs mx.local.bench
Background false
Syslog false
SPFSelfValidate true
SPFIgnoreResults true
RejectFailures true
IgnoreAuthenticatedClients true
HoldQuarantinedMessages true
PublicSuffixList /usr/share/publicsuffix/public_suffix_list.dat
PidFile {d}/opendmarc.pid
UMask 000
FailureReports false
""")
        self.start("opendkim", ["opendkim", "-f", "-x", str(d / "opendkim.conf")],
                   lambda: can_connect(str(d / "opendkim.sock")))
        self.start("opendmarc", ["opendmarc", "-f", "-c", str(d / "opendmarc.conf")],
                   lambda: can_connect(str(d / "opendmarc.sock")))

    def bench(self, milters, sessions, messages, log=None, extra=()):
        cmd = [str(self.build / "tests/authmilter-bench"), "--corpus", str(self.corpus_dir), "--sessions", str(sessions),
               "--messages", str(messages), "--per-connection", str(self.args.per_connection), *extra]
        for m in milters:
            cmd += ["--milter", m]
        if log:
            cmd += ["--log", str(log)]
        r = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=3600)
        if r.returncode != 0:
            sys.exit("compare.py: authmilter-bench failed:\n" + r.stdout[-3000:])
        row = [line for line in r.stdout.splitlines() if re.match(r"^\s+\d+\s+\d+\s", line)][-1].split()
        return {"msgs": float(row[2]), "p50": float(row[3]), "p90": float(row[4]), "p99": float(row[5]),
                "max": float(row[6]), "outcomes": " ".join(row[7:])}


def setups(lab):
    d = lab.dir
    out = [("libmilter (unix)", [f"unix:{d}/authmilter.sock"], ["authmilter"]),
           ("libmilter (inet)", ["inet:10025@127.0.0.1"], ["authmilter-inet"]),
           ("native (unix)", [f"unix:{d}/native.sock"], ["native"]),
           ("native (inet)", ["inet:10026@127.0.0.1"], ["native-inet"])]
    if lab.args.only != "authmilter":
        out.append(("opendkim -> opendmarc", [f"unix:{d}/opendkim.sock", f"unix:{d}/opendmarc.sock"],
                    ["opendkim", "opendmarc"]))
    return out


def verdicts(path):
    return {line.split()[0]: " ".join(line.split()[2:]) for line in path.read_text().splitlines()
            if line.split()[1] == "result"}


def measure(lab, chosen, sessions, per):
    """Runs each setup `reps` times at `sessions` concurrency, `per` messages a session, taking
    the setups in turn within each repetition so that a drift in the machine's speed falls on
    all of them alike. Returns {setup: medians of msgs/s, p50, p99, CPU ms/msg; peak RSS}."""
    runs = {name: [] for name, _, _ in chosen}
    for _ in range(lab.args.reps):
        for name, milters, daemons in chosen:
            before = sum(cpu_seconds(lab.procs[x].pid) for x in daemons)
            result = lab.bench(milters, sessions, per)
            result["cpu"] = (sum(cpu_seconds(lab.procs[x].pid) for x in daemons) - before) * 1000 / (per * sessions)
            runs[name].append(result)
    out = {}
    for name, _, daemons in chosen:
        out[name] = {k: statistics.median(r[k] for r in runs[name]) for k in ("msgs", "p50", "p99", "cpu")}
        out[name]["rss"] = sum(peak_rss_mb(lab.procs[x].pid) for x in daemons)
    return out


def print_ratios(table, sessions_list):
    """The issue's targets as ratios of figures from the same run: each engine on its unix
    socket against the chain, and its inet socket against its unix socket."""
    chain = "opendkim -> opendmarc"
    print("\nratios (same run): each engine's unix socket against the chain, and its inet socket against unix")
    print(f"{'engine':10} {'sessions':>8} {'msgs/s x':>9} {'CPU ratio':>10} {'p99 ratio':>10} {'inet msgs/s':>12} "
          f"{'inet p99':>9}")
    for engine, unix, inet in (("libmilter", "libmilter (unix)", "libmilter (inet)"),
                               ("native", "native (unix)", "native (inet)")):
        for n in sessions_list:
            u, i, c = table.get((unix, n)), table.get((inet, n)), table.get((chain, n))
            cells = [f"{u['msgs'] / c['msgs']:>8.1f}x" if c else f"{'-':>9}",
                     f"{u['cpu'] / c['cpu']:>10.2f}" if c else f"{'-':>10}",
                     f"{u['p99'] / c['p99']:>10.2f}" if c else f"{'-':>10}",
                     f"{100 * (i['msgs'] / u['msgs'] - 1):>+11.0f}%", f"{100 * (i['p99'] / u['p99'] - 1):>+8.0f}%"]
            print(f"{engine:10} {n:>8} " + " ".join(cells))


def body_sizes(lab, args):
    """CPU per message and latency for corpora whose bodies all have one size (same domains and
    signatures, so the same DNS zone); authmilter alone and the chain, at 16 sessions."""
    print("\nby body size (every body the same size; 16 sessions; median of the runs):")
    print(f"{'setup':24} {'body':>8} {'msgs/s':>8} {'p50 ms':>8} {'p99 ms':>8} {'CPU ms/msg':>10}")
    mixed = lab.corpus_dir
    try:
        for size in args.sizes:
            lab.corpus(size, f"corpus-{size}")
            chosen = [setup for setup in setups(lab) if "inet" not in setup[0]]
            for name, med in measure(lab, chosen, 16, max(1, args.messages // 16)).items():
                print(f"{name:24} {size:>8} {med['msgs']:>8.0f} {med['p50']:>8.3f} {med['p99']:>8.3f} "
                      f"{med['cpu']:>10.3f}", flush=True)
    finally:
        lab.corpus_dir = mixed


def scale(lab, args):
    """On each engine: 1,000 slow sessions open at once, then a soak with authmilter's RSS sampled."""
    for daemon, socket in (("authmilter", "authmilter.sock"), ("native", "native.sock")):
        print(f"\n{daemon if daemon == 'native' else 'libmilter'} engine:")
        scale_one(lab, args, lab.procs[daemon].pid, [f"unix:{lab.dir}/{socket}"])


def scale_one(lab, args, pid, sock):
    samples = []
    done = threading.Event()

    def sample():
        while not done.is_set():
            samples.append(rss_mb(pid))
            done.wait(0.1)

    sampler = threading.Thread(target=sample)
    sampler.start()
    try:
        r = lab.bench(sock, args.hold_sessions, 1, extra=["--hold", "3000", "--timeout", "120"])
    finally:
        done.set()
        sampler.join()
    print(f"{args.hold_sessions} sessions held open at once (3 s idle after HELO, then one message each): "
          f"{r['outcomes']}, no errors; authmilter RSS {max(samples):.1f} MB at most "
          f"(threads now {len(os.listdir(f'/proc/{pid}/task'))})")
    if args.soak <= 0:
        return
    chunks = 20
    per_chunk = args.soak // chunks
    rss = []
    print(f"soak: {args.soak} messages at concurrency 16, authmilter RSS after each {per_chunk}:", flush=True)
    for _ in range(chunks):
        lab.bench(sock, 16, max(1, per_chunk // 16))
        rss.append(rss_mb(pid))
    warm = rss[1]
    print("  " + " ".join(f"{x:.1f}" for x in rss) + " MB")
    print(f"  growth after warm-up (after chunk 2 to the end): {100 * (rss[-1] - warm) / warm:+.1f} %")


def main_inside(args):
    lab = Lab(args)
    try:
        lab.corpus(args.body_size)
        lab.dns()
        lab.authmilter()
        if args.only != "authmilter":
            lab.peers()
        print(f"corpus: {args.corpus_size} messages (tests/bench/make_corpus.py), {args.messages} messages per run, "
              f"median of {args.reps} runs; {os.cpu_count()} CPUs; client and daemons share them")
        print(f"{'setup':24} {'sessions':>8} {'msgs/s':>8} {'p50 ms':>8} {'p99 ms':>8} {'CPU ms/msg':>10} "
              f"{'peak RSS MB':>11}")
        table = {}
        for sessions in args.sessions:  # setups side by side at each concurrency (the machine's speed drifts)
            for name, med in measure(lab, setups(lab), sessions, max(1, args.messages // sessions)).items():
                table[(name, sessions)] = med
                print(f"{name:24} {sessions:>8} {med['msgs']:>8.0f} {med['p50']:>8.3f} {med['p99']:>8.3f} "
                      f"{med['cpu']:>10.3f} {med['rss']:>11.1f}", flush=True)
        print_ratios(table, args.sessions)
        if args.only != "authmilter":
            print("\nverdicts, message by message (concurrency 1, the whole corpus):")
            theirs = lab.dir / "theirs.log"
            lab.bench([f"unix:{lab.dir}/opendkim.sock", f"unix:{lab.dir}/opendmarc.sock"], 1, args.corpus_size,
                      log=theirs)
            b = verdicts(theirs)
            for engine, socket in (("native", "native.sock"), ("libmilter", "authmilter.sock")):
                ours = lab.dir / f"ours-{engine}.log"
                lab.bench([f"unix:{lab.dir}/{socket}"], 1, args.corpus_size, log=ours)
                a = verdicts(ours)
                same = sum(1 for k in a if a[k].split()[0] == b.get(k, "").split()[0])
                print(f"  {engine}: same outcome as the chain for {same} of {len(a)}")
                groups = {}
                for k in sorted(a):
                    if a[k].split()[0] != b.get(k, "").split()[0]:
                        key = (a[k].split()[0], b.get(k, "-").split()[0], lab.kinds.get(k, "?"))
                        groups.setdefault(key, []).append(k)
                for (mine, peer, kind), names in sorted(groups.items()):
                    print(f"    authmilter {mine:10} chain {peer:10} {len(names):5} x  {kind}  (e.g. {names[0]})")
        if args.sizes:
            body_sizes(lab, args)
        if args.scale:
            scale(lab, args)
    finally:
        lab.stop()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", required=True)
    ap.add_argument("--messages", type=int, default=4000, help="messages per run")
    ap.add_argument("--corpus-size", type=int, default=1000)
    ap.add_argument("--sessions", default="1,4,16,64")
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--keep", action="store_true")
    ap.add_argument("--only", choices=["authmilter"])
    ap.add_argument("--dns", choices=["nsd", "testdns"], default="nsd")
    ap.add_argument("--per-connection", type=int, default=1, help="messages per SMTP session")
    ap.add_argument("--body-size", type=int, default=0, help="main corpus: every body this size (0: the mix)")
    ap.add_argument("--sizes", default="2048,204800", help="body sizes to compare alone ('' for none)")
    ap.add_argument("--scale", action="store_true", help="also hold many sessions open, and soak")
    ap.add_argument("--hold-sessions", type=int, default=1000)
    ap.add_argument("--soak", type=int, default=1000000, help="messages in the soak (with --scale; 0: none)")
    ap.add_argument("--inside", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args()
    args.sessions = [int(s) for s in args.sessions.split(",")]
    args.sizes = [int(s) for s in args.sizes.split(",") if s]
    if not args.inside:
        # A private network namespace (loopback only) and mount namespace (our resolv.conf).
        return subprocess.call(["unshare", "-n", "-m", "sh", "-c",
                                'ip link set lo up && exec "$@"', "sh", sys.executable, *sys.argv, "--inside"])
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(1))
    # 1,000 sessions need more than the usual 1,024 descriptors, in the driver and the daemons.
    hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
    resource.setrlimit(resource.RLIMIT_NOFILE, (min(65536, hard), hard))
    main_inside(args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
