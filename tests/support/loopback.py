# Helpers the Python test and benchmark scripts share: waiting for a condition with a
# deadline (a hang becomes an error, not a stuck run), probing loopback listeners, and
# stopping the servers they started.
import socket
import subprocess
import time


class Timeout(Exception):
    pass


def wait_until(what, predicate, timeout=30.0):
    """Polls `predicate` until it returns something true, which it returns; Timeout after `timeout` s."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise Timeout("timed out waiting for " + what)
        time.sleep(0.05)


def can_connect(address):
    """True if something accepts connections at `address`: a unix socket path or (host, port)."""
    family = socket.AF_UNIX if isinstance(address, str) else socket.AF_INET
    with socket.socket(family) as s:
        s.settimeout(1)
        try:
            s.connect(address)
            return True
        except OSError:
            return False


def free_port():
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def stop_process(p, timeout=10.0):
    """SIGTERM, and SIGKILL if `p` (a subprocess.Popen) has not exited within `timeout` s."""
    if p.poll() is not None:
        return
    p.terminate()
    try:
        p.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        p.kill()
        p.wait()
