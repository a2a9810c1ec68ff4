"""
Egress (issue 6): a pod reaches the network only through its proxy, and
the proxy asks policyd about every request, by name and again by each
address the name resolved to.

Every test here runs podrunner inside a network and mount namespace of
this module's own (the `netns` fixture), never in the host's: a holder
process (`unshare --net --mount`) keeps the namespaces alive, and every
podrunner runs under `nsenter` into them (conftest's podrunner() is
patched for this module, so conftest's run_case, Case and leftovers
check work unchanged).  In there:

  - loopback up, and the targets' addresses on an interface (a dummy
    one, or loopback where the kernel has no dummy driver):
    93.184.216.34 and 2606:2800:220:1::1 (public-looking: allowed
    targets), 10.0.0.5, 192.168.7.5 and 169.254.169.254 (built-in
    denied ranges);
  - /etc/hosts bind-mounted with the names below (HOSTS), and an
    /etc/resolv.conf naming 127.0.0.1 where no name server listens (a
    name not in the hosts file fails fast);
  - one server process (SERVER): HTTP/1.1 on every (address, port) in
    HTTP_SERVERS, a TCP echo on ECHO_SERVERS and broken servers on
    RAW_SERVERS, each logging what reached it (one line per request or
    connection) to a file the tests read.

A case is a list of operations the worker performs (CLIENT: urllib with
the environment's proxy, absolute-form requests, CONNECT tunnels, raw
bytes to the proxy, direct connections), each with its expected result,
and the exact set of requests that must reach a server: a denied
request reaches none, an allowed one reaches exactly the address the
name stands for, once.  The server's body names the server, the method,
the origin-form path and the Host header it got, so a 200 from the
wrong place, or a request forwarded in the wrong form, fails.

Security tests and their layer: each built-in denial (loopback, RFC
1918, link-local, cloud metadata, the proxy itself, IPv6 forms of
them) is paired with the same target allowed by address
(test_builtin_allowed_by_address): that the pair succeeds proves the
server is reachable from the proxy, so the 403 is the built-in deny
check's and nothing else's.  This was seen to fail with the check off:
a scratch copy of the tree with builtin_denied() (policyd/builtin.c)
returning NULL, run as PODRUNNER_BIN=/path/to/that/podrunner pytest
test_egress.py -k builtin, fails every test_builtin_* case that
expects a denial (sneaky.test then gets the loopback server's 200, the
proxy's own address a 502, both.test the private server); the
by-address cases pass there as here.  Direct connections (test_direct_*)
are refused by the pod's kernel layers, not the proxy: landlock (any
port but 8080: EACCES) and the network namespace (8080: ENETUNREACH, no
route); test_containment.py shows each of those layers alone.

No assertion is timed; the socket timeouts in the worker (T) only turn
a hang into a failure.
"""

import dataclasses
import hashlib
import json
import os
import re
import select
import shutil
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Optional, Sequence

import pytest

from conftest import (TIMEOUT, Case, Result, _can_run, _register, base_env,
                      run_case, write_script)

# --- the namespace's world ------------------------------------------------

PUBLIC4 = "93.184.216.34"
PUBLIC6 = "2606:2800:220:1::1"
PRIVATE10 = "10.0.0.5"
PRIVATE192 = "192.168.7.5"
METADATA = "169.254.169.254"

# Put on the interface (loopback already has 127.0.0.1 and ::1).
ADDRS4 = [PUBLIC4, PRIVATE10, PRIVATE192, METADATA]
ADDRS6 = [PUBLIC6]

HOSTS = f"""\
127.0.0.1 localhost
::1 localhost ip6-localhost
{PUBLIC4} example.test other.test
{PRIVATE10} private.test
{PRIVATE192} lan.test
127.0.0.1 sneaky.test
{METADATA} meta.test
{PUBLIC6} v6.test
{PRIVATE10} both.test
{PUBLIC4} both.test
"""

RESOLV = "nameserver 127.0.0.1\noptions timeout:1 attempts:1\n"

HTTP_SERVERS = [(PUBLIC4, 80), (PUBLIC4, 8000), (PRIVATE10, 80),
                (PRIVATE192, 80), ("127.0.0.1", 80), (METADATA, 80),
                (PUBLIC6, 80), ("::1", 80)]
ECHO_SERVERS = [(PUBLIC4, 7), (PUBLIC6, 7)]
# Servers that answer a request with these bytes (label: answer).
RAW_SERVERS = {
    f"{PUBLIC4}:8001": "garbage\r\n\r\n",
    f"{PUBLIC4}:8002": "HTTP/1.1 101 Switching Protocols\r\n"
                       "Upgrade: websocket\r\nConnection: Upgrade\r\n\r\n",
    f"{PUBLIC4}:8003": "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n"
                       "Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
    f"{PUBLIC4}:8004": "HTTP/1.1 200 OK\r\nX-Big: " + "a" * 70000 +
                       "\r\nContent-Length: 2\r\n\r\nok",
    # Good ones, framed otherwise than by Content-Length.
    f"{PUBLIC4}:8005": "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n"
                       "\r\n5\r\nhello\r\n6;ext=1\r\n world\r\n0\r\n"
                       "X-Trailer: t\r\n\r\n",
    f"{PUBLIC4}:8006": "HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n"
                       "until the server closes",
}


def label(addr, port):
    return f"[{addr}]:{port}" if ":" in addr else f"{addr}:{port}"


EX80 = label(PUBLIC4, 80)
EX8000 = label(PUBLIC4, 8000)
EX7 = label(PUBLIC4, 7)
V6_80 = label(PUBLIC6, 80)
V6_7 = label(PUBLIC6, 7)

# What /size/5000000 serves, as CLIENT's digest option prints it.
X5M = hashlib.sha256(b"x" * 5000000).hexdigest()

# The worker's socket timeout (seconds): a hang fails the case.
T = 10

# --- the servers (run as root inside the namespace) -----------------------

SERVER = r'''
import json, socket, socketserver, sys, threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

LOG = sys.argv[1]
HTTP = json.loads(sys.argv[2])
ECHO = json.loads(sys.argv[3])
RAW = json.loads(sys.argv[4])
lock = threading.Lock()


def log(line):
    with lock:
        with open(LOG, "a") as f:
            f.write(line + "\n")


def label(server):
    host, port = server.server_address[:2]
    return "[%s]:%d" % (host, port) if ":" in host else "%s:%d" % (host, port)


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *a):
        pass

    def body(self):
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            data = b""
            while True:
                n = int(self.rfile.readline().split(b";")[0].strip(), 16)
                if n == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    return data
                data += self.rfile.read(n)
                self.rfile.readline()
        n = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(n) if n else b""

    def answer(self):
        data = self.body()
        me = label(self.server)
        host = self.headers.get("Host")
        log("HTTP %s %s %s" % (me, self.command, self.path))
        if self.path.startswith("/size/"):
            body = b"x" * int(self.path.split("/")[2])
        elif self.path.endswith("/headers"):
            # What arrived, in order: the fields the proxy forwarded.
            body = (json.dumps(list(self.headers.items())) + "\n").encode()
        elif self.path.endswith("/peer"):
            # The proxy's end of the connection: the same port for
            # requests on one kept connection.
            body = ("peer %d\n" % self.client_address[1]).encode()
        else:
            body = ("hello from %s %s %s host=%s len=%d\n" % (
                me, self.command, self.path, host, len(data))).encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    do_GET = do_POST = do_PUT = do_HEAD = do_DELETE = answer


class Echo(socketserver.BaseRequestHandler):
    def handle(self):
        log("ECHO %s" % label(self.server))
        while True:
            try:
                d = self.request.recv(65536)
            except OSError:
                return
            if not d:
                return
            self.request.sendall(d)


class Raw(socketserver.BaseRequestHandler):
    """Reads a request head, answers with the bytes given, closes."""

    def handle(self):
        log("RAW %s" % label(self.server))
        data = b""
        while b"\r\n\r\n" not in data:
            d = self.request.recv(65536)
            if not d:
                return
            data += d
        self.request.sendall(RAW[label(self.server)].encode("latin-1"))


def server(base, addr, port, handler):
    class S(base):
        address_family = socket.AF_INET6 if ":" in addr else socket.AF_INET
        allow_reuse_address = True
        daemon_threads = True
        request_queue_size = 1024
    return S((addr, port), handler)


class TCP(socketserver.ThreadingTCPServer):
    pass


servers = [server(ThreadingHTTPServer, a, p, Handler) for a, p in HTTP]
servers += [server(TCP, a, p, Echo) for a, p in ECHO]
servers += [server(TCP, l.rsplit(":", 1)[0], int(l.rsplit(":", 1)[1]), Raw)
            for l in RAW]
for s in servers:
    threading.Thread(target=s.serve_forever, daemon=True).start()
print("READY", flush=True)
sys.stdin.read()
'''


@dataclasses.dataclass
class NetNS:
    pid: int                 # the holder
    dir: Path                # hosts, resolv.conf, server, log
    log: Path
    server: subprocess.Popen

    def nsenter(self):
        return ["nsenter", f"--target={self.pid}", "--net", "--mount", "--"]

    def run(self, *cmd, check=True):
        return subprocess.run([*self.nsenter(), *cmd], check=check,
                              capture_output=True, text=True, timeout=30)

    def log_lines(self):
        try:
            return self.log.read_text().splitlines()
        except FileNotFoundError:
            return []


def _ns(pid, kind):
    return os.readlink(f"/proc/{pid}/ns/{kind}")


def _start_holder():
    holder = subprocess.Popen(["unshare", "--net", "--mount",
                               "--propagation", "private", "sleep",
                               "infinity"], stdin=subprocess.DEVNULL)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            if _ns(holder.pid, "net") != _ns("self", "net") and \
                    _ns(holder.pid, "mnt") != _ns("self", "mnt"):
                return holder
        except OSError:
            pass
        if holder.poll() is not None:
            break
        time.sleep(0.01)
    holder.kill()
    holder.wait()
    pytest.fail("could not make the test network namespace "
                "(unshare --net --mount)", pytrace=False)


def _configure(ns):
    ns.run("ip", "link", "set", "lo", "up")
    dev = "lo"
    if ns.run("ip", "link", "add", "d0", "type", "dummy",
              check=False).returncode == 0:
        ns.run("ip", "link", "set", "d0", "up")
        dev = "d0"
    for a in ADDRS4:
        ns.run("ip", "addr", "add", f"{a}/32", "dev", dev)
    for a in ADDRS6:
        ns.run("ip", "-6", "addr", "add", f"{a}/128", "dev", dev, "nodad")
    (ns.dir / "hosts").write_text(HOSTS)
    (ns.dir / "resolv.conf").write_text(RESOLV)
    for name in ("hosts", "resolv.conf"):
        os.chmod(ns.dir / name, 0o644)
        ns.run("mount", "--bind", str(ns.dir / name), f"/etc/{name}")
    got = ns.run("cat", "/etc/hosts").stdout
    assert got == HOSTS, f"the namespace's /etc/hosts is {got!r}"


@pytest.fixture(scope="module")
def netns():
    """The namespaces, configured, with the servers running."""
    _can_run()
    d = Path(tempfile.mkdtemp(prefix="podrunner-egress-", dir="/var/tmp"))
    holder = _start_holder()
    server = None
    try:
        ns = NetNS(holder.pid, d, d / "server.log", None)
        _configure(ns)
        (d / "server.py").write_text(SERVER)
        server = subprocess.Popen(
            [*ns.nsenter(), "/usr/bin/python3", "-u", str(d / "server.py"),
             str(ns.log), json.dumps(HTTP_SERVERS),
             json.dumps(ECHO_SERVERS), json.dumps(RAW_SERVERS)],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE,
            stderr=subprocess.PIPE)
        ns.server = server
        ready, _, _ = select.select([server.stdout], [], [], 20)
        line = server.stdout.readline() if ready else b""
        if line != b"READY\n":
            server.kill()
            _, err = server.communicate()
            pytest.fail(f"the servers did not start: {line!r}\n"
                        f"{err.decode(errors='replace')}", pytrace=False)
        yield ns
    finally:
        if server is not None and server.poll() is None:
            server.kill()
            server.wait()
        holder.kill()
        holder.wait()
        shutil.rmtree(d, ignore_errors=True)


# --- podrunner, inside the namespace --------------------------------------

def _binary():
    if os.environ.get("PODRUNNER_BIN"):
        return Path(os.environ["PODRUNNER_BIN"]).absolute()
    return run_case.__globals__["PODRUNNER"]


@pytest.fixture(autouse=True)
def _in_netns(netns, monkeypatch):
    """conftest's podrunner(), run under nsenter into the namespace."""

    def podrunner(*args, input=b"", env=None, timeout=TIMEOUT, cwd=None):
        _can_run()
        cmd = [*netns.nsenter(), str(_binary()), *map(str, args)]
        # nsenter execs podrunner: the pid is podrunner's.
        p = subprocess.Popen(cmd, stdin=subprocess.PIPE,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                             env=base_env(env), cwd=cwd,
                             start_new_session=True)
        _register(p.pid)
        try:
            out, err = p.communicate(input, timeout=timeout)
        except subprocess.TimeoutExpired:
            p.kill()
            out, err = p.communicate()
            pytest.fail(f"podrunner hung for {timeout}s: {' '.join(cmd)}\n"
                        f"stdout: {out[-3000:]!r}\nstderr: "
                        f"{err[-3000:].decode('utf-8', 'replace')}",
                        pytrace=False)
        return Result(cmd, p.returncode, out,
                      err.decode("utf-8", "replace"))

    monkeypatch.setitem(run_case.__globals__, "podrunner", podrunner)
    yield


# --- the worker's side ----------------------------------------------------

PRELUDE = r'''
import errno, hashlib, http.client, json, socket, sys, threading, time
import urllib.error, urllib.request

PROXY = ("169.254.1.1", 8080)
T = @T@
socket.setdefaulttimeout(T)


class Reader:
    """Bytes of one connection, read as they are needed."""

    def __init__(self, sock):
        self.sock, self.buf = sock, b""

    def fill(self):
        d = self.sock.recv(65536)
        if not d:
            raise EOFError("connection closed")
        self.buf += d

    def line(self):
        while b"\n" not in self.buf:
            self.fill()
        i = self.buf.index(b"\n") + 1
        l, self.buf = self.buf[:i], self.buf[i:]
        return l

    def exactly(self, n):
        while len(self.buf) < n:
            self.fill()
        d, self.buf = self.buf[:n], self.buf[n:]
        return d

    def rest(self):
        try:
            while True:
                self.fill()
        except (EOFError, ConnectionResetError):
            pass
        d, self.buf = self.buf, b""
        return d


def response(rd, method="GET"):
    """(status, {lowercase header: value}, body) of one response."""
    first = rd.line().decode("latin-1").rstrip("\r\n")
    parts = first.split(" ", 2)
    if len(parts) < 2 or not parts[0].startswith("HTTP/1."):
        raise ValueError("bad status line %r" % first)
    status = int(parts[1])
    headers = {}
    while True:
        l = rd.line().decode("latin-1").rstrip("\r\n")
        if not l:
            break
        k, _, v = l.partition(":")
        headers[k.strip().lower()] = v.strip()
    if method == "HEAD" or status in (204, 304) or status < 200 or \
            (method == "CONNECT" and status == 200):
        body = b""
    elif "chunked" in headers.get("transfer-encoding", "").lower():
        body = b""
        while True:
            n = int(rd.line().split(b";")[0].strip(), 16)
            if n == 0:
                while rd.line() not in (b"\r\n", b"\n"):
                    pass
                break
            body += rd.exactly(n)
            rd.exactly(2)
    elif "content-length" in headers:
        body = rd.exactly(int(headers["content-length"]))
    else:
        body = rd.rest()
    return status, headers, body


def result(status, headers, body):
    get = headers.get
    return {"status": status, "decision": get("x-podrunner-decision"),
            "rule": get("x-podrunner-rule"),
            "body": body.decode("utf-8", "replace")}


def failure(e):
    if isinstance(e, OSError) and e.errno:
        return {"error": errno.errorcode.get(e.errno, str(e.errno)),
                "msg": str(e)}
    return {"error": type(e).__name__, "msg": str(e)}


def proxy():
    return socket.create_connection(PROXY, timeout=T)


def authority(url):
    return url.split("/", 3)[2]


def request_bytes(method, url, headers=None, body=b"", close=True,
                  version="1.1"):
    h = {"Host": authority(url)}
    h.update(headers or {})
    if body and "Transfer-Encoding" not in h:
        h["Content-Length"] = str(len(body))
    if close:
        h.setdefault("Connection", "close")
    return ("%s %s HTTP/%s\r\n" % (method, url, version) +
            "".join("%s: %s\r\n" % kv for kv in h.items()
                    if kv[1] is not None) +
            "\r\n").encode("latin-1") + body
'''

CLIENT = PRELUDE.replace("@T@", str(T)) + r'''

def op_urllib(o):
    data = o["body"].encode() if o.get("body") is not None else None
    req = urllib.request.Request(o["url"], data=data,
                                 method=o.get("method", "GET"))
    try:
        with urllib.request.urlopen(req, timeout=T) as r:
            return result(r.status, {k.lower(): v for k, v in
                                     r.headers.items()}, r.read())
    except urllib.error.HTTPError as e:
        return result(e.code, {k.lower(): v for k, v in e.headers.items()},
                      e.read())


def op_get(o):
    s = proxy()
    try:
        body = o.get("body", "").encode()
        if o.get("body_rep"):
            body = o["body_rep"][0].encode() * o["body_rep"][1]
        if o.get("chunked"):
            hdrs = dict(o.get("headers", {}), **{
                "Transfer-Encoding": "chunked"})
            body = b"".join(b"%x\r\n%s\r\n" % (len(body[i:i + 1000]),
                            body[i:i + 1000]) for i in
                            range(0, len(body), 1000)) + b"0\r\n\r\n"
        else:
            hdrs = o.get("headers", {})
        s.sendall(request_bytes(o.get("method", "GET"), o["url"], hdrs, body,
                                version=o.get("version", "1.1")))
        st, h, b = response(Reader(s), o.get("method", "GET"))
        r = result(st, h, b)
        if o.get("digest"):
            r["body"] = "%d bytes sha256 %s" % (
                len(b), hashlib.sha256(b).hexdigest())
        return r
    finally:
        s.close()


def op_pipeline(o):
    s = proxy()
    rd = Reader(s)
    out = []
    reqs = [(r.get("method", "GET"), request_bytes(
        r.get("method", "GET"), r["url"], r.get("headers"),
        r.get("body", "").encode(), close=False)) for r in o["reqs"]]
    try:
        if o["pipelined"]:
            s.sendall(b"".join(b for _, b in reqs))
        for method, b in reqs:
            try:
                if not o["pipelined"]:
                    s.sendall(b)
                out.append(result(*response(rd, method)))
            except (OSError, EOFError, ValueError) as e:
                out.append(failure(e))
                break
        return {"each": out}
    finally:
        s.close()


def op_tunnel(o):
    c = http.client.HTTPConnection(*PROXY, timeout=T)
    c.set_tunnel(o["host"], o["port"])
    try:
        c.request("GET", o["path"])
        r = c.getresponse()
        return result(r.status, {k.lower(): v for k, v in
                                 r.getheaders()}, r.read())
    finally:
        c.close()


KEPT = []


def op_connect(o):
    s = proxy()
    if o.get("keep"):
        KEPT.append(s)          # closed by the worker's exit
    try:
        s.sendall(("CONNECT %s HTTP/1.1\r\nHost: %s\r\n\r\n" % (
            o["target"], o["target"])).encode())
        rd = Reader(s)
        st, h, b = response(rd, "CONNECT")
        r = result(st, h, b)
        if st == 200:
            p = o["payload"].encode()
            s.sendall(p)
            r["echo"] = rd.exactly(len(p)).decode("utf-8", "replace")
        return r
    finally:
        if not o.get("keep"):
            s.close()


def op_raw(o):
    data = o["data"].encode("latin-1")
    if o.get("pad"):
        i = data.index(b"\r\n\r\n") + 2
        data = data[:i] + b"X-Big: " + b"a" * o["pad"] + b"\r\n" + data[i:]
    s = proxy()
    sent = "sent"
    try:
        try:
            s.sendall(data)
        except OSError as e:
            sent = failure(e)["error"]
        try:
            r = result(*response(Reader(s)))
        except (OSError, EOFError, ValueError) as e:
            r = failure(e)
        r["sent"] = sent
        return r
    finally:
        s.close()


def op_abort(o):
    # Half a request, then gone.
    s = proxy()
    s.sendall(o["data"].encode("latin-1"))
    s.close()
    return {"aborted": True}


def op_sleep(o):
    time.sleep(o["seconds"])
    return {"slept": True}


def op_direct(o):
    fam = socket.AF_INET6 if ":" in o["host"] else socket.AF_INET
    s = socket.socket(fam, socket.SOCK_STREAM)
    s.settimeout(T)
    try:
        s.connect((o["host"], o["port"]))
        return {"connected": True}
    finally:
        s.close()


for o in json.loads(sys.argv[1]):
    try:
        r = globals()["op_" + o["op"]](o)
    except Exception as e:
        r = failure(e)
    print("=> " + json.dumps(r), flush=True)
'''


# --- operations and what each must give -----------------------------------

def urllib_get(base, path=None, **exp):
    return {"op": "urllib", "base": base, "path": path}, exp


def get(base, method="GET", data=None, headers=None, chunked=False,
        path=None, digest=False, version="1.1", **exp):
    """
    An absolute-form request (data: the request body; a header whose
    value is None is not sent, Host included).
    """
    o = {"op": "get", "base": base, "method": method, "path": path,
         "headers": headers or {}, "chunked": chunked, "digest": digest,
         "version": version}
    if isinstance(data, tuple):         # (text, times): a big body
        o["body_rep"] = data
    elif data is not None:
        o["body"] = data
    return o, exp


def pipeline(*pairs, pipelined=True):
    """
    Several get()s on one connection to the proxy: all sent at once
    (pipelined) or each after the previous response (keep-alive).
    """
    return ({"op": "pipeline", "reqs": [o for o, _ in pairs],
             "pipelined": pipelined}, {"each": [e for _, e in pairs]})


def tunnel(host, port, **exp):
    return {"op": "tunnel", "host": host, "port": port}, exp


def connect(target, payload="ping through the tunnel\n", keep=False,
            **exp):
    """A CONNECT; keep: left open, for the worker's exit to close."""
    return {"op": "connect", "target": target, "payload": payload,
            "keep": keep}, exp


def raw(data, pad=0, **exp):
    return {"op": "raw", "data": data, "pad": pad}, exp


def direct(host, port, **exp):
    return {"op": "direct", "host": host, "port": port}, exp


def served(server, host, method="GET", length=0):
    """The server's answer: 200, and its body names it and the request."""
    return {"status": 200, "reach": ("HTTP", server, method),
            "decision": None,
            "body": (f"hello from {server} {method} {{path}} host={host} "
                     f"len={length}\n" if method != "HEAD" else "")}


def echoed(server, payload="ping through the tunnel\n"):
    return {"status": 200, "reach": ("ECHO", server), "echo": payload,
            "decision": None}


def denied(target, rule, addr=None):
    """
    403 from the proxy: the rule exactly, and its body in Deno's words
    (podrunner(1), NETWORK): the target, the address when an address was
    denied, the flag that would allow it, and the rule.
    """
    first = f'Requires net access to "{target}"'
    if addr is not None:
        first += f" (its address {addr})"
    first += f", run again with --allow-net={addr or target}"
    return {"status": 403, "decision": "deny", "rule": rule,
            "body": f"{first}\nDenied by: {rule}\n"}


def default_denied(target, layer=""):
    return denied(target, f"{layer}default: deny (run again with "
                  f"--allow-net={target})")


def builtin(target, rng, addr=None):
    """Denied by the built-in set: addr is what target resolved to."""
    addr = addr or target
    return denied(target, f"built-in: deny {rng} (name it by address to "
                  f"allow it: --allow-net={addr})", addr)


def _place(o, path):
    """The operation with its URL (or tunnel path) made from path."""
    o = dict(o)
    if o["op"] in ("urllib", "get"):
        path = o.pop("path") or path
        o["url"] = o.pop("base") + path
    elif o["op"] == "tunnel":
        o["path"] = path
    else:
        path = None
    return o, path


def run_ops(netns, name, pairs, flags=(), env=None, timeout=TIMEOUT):
    """
    Run CLIENT with the operations; each result must be what its pair
    says, and exactly the expected requests must have reached a
    server.  Returns (Result, results).
    """
    ops, checks = [], []        # checks: per op, [(path, exp)]
    for i, (o, e) in enumerate(pairs):
        if o["op"] == "pipeline":
            subs = [_place(so, f"/{name}/{i}.{j}")
                    for j, so in enumerate(o["reqs"])]
            o = dict(o, reqs=[so for so, _ in subs])
            checks.append([(path, se) for (_, path), se in
                           zip(subs, e["each"])])
        else:
            o, path = _place(o, f"/{name}/{i}")
            checks.append([(path, e)])
        ops.append(o)
    before = len(netns.log_lines())
    r = run_case(Case(name, CLIENT, args=[json.dumps(ops)], flags=flags,
                      env=env, timeout=timeout))
    got = [json.loads(l[3:]) for l in r.out.splitlines()
           if l.startswith("=> ")]
    ctx = r.describe()
    assert len(got) == len(ops), f"{len(got)} results for {len(ops)} " \
        f"operations\n{ctx}"
    bad, want_log = [], []
    for i, (chk, g, o) in enumerate(zip(checks, got, ops)):
        gs = g["each"] if o["op"] == "pipeline" and "each" in g else [g]
        for j, (path, e) in enumerate(chk):
            gj = gs[j] if j < len(gs) else {"error": "no response"}
            problems = check_result(e, gj, path)
            if problems:
                bad.append(f"  op {i}.{j} {json.dumps(o)[:300]}:\n    got "
                           f"{json.dumps(gj)[:1500]}\n    " +
                           "\n    ".join(problems))
            reach = e.get("reach")
            if reach is None and gj.get("status") == 200:
                reach = e.get("reach_if_200")
            if reach is not None and reach[0] == "HTTP":
                want_log.append(f"HTTP {reach[1]} {reach[2]} {path}")
            elif reach is not None:
                want_log.append(f"{reach[0]} {reach[1]}")
    assert not bad, "wrong results:\n" + "\n".join(bad) + "\n" + ctx
    # The servers log a request before answering it: all are in.
    got_log = netns.log_lines()[before:]
    assert sorted(got_log) == sorted(want_log), \
        f"requests that reached a server: {got_log}, want {want_log}\n{ctx}"
    return r, got


def check_result(e, g, path):
    p = []
    if "status" in e and g.get("status") != e["status"]:
        p.append(f"status {g.get('status')}, want {e['status']}")
    if "status_in" in e and g.get("status") not in e["status_in"]:
        p.append(f"status {g.get('status')}, want one of {e['status_in']}")
    if "error" in e:
        want = e["error"] if isinstance(e["error"], (set, frozenset)) \
            else {e["error"]}
        if g.get("error") not in want:
            p.append(f"error {g.get('error')}, want {sorted(want)}")
    for k in ("msg_has",):
        for s in e.get(k, ()):
            if s not in g.get("msg", ""):
                p.append(f"{s!r} not in the error message")
    if "decision" in e and g.get("decision") != e["decision"]:
        p.append(f"X-Podrunner-Decision {g.get('decision')!r}, want "
                 f"{e['decision']!r}")
    rule = g.get("rule") or ""
    if "rule" in e and g.get("rule") != e["rule"]:
        p.append(f"X-Podrunner-Rule {g.get('rule')!r}, want {e['rule']!r}")
    if "rule_prefix" in e and not rule.startswith(e["rule_prefix"]):
        p.append(f"X-Podrunner-Rule {rule!r} does not start with "
                 f"{e['rule_prefix']!r}")
    for s in e.get("rule_has", ()):
        if s not in rule:
            p.append(f"{s!r} not in X-Podrunner-Rule {rule!r}")
    if "body" in e:
        want = e["body"].replace("{path}", path or "")
        if g.get("body") != want:
            p.append(f"body {g.get('body')!r}, want {want!r}")
    for s in e.get("body_has", ()):
        if s not in (g.get("body") or ""):
            p.append(f"{s!r} not in the body")
    if "fields" in e:
        present, absent = e["fields"]
        try:
            sent = {k.lower(): v for k, v in json.loads(g.get("body", ""))}
        except ValueError:
            sent = {}
            p.append("the body is not the server's list of fields")
        for k, v in present.items():
            if sent.get(k.lower()) != v:
                p.append(f"field {k}: {sent.get(k.lower())!r} arrived, "
                         f"want {v!r}")
        for k in absent:
            if k.lower() in sent:
                p.append(f"field {k} arrived: {sent[k.lower()]!r}")
    if "slept" in e and g.get("slept") is not True:
        p.append("the worker could not sleep")
    if "aborted" in e and g.get("aborted") is not True:
        p.append("the client could not even send its half request")
    if "echo" in e and g.get("echo") != e["echo"]:
        p.append(f"echo {g.get('echo')!r}, want {e['echo']!r}")
    if e.get("no_rule") and g.get("rule") is not None:
        p.append(f"X-Podrunner-Rule on an allowed request: {rule!r}")
    return p


@dataclasses.dataclass
class E:
    """An egress case: flags (and a policy document) and operations."""
    name: str
    ops: Sequence[tuple]
    flags: Sequence[str] = ()
    doc: Optional[object] = None

    def __str__(self):
        return self.name


def doc_flags(doc):
    if doc is None:
        return []
    text = doc if isinstance(doc, str) else json.dumps(doc)
    return ["--policy", str(write_script("", ".json", data=text.encode()))]


def run_e(netns, c):
    return run_ops(netns, c.name, c.ops, [*doc_flags(c.doc), *c.flags])


# --- allowed --------------------------------------------------------------

ALLOWED = [
    # urllib, unchanged, through the environment's proxy variables.
    E("urllib", [urllib_get("http://example.test",
                            **served(EX80, "example.test"))],
      flags=["--allow-net=example.test"]),
    # Absolute-form, forwarded in origin-form with the URL's Host.
    E("absolute-form", [
        get("http://example.test", **served(EX80, "example.test")),
        get("http://example.test:8000", **served(EX8000,
                                                 "example.test:8000")),
        get("http://other.test", **served(EX80, "other.test")),
        get("http://example.test", method="HEAD",
            **served(EX80, "example.test", "HEAD")),
        get("http://example.test", method="POST", data="x" * 100000,
            **served(EX80, "example.test", "POST", 100000)),
        get("http://example.test", method="POST", data="y" * 5000,
            chunked=True, **served(EX80, "example.test", "POST", 5000)),
        get("http://example.test", method="PUT", data=("z", 8 << 20),
            **served(EX80, "example.test", "PUT", 8 << 20)),
        get("http://example.test", path="/size/5000000", digest=True,
            status=200, reach=("HTTP", EX80, "GET"),
            body=f"5000000 bytes sha256 {X5M}"),
    ], flags=["--allow-net=example.test,other.test"]),
    # The URL names the target; a Host header naming another is not
    # where the request goes (RFC 9112 3.2.2: a proxy replaces it).
    E("host-header-ignored", [
        get("http://example.test", headers={"Host": "sneaky.test"},
            **served(EX80, "example.test")),
    ], flags=["--allow-net=example.test"]),
    # CONNECT: http.client's tunnel with HTTP inside it, and a raw
    # CONNECT to the echo server.
    E("connect", [
        tunnel("example.test", 80, **served(EX80, "example.test")),
        connect("example.test:7", **echoed(EX7)),
    ], flags=["--allow-net=example.test"]),
    # A port rule: :80 only.
    E("port-rule", [
        get("http://example.test", **served(EX80, "example.test")),
        get("http://example.test:8000",
            **default_denied("example.test:8000")),
        connect("example.test:7", **default_denied("example.test:7")),
    ], flags=["--allow-net=example.test:80"]),
    # A wildcard: every name under .test, not "test" itself.
    E("wildcard", [
        get("http://example.test", **served(EX80, "example.test")),
        get("http://other.test:8000", **served(EX8000, "other.test:8000")),
        connect("example.test:7", **echoed(EX7)),
        get("http://test", **default_denied("test:80")),
    ], flags=["--allow-net=*.test"]),
    # IPv6: by name (AAAA from /etc/hosts) and by literal.
    E("ipv6", [
        get("http://v6.test", **served(V6_80, "v6.test")),
        get(f"http://[{PUBLIC6}]", **served(V6_80, f"[{PUBLIC6}]")),
        connect(f"[{PUBLIC6}]:7", **echoed(V6_7)),
        connect("v6.test:7", **echoed(V6_7)),
    ], flags=[f"--allow-net=v6.test,[{PUBLIC6}]"]),
    # --allow-net alone allows every (public) host; urllib too.
    E("allow-all", [
        get("http://example.test", **served(EX80, "example.test")),
        urllib_get("http://other.test:8000",
                   **served(EX8000, "other.test:8000")),
        get(f"http://{PUBLIC4}", **served(EX80, PUBLIC4)),
    ], flags=["--allow-net"]),
    # The policy document allows it (both shapes).
    E("document-v1", [
        get("http://example.test", **served(EX80, "example.test")),
        get("http://other.test", **default_denied("other.test:80")),
    ], doc={"version": 1, "rules": {"net": {"allow": ["example.test"]}}}),
    E("document-sandboxconfig", [
        get("http://example.test", **served(EX80, "example.test")),
        get("http://other.test", **default_denied("other.test:80",
                                                  "policy ")),
    ], doc={"network": {"allow_list": ["example.test"]}}),
]


@pytest.mark.parametrize("c", ALLOWED, ids=str)
def test_allowed(netns, c):
    run_e(netns, c)


# --- denied by the rules --------------------------------------------------

FLAG_DENY_EX = "flag --deny-net=example.test"
CIDR4 = "flag --deny-net=93.184.216.0/24"

DENIED = [
    # Nothing allows it: the default, with Deno's hint.  A refused
    # tunnel is http.client's error (the man page's words).
    E("default", [
        get("http://example.test", **default_denied("example.test:80")),
        urllib_get("http://example.test",
                   **default_denied("example.test:80")),
        connect("example.test:7", **default_denied("example.test:7")),
        tunnel("example.test", 80, error="OSError",
               msg_has=["Tunnel connection failed: 403 Forbidden"]),
    ]),
    E("flag-deny", [
        get("http://example.test", **denied("example.test:80",
                                            FLAG_DENY_EX)),
        get("http://other.test", **served(EX80, "other.test")),
    ], flags=["--allow-net", "--deny-net=example.test"]),
    # Deny beats allow within a layer.
    E("deny-beats-allow", [
        get("http://example.test", **denied("example.test:80",
                                            FLAG_DENY_EX)),
        connect("example.test:7", **denied("example.test:7",
                                           FLAG_DENY_EX)),
    ], flags=["--allow-net=example.test", "--deny-net=example.test"]),
    # The seeds' case: the document allows it, a flag denies it.
    E("flag-over-document", [
        get("http://example.test", **denied("example.test:80",
                                            FLAG_DENY_EX)),
    ], flags=["--deny-net=example.test"],
       doc={"version": 1, "rules": {"net": {"allow": ["example.test"]}}}),
    E("flag-over-sandboxconfig", [
        get("http://example.test", **denied("example.test:80",
                                            FLAG_DENY_EX)),
    ], flags=["--deny-net=example.test"],
       doc={"network": {"allow_list": ["example.test"]}}),
    # The document denies what a wildcard in it allows (the rule names
    # the document's position, which the check below reads loosely).
    E("document-deny", [
        get("http://example.test", status=403, decision="deny",
            rule_prefix="policy /", rule_has=[" deny-net=example.test"],
            body_has=['Requires net access to "example.test:80", run again '
                      'with --allow-net=example.test:80\nDenied by: '
                      'policy /']),
        get("http://other.test", **served(EX80, "other.test")),
    ], doc={"version": 1, "rules": {"net": {"allow": ["*.test"],
                                            "deny": ["example.test"]}}}),
    # A CIDR deny refuses the name once it resolved into the CIDR.
    E("cidr-deny-after-resolution", [
        get("http://example.test", **denied("example.test:80", CIDR4,
                                            f"{PUBLIC4}:80")),
        connect("other.test:7", **denied("other.test:7", CIDR4,
                                         f"{PUBLIC4}:7")),
        get("http://v6.test", **served(V6_80, "v6.test")),
    ], flags=["--allow-net", "--deny-net=93.184.216.0/24"]),
    E("ipv6-cidr-deny", [
        get("http://v6.test", **denied(
            "v6.test:80", "flag --deny-net=2606:2800::/32", V6_80)),
        get("http://example.test", **served(EX80, "example.test")),
    ], flags=["--allow-net", "--deny-net=2606:2800::/32"]),
    # A name that does not resolve, a port nothing listens on: 502 (not
    # a policy answer), and the next request is served.
    E("unresolvable", [
        get("http://nosuch.test", status=502, decision=None,
            body_has=['cannot resolve "nosuch.test"']),
        get("http://example.test:81", status=502, decision=None),
        connect("example.test:81", status=502, decision=None),
        get("http://example.test", **served(EX80, "example.test")),
    ], flags=["--allow-net"]),
    # The SandboxConfig's allow list: what it does not list is denied
    # by the document's default.
    E("sandboxconfig-default", [
        get("http://other.test", **default_denied("other.test:80",
                                                  "policy ")),
    ], doc={"network": {"allow_list": ["example.test"]}}),
]


@pytest.mark.parametrize("c", DENIED, ids=str)
def test_denied(netns, c):
    run_e(netns, c)


# --- the built-in deny set ------------------------------------------------
#
# With --allow-net (every host), names and literals that reach the
# host's loopback, private networks, link-local (cloud metadata, the
# pod's own proxy) get 403 and the rule names "built-in" and the range.
# test_builtin_allowed_by_address shows each server is reachable when
# the address is named: the built-in check, and only it, refuses these.

LOOP4 = "loopback 127.0.0.0/8"
LOOP6 = "loopback ::1"
RFC10 = "private network 10.0.0.0/8 (RFC 1918)"
RFC192 = "private network 192.168.0.0/16 (RFC 1918)"
LINK = "link-local 169.254.0.0/16 (cloud metadata, the pod's proxy)"
L127 = "127.0.0.1:80"

BUILTIN = [
    ("sneaky-name", get("http://sneaky.test",
                        **builtin("sneaky.test:80", LOOP4, L127))),
    ("localhost", get("http://localhost",
                      **builtin("localhost:80", LOOP4, L127))),
    ("private-name", get("http://private.test", **builtin(
        "private.test:80", RFC10, f"{PRIVATE10}:80"))),
    ("lan-name", get("http://lan.test", **builtin(
        "lan.test:80", RFC192, f"{PRIVATE192}:80"))),
    ("metadata-name", get("http://meta.test", **builtin(
        "meta.test:80", LINK, f"{METADATA}:80"))),
    ("metadata-literal", get(f"http://{METADATA}",
                             **builtin(f"{METADATA}:80", LINK))),
    ("loopback-literal", get("http://127.0.0.1", **builtin(L127, LOOP4))),
    ("loopback-other", get("http://127.1.2.3",
                           **builtin("127.1.2.3:80", LOOP4))),
    ("private-literal", get(f"http://{PRIVATE10}",
                            **builtin(f"{PRIVATE10}:80", RFC10))),
    ("unspecified", get("http://0.0.0.0", **builtin(
        "0.0.0.0:80", '"this network" 0.0.0.0/8'))),
    ("v6-loopback", get("http://[::1]", **builtin("[::1]:80", LOOP6))),
    ("v6-unspecified", get("http://[::]", **builtin("[::]:80",
                                                    "unspecified ::"))),
    ("v4-mapped", get("http://[::ffff:127.0.0.1]",
                      **builtin("[::ffff:127.0.0.1]:80", LOOP4))),
    ("v4-mapped-private", get("http://[::ffff:10.0.0.5]",
                              **builtin("[::ffff:10.0.0.5]:80", RFC10))),
    ("nat64", get("http://[64:ff9b::7f00:1]", **builtin(
        "[64:ff9b::7f00:1]:80", LOOP4 + " in NAT64 64:ff9b::/96"))),
    ("6to4-private", get("http://[2002:a00:5::1]", **builtin(
        "[2002:a00:5::1]:80", RFC10 + " in 6to4 2002::/16"))),
    ("the-proxy", get("http://169.254.1.1:8080",
                      **builtin("169.254.1.1:8080", LINK))),
    ("connect-sneaky", connect("sneaky.test:80",
                               **builtin("sneaky.test:80", LOOP4, L127))),
    ("connect-metadata", connect(f"{METADATA}:80",
                                 **builtin(f"{METADATA}:80", LINK))),
    ("connect-v6-loopback", connect("[::1]:80",
                                    **builtin("[::1]:80", LOOP6))),
    ("connect-the-proxy", connect("169.254.1.1:8080",
                                  **builtin("169.254.1.1:8080", LINK))),
]


@pytest.mark.parametrize("op", [b[1] for b in BUILTIN],
                         ids=[b[0] for b in BUILTIN])
def test_builtin_denied(netns, op):
    run_ops(netns, "builtin", [op], ["--allow-net"])


def test_builtin_denied_all_at_once(netns):
    # The same in one pod, and a public host still works after them.
    run_ops(netns, "builtin-all", [b[1] for b in BUILTIN] +
            [get("http://example.test", **served(EX80, "example.test"))],
            ["--allow-net"])


def test_builtin_wildcard_names(netns):
    # "*.test" allows the names; their addresses stay refused.
    run_ops(netns, "builtin-wildcard", [
        get("http://sneaky.test", **builtin("sneaky.test:80", LOOP4, L127)),
        get("http://private.test", **builtin("private.test:80", RFC10,
                                             f"{PRIVATE10}:80")),
        get("http://meta.test", **builtin("meta.test:80", LINK,
                                          f"{METADATA}:80")),
        get("http://example.test", **served(EX80, "example.test")),
    ], ["--allow-net=*.test"])


def test_builtin_name_rule_does_not_allow(netns):
    # Naming the host is not naming its address.
    run_ops(netns, "builtin-by-name", [
        get("http://private.test", **builtin("private.test:80", RFC10,
                                             f"{PRIVATE10}:80")),
        get("http://sneaky.test", **builtin("sneaky.test:80", LOOP4, L127)),
    ], ["--allow-net=private.test,sneaky.test"])


NUMERIC = ("built-in: deny a numeric host that is not an IPv4 address "
           "a.b.c.d (some parsers read it as one)")


def test_builtin_numeric_forms(netns):
    # Other spellings of 127.0.0.1 that some parsers read as an address
    # are refused as such (podrunner(1)); the loopback server is never
    # reached.
    run_ops(netns, "builtin-spellings", [
        get(f"http://{h}", status=403, decision="deny", rule=NUMERIC)
        for h in ("2130706433", "127.1", "0x7f000001", "0177.0.0.1",
                  "0x7f.0.0.1")
    ] + [
        # A trailing dot: a name (policyd ignores one trailing dot), that
        # resolves to loopback.
        get("http://127.0.0.1.", **builtin(L127, LOOP4)),
    ], ["--allow-net"])


def test_builtin_mixed_name_never_reaches_private(netns):
    # both.test resolves to a private address first and a public one:
    # refused, or served by the public one, never by the private one.
    run_ops(netns, "builtin-mixed", [
        get("http://both.test", status_in=(200, 403),
            reach_if_200=("HTTP", EX80, "GET")),
    ], ["--allow-net"])


BY_ADDRESS = [
    # (name, flags, the operation): each a built-in target above,
    # allowed by naming its address or a CIDR holding it.
    ("cidr-private", ["--allow-net=10.0.0.0/8,private.test"],
     get("http://private.test", **served(label(PRIVATE10, 80),
                                         "private.test"))),
    ("cidr-private-literal", ["--allow-net=10.0.0.0/8"],
     get(f"http://{PRIVATE10}", **served(label(PRIVATE10, 80), PRIVATE10))),
    ("lan", ["--allow-net=192.168.7.5,lan.test"],
     get("http://lan.test", **served(label(PRIVATE192, 80), "lan.test"))),
    ("loopback", ["--allow-net=127.0.0.1"],
     get("http://127.0.0.1", **served(label("127.0.0.1", 80),
                                      "127.0.0.1"))),
    ("sneaky", ["--allow-net=sneaky.test,127.0.0.0/8"],
     get("http://sneaky.test", **served(label("127.0.0.1", 80),
                                        "sneaky.test"))),
    ("metadata", ["--allow-net=meta.test,169.254.169.254"],
     get("http://meta.test", **served(label(METADATA, 80), "meta.test"))),
    ("v6-loopback", ["--allow-net=[::1]"],
     get("http://[::1]", **served(label("::1", 80), "[::1]"))),
    # The explicit allow reaches the server even with "*" next to it
    # (in one layer, the address rule speaks where "*" does not).
    ("cidr-with-star", ["--allow-net=*,10.0.0.0/8"],
     get("http://private.test", **served(label(PRIVATE10, 80),
                                         "private.test"))),
    ("cidr-with-star-document", [{"version": 1, "rules": {"net": {
        "allow": ["*", "10.0.0.0/8"]}}}],
     get("http://private.test", **served(label(PRIVATE10, 80),
                                         "private.test"))),
    # The same given as two flags: --allow-net (every host) and
    # --allow-net=10.0.0.0/8 (that block, built-in or not).
    ("cidr-with-bare-flag", ["--allow-net", "--allow-net=10.0.0.0/8"],
     get("http://private.test", **served(label(PRIVATE10, 80),
                                         "private.test"))),
]


@pytest.mark.parametrize("flags,op", [(b[1], b[2]) for b in BY_ADDRESS],
                         ids=[b[0] for b in BY_ADDRESS])
def test_builtin_allowed_by_address(netns, flags, op):
    # A dict among the flags is a policy document.
    flags = [f for x in flags for f in (doc_flags(x) if isinstance(x, dict)
                                        else [x])]
    run_ops(netns, "by-address", [op], flags)


def test_builtin_cidr_allow_is_not_all(netns):
    # 10.0.0.0/8 named does not open 127.0.0.1 or 169.254.169.254.
    run_ops(netns, "cidr-narrow", [
        get("http://private.test", **served(label(PRIVATE10, 80),
                                            "private.test")),
        get("http://sneaky.test", **builtin("sneaky.test:80", LOOP4, L127)),
        get("http://meta.test", **builtin("meta.test:80", LINK,
                                          f"{METADATA}:80")),
    ], ["--allow-net=10.0.0.0/8,*.test"])


# --- around the proxy -----------------------------------------------------

def test_direct_connection_hook(netns):
    # No flag: the runtime's hook refuses before the kernel is asked.
    run_ops(netns, "direct-hook", [
        direct(PUBLIC4, 80, error="EACCES",
               msg_has=[f'Requires net access to "{PUBLIC4}:80"']),
    ])


def test_direct_connection_kernel(netns):
    # The hook allows (--allow-net), the pod's kernel layers refuse:
    # landlock lets TCP reach port 8080 only (EACCES), and the pod's
    # network namespace has no route to anything but its loopback
    # (ENETUNREACH, port 8080 so that landlock lets it through).  The
    # servers are reachable through the proxy (last operation).
    run_ops(netns, "direct-kernel", [
        direct(PUBLIC4, 80, error="EACCES"),
        direct(PUBLIC4, 7, error="EACCES"),
        direct(PUBLIC4, 8080, error="ENETUNREACH"),
        direct(PUBLIC6, 8080, error="ENETUNREACH"),
        direct("127.0.0.1", 80, error="EACCES"),
        get("http://example.test", **served(EX80, "example.test")),
    ], ["--allow-net"])


MALFORMED = [
    raw("HELLO\r\n\r\n", status=400),
    raw("GET http://example.test/ HTTP/1.1\r\nHost example.test\r\n\r\n",
        status=400),
    raw("GET http://example.test/ HTTP/1.1\r\nHost: example.test\r\n\r\n",
        pad=70000, status=400),
    raw("POST http://example.test/ HTTP/1.1\r\nHost: example.test\r\n"
        "Content-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
        status=400),
    # Whitespace before the colon (RFC 9112 5.1: must be rejected).
    raw("GET http://example.test/ HTTP/1.1\r\nHost : example.test\r\n\r\n",
        status=400),
    # Two different lengths, a negative one.
    raw("POST http://example.test/ HTTP/1.1\r\nHost: example.test\r\n"
        "Content-Length: 1\r\nContent-Length: 2\r\n\r\nxx", status=400),
    raw("POST http://example.test/ HTTP/1.1\r\nHost: example.test\r\n"
        "Content-Length: -1\r\n\r\n", status=400),
    # A request line with no target, a CONNECT with no port.
    raw("GET HTTP/1.1\r\nHost: example.test\r\n\r\n", status=400),
    raw("CONNECT example.test HTTP/1.1\r\nHost: example.test\r\n\r\n",
        status=400),
    raw("\x00\x01\x02\x03 binary \xff\xfe\r\n\r\n", status=400),
]


ABORTED = [
    ({"op": "abort", "data": d}, {"aborted": True}) for d in (
        "GET http://exa",
        "GET http://example.test/ HTTP/1.1\r\nHost: exam",
        "CONNECT example.test:7 HTTP/1.1\r\nHost: exa",
        # (other.test is denied: nothing is forwarded before its body)
        "POST http://other.test/ HTTP/1.1\r\nHost: other.test\r\n"
        "Content-Length: 100000\r\n\r\npartial body",
    )
]


def test_malformed_requests(netns):
    # Each on its own connection gets 400, reaches no server, and the
    # proxy keeps serving: a good request after them works (and after
    # clients that leave in the middle of a request).
    run_ops(netns, "malformed", MALFORMED + ABORTED * 5 + [
        get("http://example.test", **served(EX80, "example.test")),
    ], ["--allow-net=example.test"])


MORE_MALFORMED = [
    # podrunner(1): lines end in CR LF, one Host field, at most 100
    # fields, a request line of at most 8 KiB; a request in origin form
    # is one sent to a server, not to a proxy.
    raw("GET http://example.test/ HTTP/1.1\nHost: example.test\n\n",
        status=400),
    raw("GET http://example.test/ HTTP/1.1\r\nHost: example.test\r\n"
        "Host: other.test\r\n\r\n", status=400),
    raw("GET http://example.test/ HTTP/1.1\r\nHost: example.test\r\n" +
        "".join(f"X-F{i}: {i}\r\n" for i in range(101)) + "\r\n",
        status=400),
    raw("GET http://example.test/" + "a" * 9000 +
        " HTTP/1.1\r\nHost: example.test\r\n\r\n", status_in=(400, 414)),
    raw("GET /origin-form HTTP/1.1\r\nHost: example.test\r\n\r\n",
        status=400),
    # Obsolete line folding (RFC 9112 5.2: a proxy must reject or
    # replace it).
    raw("GET http://example.test/ HTTP/1.1\r\nHost: example.test\r\n"
        "X-A: 1\r\n  folded\r\n\r\n", status=400),
]


def test_malformed_more(netns):
    # The rest of the strict parsing podrunner(1) describes.
    run_ops(netns, "malformed-more", MORE_MALFORMED + [
        get("http://example.test", **served(EX80, "example.test")),
    ], ["--allow-net=example.test"])


NOT_IMPLEMENTED = [
    # 501: https in absolute form (use CONNECT), another scheme, a
    # transfer coding other than chunked.
    raw("GET https://example.test/ HTTP/1.1\r\nHost: example.test\r\n\r\n",
        status=501),
    raw("GET ftp://example.test/ HTTP/1.1\r\nHost: example.test\r\n\r\n",
        status=501),
    raw("POST http://example.test/ HTTP/1.1\r\nHost: example.test\r\n"
        "Transfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n", status=501),
]


def test_not_implemented(netns):
    run_ops(netns, "not-implemented", NOT_IMPLEMENTED + [
        get("http://example.test", **served(EX80, "example.test")),
    ], ["--allow-net=example.test"])


def test_forwarded_fields(netns):
    # Forwarded in origin form with Host from the URL, "Via: 1.1
    # podrunner", and without the hop-by-hop fields: the fixed ones and
    # those Connection names (podrunner(1)); the worker's credentials
    # for a proxy never reach a server.
    hdrs = {"Host": "sneaky.test", "Connection": "close, X-Hop",
            "X-Hop": "secret", "Proxy-Connection": "keep-alive",
            "Keep-Alive": "timeout=5", "Proxy-Authorization": "Basic eDp5",
            "TE": "trailers", "Upgrade": "h2c", "X-Keep": "kept",
            "User-Agent": "egress-test"}
    run_ops(netns, "fields", [
        get("http://example.test:8000", path="/fields/headers",
            headers=hdrs, status=200, reach=("HTTP", EX8000, "GET"),
            fields=({"Host": "example.test:8000", "Via": "1.1 podrunner",
                     "X-Keep": "kept", "User-Agent": "egress-test"},
                    ["X-Hop", "Proxy-Connection", "Keep-Alive",
                     "Proxy-Authorization", "TE", "Upgrade"])),
        # HTTP/1.0 with no Host: the proxy gives the server one.
        get("http://example.test", path="/fields10/headers", version="1.0",
            headers={"Host": None, "Connection": None}, status=200,
            reach=("HTTP", EX80, "GET"),
            fields=({"Host": "example.test", "Via": "1.0 podrunner"}, [])),
    ], ["--allow-net=example.test"])


def test_authority_tricks(netns):
    # What names the host is the URL's authority, parsed one way:
    # userinfo, case, a trailing dot, ports out of range, an IPv6 zone.
    # None of these may reach a server the rules do not allow.
    run_ops(netns, "authority", [
        get("http://example.test@sneaky.test", status_in=(400, 403)),
        get("http://example.test:80@127.0.0.1", status_in=(400, 403)),
        get("http://sneaky.test#@example.test", status_in=(400, 403)),
        get("http://example.test\\@sneaky.test", status_in=(400, 403)),
        # The same with a Host field the rules allow: the URL decides.
        get("http://example.test@sneaky.test",
            headers={"Host": "example.test"}, status_in=(400, 403)),
        get("http://sneaky.test#@example.test",
            headers={"Host": "example.test"}, status_in=(400, 403)),
        get("http://example.test:80@127.0.0.1",
            headers={"Host": "example.test"}, status_in=(400, 403)),
        get("http://example.test:0", status=400),
        get("http://example.test:65536", status=400),
        get("http://example.test:80x", status=400),
        get("http://[fe80::1%25lo]", status_in=(400, 403)),
        get("http://", status=400),
        get("http://ex\xe4mple.test", status=400),
        get("http://example.test%0d%0aX-A:b", status_in=(400, 403)),
        get("http://" + "a" * 250 + ".test", status_in=(400, 403)),
        get("http://EXAMPLE.TEST", status=200, reach=("HTTP", EX80, "GET")),
        get("http://example.test.", status=200, reach=("HTTP", EX80, "GET")),
    ], ["--allow-net=example.test"])


def test_each_request_decided(netns):
    # One client connection, several requests: each is decided on its
    # own, even when the connection to the server is kept and the next
    # host lives at the same address (other.test is example.test's
    # address, denied by name).
    run_ops(netns, "each-decided", [
        pipeline(get("http://example.test", **served(EX80, "example.test")),
                 get("http://other.test", **denied("other.test:80",
                                                   "flag --deny-net="
                                                   "other.test")),
                 pipelined=False),
        pipeline(get("http://example.test", **served(EX80, "example.test")),
                 get("http://example.test:8000",
                     **served(EX8000, "example.test:8000")),
                 get("http://other.test", **denied("other.test:80",
                                                   "flag --deny-net="
                                                   "other.test"))),
    ], ["--allow-net=example.test", "--deny-net=other.test"])


def test_upstream_kept(netns):
    # "the connection to a server is kept for the next request to the
    # same host and port": two requests on one client connection arrive
    # on one connection at the server.
    r, got = run_ops(netns, "upstream-kept", [
        pipeline(get("http://example.test", path="/k1/peer", status=200,
                     reach=("HTTP", EX80, "GET")),
                 get("http://example.test", path="/k2/peer", status=200,
                     reach=("HTTP", EX80, "GET")), pipelined=False),
    ], ["--allow-net=example.test"])
    a, b = [x["body"] for x in got[0]["each"]]
    assert a == b and a.startswith("peer "), r.describe()


def test_upstream_framing(netns):
    # A chunked response and one delimited by the server's close reach
    # the worker whole.
    run_ops(netns, "framing", [
        get("http://example.test:8005", status=200, body="hello world",
            reach=("RAW", f"{PUBLIC4}:8005")),
        get("http://example.test:8006", status=200,
            body="until the server closes",
            reach=("RAW", f"{PUBLIC4}:8006")),
        pipeline(get("http://example.test:8005", status=200,
                     body="hello world", reach=("RAW", f"{PUBLIC4}:8005")),
                 get("http://example.test", **served(EX80, "example.test")),
                 pipelined=False),
    ], ["--allow-net=example.test"])


def test_bad_upstream(netns):
    # The server's response is malformed, switches protocols, frames
    # its body two ways, or has a head over 64 KiB: 502, never passed on.
    run_ops(netns, "bad-upstream", [
        get(f"http://example.test:{port}", status=502,
            reach=("RAW", f"{PUBLIC4}:{port}"))
        for port in (8001, 8002, 8003, 8004)
    ] + [get("http://example.test", **served(EX80, "example.test"))],
        ["--allow-net=example.test"])


PARALLEL = PRELUDE.replace("@T@", str(T)) + r'''
N = int(sys.argv[1])
barrier = threading.Barrier(N, timeout=T)
results = [None] * N


def one(i):
    try:
        s = proxy()
        s.sendall(b"CONNECT example.test:7 HTTP/1.1\r\n"
                  b"Host: example.test:7\r\n\r\n")
        rd = Reader(s)
        st, h, _ = response(rd, "CONNECT")
        if st != 200:
            results[i] = "status %d" % st
            barrier.abort()
            return
        barrier.wait()              # every tunnel is open at once
        payload = ("tunnel %d " % i).encode() * 300
        s.sendall(payload)
        got = rd.exactly(len(payload))
        results[i] = "ok" if got == payload else "wrong echo"
        s.close()
    except Exception as e:
        results[i] = repr(e)
        barrier.abort()


threads = [threading.Thread(target=one, args=(i,)) for i in range(N)]
for t in threads:
    t.start()
for t in threads:
    t.join()
print("%d ok" % results.count("ok"))
for i, r in enumerate(results):
    if r != "ok":
        print("tunnel %d: %s" % (i, r))
'''


def test_parallel_tunnels(netns):
    # 100 CONNECT tunnels open at the same time in one pod, each echoing
    # its own bytes back.
    before = len(netns.log_lines())
    run_case(Case("parallel", PARALLEL, args=["100"],
                  flags=["--allow-net=example.test"], stdout=b"100 ok\n"))
    assert netns.log_lines()[before:] == [f"ECHO {EX7}"] * 100


BULK = PRELUDE.replace("@T@", str(T)) + r'''
# 8 MiB both ways through one tunnel, sender and receiver at once.
size = 8 << 20
data = hashlib.sha256(b"seed").digest() * (size // 32)
s = proxy()
s.sendall(b"CONNECT example.test:7 HTTP/1.1\r\nHost: example.test:7\r\n\r\n")
rd = Reader(s)
st, h, _ = response(rd, "CONNECT")
print("status", st)
t = threading.Thread(target=s.sendall, args=(data,))
t.start()
h = hashlib.sha256(rd.exactly(len(rd.buf)))
n = len(rd.buf)
while n < size:
    d = s.recv(1 << 20)
    if not d:
        break
    h.update(d)
    n += len(d)
t.join()
print(n, h.hexdigest() == hashlib.sha256(data).hexdigest())
'''


def test_tunnel_bulk(netns):
    # Flow control both ways: the echo server sends back while the
    # worker still sends; every byte comes back in order.
    run_case(Case("bulk", BULK, flags=["--allow-net=example.test"],
                  stdout=b"status 200\n8388608 True\n"))


KEEPALIVE = PRELUDE.replace("@T@", str(T)) + r'''
# One connection to the proxy, several requests in turn.
s = proxy()
rd = Reader(s)
reqs = [("GET", "http://example.test/ka/1", b""),
        ("GET", "http://example.test:8000/ka/2", b""),
        ("HEAD", "http://other.test/ka/3", b""),
        ("POST", "http://example.test/ka/4", b"z" * 3000),
        ("GET", "http://other.test:8000/ka/5", b"")]
for method, url, body in reqs:
    s.sendall(request_bytes(method, url, body=body, close=False))
    st, h, b = response(rd, method)
    closing = "close" in h.get("connection", "").lower()
    print(st, "close" if closing else "-", b.decode().strip())
print("leftover", len(rd.buf))
'''


def test_keepalive(netns):
    # Each response on the same client connection, in order, exact.
    before = len(netns.log_lines())
    run_case(Case("keepalive", KEEPALIVE,
                  flags=["--allow-net=example.test,other.test"],
                  stdout=(f"200 - hello from {EX80} GET /ka/1 "
                          f"host=example.test len=0\n"
                          f"200 - hello from {EX8000} GET /ka/2 "
                          f"host=example.test:8000 len=0\n"
                          f"200 - \n"
                          f"200 - hello from {EX80} POST /ka/4 "
                          f"host=example.test len=3000\n"
                          f"200 - hello from {EX8000} GET /ka/5 "
                          f"host=other.test:8000 len=0\n"
                          f"leftover 0\n").encode()))
    assert sorted(netns.log_lines()[before:]) == sorted([
        f"HTTP {EX80} GET /ka/1", f"HTTP {EX8000} GET /ka/2",
        f"HTTP {EX80} HEAD /ka/3", f"HTTP {EX80} POST /ka/4",
        f"HTTP {EX8000} GET /ka/5"])


BURST = PRELUDE.replace("@T@", str(T)) + r'''
# N new connections at once, each one request.
N = int(sys.argv[1])
barrier = threading.Barrier(N, timeout=T)
got = [None] * N


def one(i):
    try:
        barrier.wait()
        s = proxy()
        s.sendall(request_bytes("GET", "http://example.test/rl/%d" % i))
        st, h, _ = response(Reader(s))
        got[i] = st if st != 429 else [st, h.get("x-podrunner-rule"),
                                       h.get("retry-after")]
        s.close()
    except Exception as e:
        got[i] = repr(e)


threads = [threading.Thread(target=one, args=(i,)) for i in range(N)]
for t in threads:
    t.start()
for t in threads:
    t.join()
print(json.dumps(got))
'''


@pytest.mark.parametrize("doc", [
    {"version": 1, "rules": {"net": {"allow": ["example.test"],
                                     "rate_limit": 5}}},
    {"network": {"allow_list": ["example.test"], "rate_limit": 5}},
], ids=["v1", "sandboxconfig"])
def test_rate_limit(netns, doc):
    # 20 new connections at once with a limit of 5 a second: some get
    # 429, at least 5 are served, nothing else happens.
    before = len(netns.log_lines())
    r = run_case(Case("rate-limit", BURST, args=["20"], flags=doc_flags(doc)))
    got = json.loads(r.out.splitlines()[-1])
    ctx = r.describe()
    # A 429 says which limit, and when to come back (podrunner(1)).
    limited = [x for x in got if x != 200]
    assert all(x == [429, "rate_limit 5/s", "1"] for x in limited), ctx
    assert got.count(200) >= 5 and len(limited) >= 1, ctx
    served_ = [l for l in netns.log_lines()[before:] if "/rl/" in l]
    assert len(served_) == got.count(200), (served_, ctx)


def test_no_rate_limit_by_default(netns):
    # The same burst without a limit: all 20 served.
    r = run_case(Case("no-rate-limit", BURST, args=["20"],
                      flags=["--allow-net=example.test"]))
    assert json.loads(r.out.splitlines()[-1]) == [200] * 20, r.describe()


CONCURRENCY = PRELUDE.replace("@T@", str(T)) + r'''
# Hold 256 tunnels open; the 257th connection is refused with 503; once
# they are closed, a new one works again.
socks, statuses = [], []
for i in range(256):
    s = proxy()
    s.sendall(b"CONNECT example.test:7 HTTP/1.1\r\n"
              b"Host: example.test:7\r\n\r\n")
    rd = Reader(s)
    statuses.append(response(rd, "CONNECT")[0])
    s.sendall(b"x")
    rd.exactly(1)
    socks.append(s)
print("held", statuses.count(200))
s = proxy()
s.sendall(request_bytes("GET", "http://example.test/over"))
try:
    print("over", response(Reader(s))[0])
except (OSError, EOFError) as e:
    print("over", type(e).__name__)
s.close()
for s in socks:
    s.close()
# The proxy sees the closes asynchronously: a grace loop, not a timing.
deadline = time.monotonic() + T
while True:
    s = proxy()
    s.sendall(request_bytes("GET", "http://example.test/after"))
    st = response(Reader(s))[0]
    s.close()
    if st != 503 or time.monotonic() > deadline:
        break
    time.sleep(0.1)
print("after", st)
'''


def test_concurrency_limit(netns):
    run_case(Case("concurrency", CONCURRENCY,
                  flags=["--allow-net=example.test"],
                  stdout=b"held 256\nover 503\nafter 200\n"))


def net_events(r):
    """The "net" events podrunner -v printed, in order."""
    events = []
    for l in r.stderr.splitlines():
        # (-d -v starts each line with the monotonic clock)
        m = re.search(r"podrunner: event: (\{.*\})$", l)
        if m:
            e = json.loads(m.group(1))
            if e.get("type") == "net":
                events.append(e)
    return events


def test_monitor_mode(netns):
    # A monitor document lets would-be denials through (the default's,
    # a flag's, the built-in set's), and policyd logs each as
    # podrunner.policy(5) shows: 'relay: monitor-allow net
    # "gitlab.com:443": monitor: would deny (default; run again with
    # --allow-net=gitlab.com:443)'.
    r, _ = run_ops(netns, "monitor", [
        get("http://example.test", **served(EX80, "example.test")),
        get("http://other.test", **served(EX80, "other.test")),
        get("http://sneaky.test", **served(label("127.0.0.1", 80),
                                           "sneaky.test")),
    ], ["-d", "-v", "--allow-net=sneaky.test", "--deny-net=other.test",
        *doc_flags({"version": 1, "mode": "monitor"})])
    want = [
        ("example.test:80", "monitor: would deny (default; run again with "
                            "--allow-net=example.test:80)"),
        ("other.test:80", "monitor: would deny (flag --deny-net=other.test)"),
        # The address question (policyd says "net address").
        ("127.0.0.1:80", "monitor: would deny (built-in: loopback "
                         "127.0.0.0/8)"),
    ]
    lines = [l for l in r.stderr.splitlines() if "podrunner[policyd]" in l
             and "monitor-allow net" in l]
    missing = [f'"{t}": {why}' for t, why in want
               if not any(l.endswith(f'"{t}": {why}') for l in lines)]
    assert not missing, f"policyd did not log {missing}\n{r.describe()}"


def test_monitor_mode_events(netns):
    # The operator sees every monitored denial in the net events too:
    # the event's rule is what would have denied it.
    r, _ = run_ops(netns, "monitor-events", [
        get("http://example.test", **served(EX80, "example.test")),
        get("http://other.test", **served(EX80, "other.test")),
        get("http://sneaky.test", **served(label("127.0.0.1", 80),
                                           "sneaky.test")),
    ], ["-v", "--allow-net=sneaky.test", "--deny-net=other.test",
        *doc_flags({"version": 1, "mode": "monitor"})])
    rules = [(e["host"], e["rule"]) for e in net_events(r)]
    assert rules == [
        ("example.test", "monitor: would deny (default; run again with "
                         "--allow-net=example.test:80)"),
        ("other.test", "monitor: would deny (flag --deny-net=other.test)"),
        ("sneaky.test", "monitor: would deny (built-in: loopback "
                        "127.0.0.0/8)"),
    ], r.describe()


def test_warn_event(netns):
    # A warn rule allows, and the event says "warn".
    r, _ = run_ops(netns, "warn", [
        get("http://example.test", **served(EX80, "example.test")),
    ], ["-v", *doc_flags({"version": 1, "rules": {"net": {
        "warn": ["example.test"]}}})])
    events = net_events(r)
    assert [e["decision"] for e in events] == ["warn"], r.describe()
    assert events[0]["rule"].endswith(" warn-net=example.test"), \
        r.describe()


EVENT_FIELDS = {"type", "pod", "method", "host", "port", "addr", "decision",
                "rule", "status", "bytes_up", "bytes_down", "duration_ms"}


def test_net_events(netns):
    # -v: one "net" event per request, with every field (podrunner(1),
    # NETWORK): addr is the address connected to or denied, or null;
    # rule the rule that decided or what went wrong.
    r, _ = run_ops(netns, "events", [
        get("http://example.test", path="/size/100000",
            status=200, reach=("HTTP", EX80, "GET")),
        get("http://other.test", **default_denied("other.test:80")),
        connect("example.test:7", **echoed(EX7)),
        get("http://example.test", method="POST", data="p" * 2000,
            **served(EX80, "example.test", "POST", 2000)),
        get("http://private.test", **default_denied("private.test:80")),
        get("http://nosuch.test", status=502),
    ], ["-d", "-v", "--allow-net=example.test,nosuch.test"])
    events = net_events(r)
    ctx = r.describe()
    pods = set(re.findall(r"podrunner\[sandbox\]: pod ([0-9a-f]+):",
                          r.stderr))
    assert len(pods) == 1, f"no pod id in the sandbox's log\n{ctx}"
    assert len(events) == 6, f"{len(events)} net events, want 6\n{ctx}"
    for e in events:
        assert set(e) == EVENT_FIELDS, \
            f"fields {sorted(set(e) ^ EVENT_FIELDS)} in {e}\n{ctx}"
        assert {e["pod"]} == pods, (e, ctx)
        assert isinstance(e["duration_ms"], int) and \
            e["duration_ms"] >= 0, (e, ctx)
    allow = "flag --allow-net=example.test"
    want = [
        ("GET", "example.test", 80, f"{PUBLIC4}:80", "allow", allow, 200),
        ("GET", "other.test", 80, None, "deny",
         "default: deny (run again with --allow-net=other.test:80)", 403),
        ("CONNECT", "example.test", 7, f"{PUBLIC4}:7", "allow", allow, 200),
        ("POST", "example.test", 80, f"{PUBLIC4}:80", "allow", allow, 200),
        ("GET", "private.test", 80, None, "deny",
         "default: deny (run again with --allow-net=private.test:80)", 403),
        ("GET", "nosuch.test", 80, None, "allow",
         'cannot resolve "nosuch.test": non-recoverable failure in name '
         'resolution', 502),
    ]
    got = [(e["method"], e["host"], e["port"], e["addr"], e["decision"],
            e["rule"], e["status"]) for e in events]
    assert got == want, ctx
    get_, deny_, tun, post = events[:4]
    # Bytes from and to the worker: the request and the response.
    assert 100000 < get_["bytes_down"] < 100500, (get_, ctx)
    assert tun["bytes_up"] >= len("ping through the tunnel\n") and \
        tun["bytes_down"] >= len("ping through the tunnel\n"), (tun, ctx)
    assert 2000 < post["bytes_up"] < 2500, (post, ctx)
    assert deny_["bytes_down"] > 0, (deny_, ctx)


def test_net_events_all_delivered(netns):
    # Every request is one event, also the last ones before the worker
    # exits (events travel to the parent in batches): 30 on one kept
    # connection, 10 denied, 10 tunnels, and 3 tunnels the worker leaves
    # open, closed by its exit: the operator sees those too.
    ops = [pipeline(*[get("http://example.test",
                          **served(EX80, "example.test"))
                      for _ in range(30)], pipelined=False)]
    ops += [get("http://other.test", **default_denied("other.test:80"))
            for _ in range(10)]
    ops += [connect("example.test:7", **echoed(EX7)) for _ in range(10)]
    ops += [connect("example.test:7", keep=True, **echoed(EX7))
            for _ in range(3)]
    r, _ = run_ops(netns, "events-all", ops,
                   ["-v", "--allow-net=example.test"])
    got = [(e["method"], e["host"], e["status"]) for e in net_events(r)]
    want = [("GET", "example.test", 200)] * 30 + \
        [("GET", "other.test", 403)] * 10 + \
        [("CONNECT", "example.test", 200)] * 13
    assert sorted(got) == sorted(want), \
        f"{len(got)} events of {len(want)}\n{r.describe()}"


STALL = PRELUDE.replace("@T@", str(T)) + r'''
# N tunnels to the echo server, each written to and never read, until
# nothing moves for 2 s: every buffer on the way is full, the proxy's
# included.  Small buffers on the worker's side, so that the proxy's
# hold what is in flight.
import select
N = int(sys.argv[1])
socks = []
for i in range(N):
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 16384)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 16384)
    s.connect(PROXY)
    s.sendall(b"CONNECT example.test:7 HTTP/1.1\r\n"
              b"Host: example.test:7\r\n\r\n")
    head = b""
    while not head.endswith(b"\r\n\r\n"):
        d = s.recv(1)
        if not d:
            sys.exit("tunnel %d: closed" % i)
        head += d
    if not head.startswith(b"HTTP/1.1 200 "):
        sys.exit("tunnel %d: %r" % (i, head))
    s.setblocking(False)
    socks.append(s)
chunk = b"x" * 65536
sent, last = 0, time.monotonic()
while time.monotonic() - last < 2:
    _, w, _ = select.select([], socks, [], 0.5)
    for s in w:
        try:
            sent += s.send(chunk)
            last = time.monotonic()
        except BlockingIOError:
            pass
print("stalled", sent >> 20, flush=True)
sys.stdin.readline()
print("done")
'''


def _descendants(pid):
    kids, todo = [], [pid]
    while todo:
        p = todo.pop()
        for t in Path(f"/proc/{p}/task").iterdir():
            try:
                for c in (t / "children").read_text().split():
                    kids.append(int(c))
                    todo.append(int(c))
            except OSError:
                pass
    return kids


def _rss_kib(pid):
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise AssertionError(f"no VmRSS for {pid}")


def test_proxy_buffers_bounded(netns):
    # 64 tunnels whose client never reads: each direction's buffer in
    # the proxy fills to its cap.  At 1 MiB a direction that would be
    # 128 MiB; the proxy holds each direction to 256 KiB once its
    # buffers hold 16 MiB in all (PROXY_BUF_HIGH), so it stays under
    # 16 + 1 + 128 x 0.25 = 49 MiB of buffers.  Its RSS also counts the
    # heap that partly filled buffers leave: 48-72 MiB seen here, and
    # 145-166 MiB with PROXY_BUF_HIGH out of reach.  The namespace's TCP
    # buffers are made small for the while, so that the kernel's hold
    # less and the proxy's fill sooner.
    n = 64
    path = write_script(STALL, ".py", 0o644)
    saved = {k: netns.run("sysctl", "-n", k).stdout.strip()
             for k in ("net.ipv4.tcp_rmem", "net.ipv4.tcp_wmem")}
    for k in saved:
        netns.run("sysctl", "-q", f"{k}=4096 16384 65536")
    cmd = [*netns.nsenter(), str(_binary()), "run",
           "--allow-net=example.test", "--pids", "256", path, str(n)]
    p = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, env=base_env(),
                         start_new_session=True)
    _register(p.pid)
    try:
        ready, _, _ = select.select([p.stdout], [], [], 120)
        line = p.stdout.readline() if ready else b""
        assert line.startswith(b"stalled "), (line, p.poll())
        proxies = [k for k in _descendants(p.pid)
                   if b"proxy" in Path(f"/proc/{k}/cmdline").read_bytes()]
        assert len(proxies) == 1, proxies
        rss = _rss_kib(proxies[0]) >> 10
        print(f"sent {int(line.split()[1])} MiB; proxy RSS {rss} MiB")
        # Under ASan (make check SANITIZE=1) the RSS is its shadow and
        # its quarantine of freed memory more than the proxy's buffers:
        # the tunnels still stall and end, the bound is not measured.
        if os.environ.get("PODRUNNER_SANITIZE") != "1":
            assert rss < 100, f"the proxy holds {rss} MiB for {n} " \
                f"stalled tunnels"
        out, err = p.communicate(b"\n", timeout=TIMEOUT)
        assert p.returncode == 0, err.decode(errors="replace")
        assert out.endswith(b"done\n")
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
        for k, v in saved.items():
            netns.run("sysctl", "-q", f"{k}={v}")
