#!/usr/bin/python3
"""make bench: the eBPF audit's cost (issue 7), against the same work
without it, measured in the same run.

The work is bench_audit_loop: BENCH_AUDIT_N (default 1,000,000) openat +
close of one file, timed by the loop itself (a pod's start is not
counted).

  1. pod: the loop as a pod's worker (--worker exec, --cpus for every
     CPU so that the pod's quota is not what is measured), with a policy
     that enables the audit and with one that disables it; the ratio of
     the medians, and the records lost (from the pod's "syscalls"
     event).  Target: at most 1.25x, none lost.
  2. host: the same loop as an unrelated host process, (a) with no
     podrunner running, (b) while an audited pod exists (it sleeps: the
     programs are attached and filter every syscall of the host), (c)
     while an audited pod runs the loop too, (d) while a pod without the
     audit runs it.  Target: (b)/(a) at most 1.12x: the filter is early
     and in the kernel.  (c)/(d) is printed too; on a small machine it
     also counts auditd's share of the CPUs.
  3. burst: BENCH_AUDIT_BURST (default 100,000) opens within one second
     in an audited pod, at the default ring size: the records lost.
     Target: none.

Each measurement is repeated BENCH_REPEAT times (default 3), interleaved
so that machine noise hits each alike; medians are printed.  Prints
numbers and ratios; asserts nothing about time.
"""
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))))
PODRUNNER = os.environ.get("PODRUNNER_BIN") or os.path.join(ROOT, "podrunner")
LOOP = os.path.abspath(sys.argv[1]) if len(sys.argv) > 1 else os.path.join(
    ROOT, "build", "regress", "bench", "bench_audit_loop")
N = int(os.environ.get("BENCH_AUDIT_N", "1000000"))
BURST = int(os.environ.get("BENCH_AUDIT_BURST", "100000"))
REPEAT = int(os.environ.get("BENCH_REPEAT", "3"))
CPUS = os.cpu_count() or 1


def pod_cmd(policy, *args):
    return [PODRUNNER, "run", "-v", "--worker", "exec",
            "--allow-run=" + LOOP, "--cpus", str(CPUS), "--policy", policy,
            LOOP, *map(str, args)]


def syscalls_event(stderr):
    """The pod's "syscalls" event, or None (audit off)."""
    for line in stderr.splitlines():
        m = re.match(r"podrunner: event: (\{.*\})$", line)
        if m:
            ev = json.loads(m.group(1))
            if ev.get("type") == "syscalls":
                return ev
    return None


def run_pod(policy, *args):
    p = subprocess.run(pod_cmd(policy, *args), capture_output=True,
                       text=True, timeout=600)
    if p.returncode != 0:
        sys.exit("bench_audit: the pod failed (%d):\n%s" % (p.returncode,
                                                            p.stderr[-2000:]))
    return float(p.stdout.split()[-1]), syscalls_event(p.stderr)


def run_host(path, n):
    p = subprocess.run([LOOP, "open", str(n), path], capture_output=True,
                       text=True, check=True)
    return float(p.stdout.split()[-1])


class Background:
    """A pod left running while the host loop runs."""

    def __init__(self, policy, *args):
        self.p = subprocess.Popen(pod_cmd(policy, *args),
                                  stdout=subprocess.PIPE,
                                  stderr=subprocess.PIPE, text=True)
        # Started: the worker runs (and is in the audit's map).
        buf = ""
        deadline = time.monotonic() + 30
        while "worker started" not in buf:
            line = self.p.stderr.readline()
            if not line or time.monotonic() > deadline:
                self.p.kill()
                sys.exit("bench_audit: the background pod did not start:\n"
                         + buf)
            buf += line

    def stop(self, kill=False):
        if kill:
            self.p.terminate()
        self.p.communicate(timeout=600)


def main():
    if not os.access(LOOP, os.X_OK):
        sys.exit("bench_audit: %s not built (make bench)" % LOOP)
    with tempfile.TemporaryDirectory() as d:
        os.chmod(d, 0o755)
        on = os.path.join(d, "on.json")
        off = os.path.join(d, "off.json")
        with open(on, "w") as f:
            json.dump({"version": 1, "audit": {"enabled": True}}, f)
        with open(off, "w") as f:
            json.dump({"version": 1, "audit": {"enabled": False}}, f)
        os.chmod(on, 0o644)
        os.chmod(off, 0o644)
        hostfile = os.path.join(d, "x")

        pod = {"off": [], "on": []}
        lost = []
        host = {"a": [], "b": [], "c": [], "d": []}
        run_pod(off, "open", 1000, "/tmp/x")	# warm caches
        run_host(hostfile, 1000)
        for _ in range(REPEAT):
            # 1. the pod's own loop
            t, _ = run_pod(off, "open", N, "/tmp/x")
            pod["off"].append(t)
            t, ev = run_pod(on, "open", N, "/tmp/x")
            pod["on"].append(t)
            lost.append(ev["lost"] if ev else -1)
            # 2. an unrelated host process
            host["a"].append(run_host(hostfile, N))
            bg = Background(on, "sleep", 600)
            host["b"].append(run_host(hostfile, N))
            bg.stop(kill=True)
            # both loops at once: the pod's twice as long, so that it
            # runs for all of the host's
            bg = Background(on, "open", 2 * N, "/tmp/x")
            host["c"].append(run_host(hostfile, N))
            bg.stop()
            bg = Background(off, "open", 2 * N, "/tmp/x")
            host["d"].append(run_host(hostfile, N))
            bg.stop()
        # 3. a burst at the default ring size
        burst_lost = []
        for _ in range(REPEAT):
            _, ev = run_pod(on, "burst", BURST, "/tmp/x")
            burst_lost.append(ev["lost"] if ev else -1)

    med = {k: statistics.median(v) for k, v in pod.items()}
    hm = {k: statistics.median(v) for k, v in host.items()}
    print("eBPF audit: %d openat+close, %d runs each (median seconds), "
          "%d CPUs" % (N, REPEAT, CPUS))
    r = med["on"] / med["off"]
    print("  pod loop, audit off         %7.3f s" % med["off"])
    print("  pod loop, audit on          %7.3f s   %.2fx   lost %s" %
          (med["on"], r, lost))
    print("  target: pod loop <= 1.25x with none lost: %s" %
          ("met" if r <= 1.25 and all(x == 0 for x in lost) else "NOT met"))
    print("  host loop, no podrunner     %7.3f s" % hm["a"])
    print("  host loop, audited pod idle %7.3f s   %.2fx" %
          (hm["b"], hm["b"] / hm["a"]))
    print("  host loop, unaudited pod busy %5.3f s" % hm["d"])
    print("  host loop, audited pod busy %7.3f s   %.2fx of unaudited busy" %
          (hm["c"], hm["c"] / hm["d"]))
    rb = hm["b"] / hm["a"]
    print("  target: host loop <= 1.12x: %s" %
          ("met" if rb <= 1.12 else "NOT met (%.2fx)" % rb))
    print("  burst of %d opens in 1 s, default ring: lost %s (target: 0)" %
          (BURST, burst_lost))


if __name__ == "__main__":
    main()
