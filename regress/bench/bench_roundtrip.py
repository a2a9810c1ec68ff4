#!/usr/bin/python3
"""make bench: the control-socket round trip.

A script inside a pod asks policyd N times (FS_READ of a new path each
time, so the worker's cache never answers) through podrunner_worker.check:
worker -> relay -> policyd -> relay -> worker.  The baseline, measured in
the same pod in the same run, is a SOCK_SEQPACKET echo between the worker
and a forked child of it: the cost of one Unix-socket round trip between
two processes, which is the least any design with a separate decider pays.
Prints medians, p99 and the ratio; asserts nothing about time.  Extra
arguments go to `podrunner run` (e.g. --no-sandbox to compare).  The pod
gets --cpus=2: the default quota of half a CPU would throttle the loop.
"""
import json
import os
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

POD_SCRIPT = r'''
import json, os, socket, time
import podrunner_worker as pw

N = int(os.environ.get("BENCH_N", "20000"))

def stats(xs):
    xs = sorted(xs)
    return {"median_us": xs[len(xs) // 2] * 1e6,
            "p99_us": xs[int(len(xs) * 0.99)] * 1e6}

# baseline: SEQPACKET echo with a forked child
a, b = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
pid = os.fork()
if pid == 0:
    a.close()
    while True:
        m = b.recv(64)
        if not m:
            os._exit(0)
        b.send(m[:5])
b.close()
base = []
msg = bytes([1]) + (7).to_bytes(4, "little") + b"/tmp/bench/x"
for i in range(N):
    t = time.perf_counter()
    a.send(msg)
    a.recv(64)
    base.append(time.perf_counter() - t)
a.close()
os.waitpid(pid, 0)

# the protocol itself: one request, one answer, on the runtime's socket
s = pw._worker.sock
raw = []
allowed = 0
for i in range(N):
    m = bytes([1]) + (1000000 + i).to_bytes(4, "little") + \
        ("/tmp/bench/r%d" % i).encode()
    t = time.perf_counter()
    s.send(m)
    r = s.recv(64)
    raw.append(time.perf_counter() - t)
    allowed += r[0] == 1

# the Python API a script uses (new path each time: no cache)
rt = []
for i in range(N):
    t = time.perf_counter()
    allowed += pw.check(pw.FS_READ, "/tmp/bench/%d" % i)
    rt.append(time.perf_counter() - t)
print(json.dumps({"n": N, "allowed": allowed, "baseline": stats(base),
                  "raw": stats(raw), "roundtrip": stats(rt)}))
'''


def main():
    n = os.environ.get("BENCH_N", "20000")
    with tempfile.TemporaryDirectory() as d:
        os.chmod(d, 0o755)
        script = os.path.join(d, "roundtrip.py")
        with open(script, "w") as f:
            f.write(POD_SCRIPT)
        os.chmod(script, 0o644)
        env = dict(os.environ, BENCH_N=n)
        p = subprocess.run([os.path.join(ROOT, "podrunner"), "run",
                            "--allow-read=/tmp/bench", "--allow-env=BENCH_N",
                            # the protocol, not the default cpu quota
                            "--cpus=2", *sys.argv[1:],
                            script], capture_output=True, text=True,
                           env=env, timeout=600)
    if p.returncode != 0:
        sys.stderr.write(p.stderr)
        sys.exit("bench_roundtrip: the pod failed (%d)" % p.returncode)
    r = json.loads(p.stdout.strip().splitlines()[-1])
    if r["allowed"] != 2 * r["n"]:
        sys.exit("bench_roundtrip: %d of %d requests allowed" %
                 (r["allowed"], 2 * r["n"]))
    b, w, t = r["baseline"], r["raw"], r["roundtrip"]
    print("control-socket round trip, %d requests (worker -> relay -> "
          "policyd -> worker)" % r["n"])
    print("  baseline unix-socket echo: median %7.1f us   p99 %7.1f us" %
          (b["median_us"], b["p99_us"]))
    print("  protocol round trip:       median %7.1f us   p99 %7.1f us"
          "   (%.2fx the baseline; target median < 50 us: %s)" %
          (w["median_us"], w["p99_us"], w["median_us"] / b["median_us"],
           "met" if w["median_us"] < 50 else "not met"))
    print("  podrunner_worker.check():  median %7.1f us   p99 %7.1f us"
          "   (%.2fx the baseline)" %
          (t["median_us"], t["p99_us"], t["median_us"] / b["median_us"]))


if __name__ == "__main__":
    main()
