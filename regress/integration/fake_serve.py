#!/usr/bin/python3
"""
A stand-in for `podrunner serve`, for the client libraries' tests of
what the real one does not do on demand: lines that are not events, a
podrunner that dies, one that does not read its requests while it
writes, one that will not stop.  It speaks the protocol of
/tmp/spec/serve.md (podrunner(1), serve) with Python's exec() as the
"worker"; no sandbox, no root.

    fake_serve.py serve [options...]

FAKE_SERVE in the environment picks the behaviour:

    normal   (default) the protocol, as the real one
    garbage  after ready: a line that is not JSON, one without "type",
             an unknown type, then as normal
    fail     "podrunner: --memory: bad size" on stderr, exit 125
             before reading anything
    die      exits 3 (no exit event) when the first submission comes
    flood    one request at a time, no reader thread: before running a
             submission, writes FAKE_FLOOD bytes (default 2 MiB) of
             output events, blocking, not reading requests meanwhile
    nostop   ignores stop, EOF and SIGTERM

Like podrunner serve on main: a stop (or EOF) runs what was sent first;
SIGTERM stops at once.

FAKE_SERVE_ARGS, if set, is a file where the command line and the
POD_POLICY_JSON variable are written (as JSON), for the tests to see.
"""

import _thread
import base64
import contextlib
import io
import json
import os
import queue
import signal
import sys
import threading
import time
import traceback

MODE = os.environ.get("FAKE_SERVE", "normal")
OUT = sys.stdout
_out_lock = threading.Lock()


def emit(ev):
    line = json.dumps(ev, separators=(",", ":")) + "\n"
    with _out_lock:
        OUT.write(line)
        OUT.flush()


class Output(io.TextIOBase):
    def __init__(self, stream, rid):
        self.stream, self.rid = stream, rid

    def write(self, s):
        if s:
            emit({"type": "output", "stream": self.stream, "data": s,
                  "id": self.rid})
        return len(s)


MAX_CODE = 512 * 1024


def run(ns_holder, code, rid, fresh, interrupted):
    if len(code.encode()) > MAX_CODE:
        # As podrunner serve: refused, with its id, no exec_end.
        emit({"type": "error", "id": rid, "data": f"submission of "
              f"{len(code.encode())} bytes does not fit the data plane"})
        return
    if fresh:
        # As podrunner serve: a new namespace, kept for what follows.
        ns_holder.clear()
    ns = ns_holder
    code_exit = 0
    try:
        emit({"type": "state", "data": {"worker": "exec_start"},
              "id": rid})
        with contextlib.redirect_stdout(Output("stdout", rid)), \
                contextlib.redirect_stderr(Output("stderr", rid)):
            exec(compile(code, "<submission>", "exec"), ns)
    except KeyboardInterrupt:
        emit({"type": "state", "data": {"worker": "interrupted"},
              "id": rid})
        code_exit = 130
    except SystemExit as e:
        code_exit = e.code if isinstance(e.code, int) else 1
    except BaseException as e:  # noqa: B902 - the worker reports all
        emit({"type": "state", "data": {
            "worker": "exception", "exc_type": type(e).__name__,
            "traceback": traceback.format_exc()}, "id": rid})
        code_exit = 1
    emit({"type": "state", "data": {"worker": "exec_end",
                                    "exit_code": code_exit}, "id": rid})
    emit({"type": "memory", "data": {"current": 1 << 20, "peak": 2 << 20,
                                     "limit": 64 << 20}, "id": rid})


def bye(code=0):
    emit({"type": "exit", "data": {"code": code}})
    sys.exit(code)


def start_events():
    emit({"type": "policy-loaded", "data": {"mode": "strict"}})
    if MODE == "garbage":
        with _out_lock:
            OUT.write("this is not JSON\n{\"data\":1}\n")
            OUT.flush()
        emit({"type": "net", "data": {"host": "example.com"}})
    emit({"type": "ready"})


def parse(n, line):
    try:
        req = json.loads(line)
        if not isinstance(req, dict) or not isinstance(req.get("op"), str):
            raise ValueError("not an object with an op")
        return req
    except ValueError as e:
        emit({"type": "error", "data": f"request line {n}: {e}"})
        return None


def serve_flood():
    """One request at a time, and a flood before each submission."""
    size = int(os.environ.get("FAKE_FLOOD", str(2 << 20)))
    ns = {}
    for n, line in enumerate(sys.stdin, 1):
        req = parse(n, line)
        if req is None:
            continue
        op = req["op"]
        if op == "start":
            start_events()
        elif op == "send":
            chunk = "x" * 1023 + "\n"
            for _ in range(size // 1024):
                emit({"type": "output", "stream": "stdout", "data": chunk,
                      "id": req.get("id")})
            run(ns, req.get("code", ""), req.get("id"),
                req.get("fresh"), None)
        elif op == "stop":
            break
    bye(0)


def main():
    if len(sys.argv) < 2 or sys.argv[1] != "serve":
        print("podrunner: usage: fake_serve.py serve [options]",
              file=sys.stderr)
        sys.exit(125)
    if os.environ.get("FAKE_SERVE_ARGS"):
        fds = {}
        for fd in os.listdir("/proc/self/fd"):
            try:
                fds[fd] = os.readlink(f"/proc/self/fd/{fd}")
            except OSError:
                pass
        with open(os.environ["FAKE_SERVE_ARGS"], "w") as f:
            json.dump({"argv": sys.argv,
                       "policy": os.environ.get("POD_POLICY_JSON"),
                       "fds": fds}, f)
    if MODE == "fail":
        print("podrunner: --memory: bad size", file=sys.stderr)
        sys.exit(125)
    if MODE == "nostop":
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
    if MODE == "flood":
        serve_flood()
    print("fake_serve: serving", file=sys.stderr, flush=True)

    requests = queue.Queue()

    def stop_now(*_):
        # SIGTERM: at once, whatever runs, as podrunner serve does.
        with _out_lock:
            OUT.write('{"type":"exit","data":{"code":0}}\n')
            OUT.flush()
            os._exit(0)

    if MODE != "nostop":
        signal.signal(signal.SIGTERM, stop_now)

    def reader():
        # stop and EOF: after what was sent, as podrunner serve does.
        for n, line in enumerate(sys.stdin, 1):
            req = parse(n, line)
            if req is None:
                continue
            if req["op"] == "interrupt":
                _thread.interrupt_main()
                continue
            requests.put(req)
            if req["op"] == "stop":
                return
        requests.put({"op": "stop"})

    threading.Thread(target=reader, daemon=True).start()
    ns = {}
    while True:
        try:
            req = requests.get()
        except KeyboardInterrupt:
            continue    # an interrupt with nothing running
        op = req["op"]
        if op == "start":
            start_events()
        elif op == "send":
            if MODE == "die":
                os._exit(3)
            try:
                run(ns, req.get("code", ""), req.get("id"),
                    bool(req.get("fresh")), None)
            except KeyboardInterrupt:
                pass    # an interrupt just after the end
        elif op == "stop":
            if MODE == "nostop":
                while True:
                    time.sleep(3600)
            bye(0)
        else:
            emit({"type": "error", "data": f"unknown op {op!r}",
                  "id": req.get("id")})


if __name__ == "__main__":
    main()
