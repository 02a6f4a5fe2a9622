# What the end-to-end test (mta_e2e.py) and its MTA set-ups (mtas.py) share: how a failed
# check is reported, how a command is run, and the test user's password.
import subprocess

PASSWORD = "Secret-Pass-1"


class Failure(Exception):
    pass


def check(condition, message):
    if not condition:
        raise Failure(message)


def run(cmd, **kw):
    return subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=120, **kw)
