"""Permissions in podrunner: what a denial looks like, and the flag that
allows the same operation.

    podrunner run example/permissions.py
        every attempt below is denied; each line says which flag allows it

    podrunner run --allow-read=/etc/passwd --allow-sys=hostname \\
        --allow-env=GREETING example/permissions.py
        the same attempts succeed

A denial is a PermissionError (errno EACCES) with Deno's message, so a
script can catch it like any other OSError.  The script exits 0 either
way.
"""
import os
import socket


def attempt(what, operation):
    try:
        result = operation()
    except PermissionError as e:
        print(f"{what}: denied: {e}")
    else:
        print(f"{what}: allowed: {result}")


def users():
    with open("/etc/passwd") as f:
        return f"{sum(1 for _ in f)} accounts in /etc/passwd"


def greeting():
    os.environ["GREETING"] = "hello"
    return f"GREETING={os.environ['GREETING']}"


attempt("read", users)
attempt("sys", lambda: f"hostname {socket.gethostname()}")
attempt("env", greeting)
