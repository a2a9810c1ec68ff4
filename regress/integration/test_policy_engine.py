"""
The policy engine seen from outside (issue 4): decisions asked from
inside a pod, both document shapes, documents that must be refused,
environment scrubbing by the whole policy, init-policy's round trip,
explain, and the decision log.

Decisions are asked with the runtime's own check():

    import podrunner_worker as pw
    pw.check(pw.FS_READ, "/data/x")    # 1 allowed (also warn), 0 denied

Each decision case is data: podrunner's flags, its POD_* variables, a
policy document (given as --policy FILE or as POD_POLICY_JSON) and a
list of probes (kind, target, the answer we want).  The script asks
every probe and prints the answers as one JSON list.

Every test says what would make it fail.
"""

import base64
import dataclasses
import json
import os
import re
import shutil
import tempfile
from pathlib import Path
from typing import Optional, Sequence

import pytest

from conftest import (EXIT_FAILURE, ROOT, Case, podrunner, run_case,
                      write_script)

KINDS = ["net", "read", "write", "env", "run", "ffi", "sys"]
ETC = ROOT / "etc"
PYLIB = "/usr/lib/python3.11"

# Asks every probe given as JSON in argv[1]; prints the answers.  Only
# modules the runtime has already imported: a --deny-read of the
# library directory must not break the script itself.
DECIDE = """\
import json, sys
import podrunner_worker as pw
print(json.dumps([pw.check(kind, target)
                  for kind, target in json.loads(sys.argv[1])]))
"""


def b64(doc):
    return base64.b64encode(doc_text(doc).encode()).decode()


def doc_text(doc):
    return doc if isinstance(doc, str) else json.dumps(doc, indent=2) + "\n"


def v1(**members):
    """A version 1 document."""
    return {"version": 1, **members}


def rules(**kinds):
    """{"rules": {kind: {action: [values]}}} from kind=dict(...)."""
    return {"rules": kinds}


# --- decisions seen from inside a pod ----------------------------------------------------

@dataclasses.dataclass
class D:
    """A decision case: the policy, as sources, and the probes."""
    name: str
    probes: Sequence[tuple]               # (kind, target, want 0/1)
    flags: Sequence[str] = ()
    env: Optional[dict] = None            # POD_* variables
    doc: object = None                    # dict or raw text
    via: str = "file"                     # "file": --policy, "b64"

    def __str__(self):
        return self.name


def _decide_check(probes):
    def check(r, _path):
        lines = [l for l in r.out.splitlines() if l.startswith("[")]
        assert lines, f"the script printed no answers\n{r.describe()}"
        got = json.loads(lines[-1])
        bad = [f"  {k} {t!r}: got {g}, want {w}"
               for (k, t, w), g in zip(probes, got) if g != w]
        assert len(got) == len(probes) and not bad, \
            "wrong decisions:\n" + "\n".join(bad) + "\n" + r.describe()
    return check


def decide(d, extra_flags=()):
    """Run a decision case; returns the Result."""
    flags, env = list(d.flags) + list(extra_flags), dict(d.env or {})
    if d.doc is not None:
        if d.via == "file":
            path = write_script("", ".json", data=doc_text(d.doc).encode())
            flags = ["--policy", str(path)] + flags
        else:
            env["POD_POLICY_JSON"] = b64(d.doc)
    probes = [(k, t, w) for k, t, w in d.probes]
    return run_case(Case(d.name, DECIDE, flags=flags, env=env or None,
                         args=[json.dumps([[k, t] for k, t, _ in probes])],
                         check=_decide_check(probes)))


# The same permissions as flags, as POD_* variables, as a document.
BASIC_PROBES = [
    ("FS_READ", "/data/x", 1), ("FS_READ", "/etc/passwd", 0),
    ("FS_WRITE", "/data/x", 0),
    ("NET_CONNECT", "github.com:443", 1),
    ("NET_CONNECT", "example.com:443", 0),
    ("ENV", "FOO", 1), ("ENV", "SECRET", 0),
    ("EXEC", "ls", 1), ("EXEC", "cat", 0),
    ("FFI", "/usr/lib/libx.so", 0), ("SYS", "hostname", 0),
]
BASIC_DOC = v1(**rules(read={"allow": ["/data"]},
                       net={"allow": ["github.com"]},
                       env={"allow": ["FOO"]},
                       run={"allow": ["ls"]}))
BASIC_FLAGS = ["--allow-read=/data", "--allow-net=github.com",
               "--allow-env=FOO", "--allow-run=ls"]
BASIC_ENV = {"POD_ALLOW_READ": "/data", "POD_ALLOW_NET": "github.com",
             "POD_ALLOW_ENV": "FOO", "POD_ALLOW_RUN": "ls"}

NET_DENY_GITHUB = v1(**rules(net={"deny": ["github.com"]}))
NET_ALLOW_GITHUB = v1(**rules(net={"allow": ["github.com"]}))
READ_DENY_DATA = v1(**rules(read={"deny": ["/data"]}))

DECISION_CASES = [
    # One source at a time.  Fails if a source is not applied or
    # grants more than it names.
    D("nothing", [("FS_READ", "/data/x", 0), ("NET_CONNECT",
      "github.com:443", 0), ("ENV", "FOO", 0), ("EXEC", "ls", 0),
      ("FS_WRITE", "/srv/x", 0), ("SYS", "hostname", 0)]),
    D("flags-only", BASIC_PROBES, flags=BASIC_FLAGS),
    D("pod-env-only", BASIC_PROBES, env=BASIC_ENV),
    D("document-file-only", BASIC_PROBES, doc=BASIC_DOC),
    D("document-b64-only", BASIC_PROBES, doc=BASIC_DOC, via="b64"),

    # The seeds' case: the document allows github.com, a flag denies it.
    D("seeds-doc-allow-flag-deny", [("NET_CONNECT", "github.com:443", 0)],
      flags=["--deny-net=github.com"], doc=NET_ALLOW_GITHUB),
    D("seeds-b64-allow-flag-deny", [("NET_CONNECT", "github.com:443", 0)],
      flags=["--deny-net=github.com"], doc=NET_ALLOW_GITHUB, via="b64"),
    D("seeds-doc-allow-pod-deny", [("NET_CONNECT", "github.com:443", 0)],
      env={"POD_DENY_NET": "github.com"}, doc=NET_ALLOW_GITHUB),
    D("flag-deny-beats-pod-allow", [("NET_CONNECT", "github.com:443", 0)],
      flags=["--deny-net=github.com"], env={"POD_ALLOW_NET": "github.com"}),
    # The lower layer still decides what the higher one does not name.
    D("higher-layer-names-only-its-own",
      [("NET_CONNECT", "github.com:443", 0),
       ("NET_CONNECT", "example.com:443", 1)],
      flags=["--deny-net=github.com"],
      doc=v1(**rules(net={"allow": ["github.com", "example.com"]}))),

    # A higher layer's allow beats a lower layer's deny.
    D("flag-allow-beats-doc-deny", [("FS_READ", "/data/x", 1)],
      flags=["--allow-read=/data"], doc=READ_DENY_DATA),
    D("pod-allow-beats-doc-deny", [("NET_CONNECT", "github.com:443", 1)],
      env={"POD_ALLOW_NET": "github.com"}, doc=NET_DENY_GITHUB),
    D("flag-allow-beats-pod-deny", [("NET_CONNECT", "github.com:443", 1)],
      flags=["--allow-net=github.com"], env={"POD_DENY_NET": "github.com"}),
    D("flag-allow-narrower-than-doc-deny",
      [("FS_READ", "/data/pub/x", 1), ("FS_READ", "/data/x", 0)],
      flags=["--allow-read=/data/pub"], doc=READ_DENY_DATA),
    D("flag-allow-covers-doc-deny", [("FS_READ", "/data/secret/k", 1)],
      flags=["--allow-read=/data"],
      doc=v1(**rules(read={"deny": ["/data/secret"]}))),

    # Inside one layer a deny beats an allow (Deno's rule).
    D("flag-deny-beats-flag-allow",
      [("FS_READ", "/data/x", 1), ("FS_READ", "/data/secret/k", 0)],
      flags=["--allow-read=/data", "--deny-read=/data/secret"]),
    D("flag-deny-all-beats-flag-allow",
      [("NET_CONNECT", "github.com:443", 0)],
      flags=["--deny-net", "--allow-net=github.com"]),
    D("flag-allow-all-deny-one",
      [("NET_CONNECT", "github.com:443", 0),
       ("NET_CONNECT", "example.com:443", 1)],
      flags=["--allow-net", "--deny-net=github.com"]),
    D("pod-deny-beats-pod-allow",
      [("ENV", "FOO_A", 0), ("ENV", "FOOBAR", 1)],
      env={"POD_ALLOW_ENV": "FOO*", "POD_DENY_ENV": "FOO_*"}),
    D("doc-deny-beats-doc-allow",
      [("FS_READ", "/data/x", 1), ("FS_READ", "/data/secret/k", 0)],
      doc=v1(**rules(read={"allow": ["/data"], "deny": ["/data/secret"]}))),
    D("doc-deny-beats-doc-allow-same-value",
      [("NET_CONNECT", "github.com:443", 0)],
      doc=v1(**rules(net={"allow": ["github.com"], "deny": ["github.com"]}))),

    # warn: allowed (and logged, see test_decision_logged).
    D("warn-is-allowed", [("NET_CONNECT", "github.com:443", 1),
                          ("NET_CONNECT", "example.com:443", 0)],
      doc=v1(**rules(net={"warn": ["github.com"]}))),
    D("warn-beats-allow", [("NET_CONNECT", "api.example.com:443", 1),
                           ("NET_CONNECT", "www.example.com:443", 1)],
      doc=v1(**rules(net={"allow": ["*.example.com"],
                          "warn": ["api.example.com"]}))),
    D("deny-beats-warn", [("NET_CONNECT", "github.com:443", 0)],
      doc=v1(**rules(net={"warn": ["github.com"], "deny": ["github.com"]}))),
    D("flag-deny-beats-doc-warn", [("ENV", "HOME", 0)],
      flags=["--deny-env=HOME"], doc=v1(**rules(env={"warn": ["HOME"]}))),

    # The document's per-kind defaults decide what no rule names.
    D("doc-default-allow", [("NET_CONNECT", "example.com:443", 1),
                            ("FS_READ", "/etc/passwd", 0)],
      doc=v1(defaults={"net": "allow"})),
    D("doc-default-allow-with-deny",
      [("NET_CONNECT", "github.com:443", 0),
       ("NET_CONNECT", "example.com:443", 1)],
      doc=v1(defaults={"net": "allow"}, **rules(net={"deny": ["github.com"]}))),
    D("doc-default-allow-flag-deny",
      [("FS_READ", "/etc/passwd", 0), ("FS_READ", "/data/x", 1)],
      flags=["--deny-read=/etc"], doc=v1(defaults={"read": "allow"})),
    D("doc-default-warn", [("ENV", "HOME", 1)],
      doc=v1(defaults={"env": "warn"})),
    D("doc-default-deny-pod-allow",
      [("NET_CONNECT", "github.com:443", 1),
       ("NET_CONNECT", "example.com:443", 0)],
      env={"POD_ALLOW_NET": "github.com"}, doc=v1(defaults={"net": "deny"})),
    D("doc-default-seeds-fs", [("FS_READ", "/etc/passwd", 1),
                               ("FS_WRITE", "/etc/passwd", 1),
                               ("NET_CONNECT", "github.com:443", 0)],
      doc=v1(defaults={"fs": "allow"})),

    # Monitor mode (from the document): every would-be denial, of any
    # layer, is allowed.
    D("monitor-no-rules", [("FS_READ", "/etc/passwd", 1),
                           ("NET_CONNECT", "github.com:443", 1),
                           ("ENV", "SECRET", 1), ("EXEC", "rm", 1)],
      doc=v1(mode="monitor")),
    D("monitor-flag-deny", [("NET_CONNECT", "github.com:443", 1)],
      flags=["--deny-net=github.com"], doc=v1(mode="monitor")),
    D("monitor-doc-deny", [("FS_READ", "/data/x", 1)],
      doc=v1(mode="monitor", **rules(read={"deny": ["/data"]}))),
    D("monitor-b64", [("FS_WRITE", "/etc/passwd", 1)],
      doc=v1(mode="monitor"), via="b64"),
    D("monitor-sandboxconfig", [("NET_CONNECT", "example.com:443", 1)],
      doc={"security": {"mode": "monitor"},
           "network": {"allow_list": ["github.com"]}}),
    D("strict-explicit", [("FS_READ", "/etc/passwd", 0)],
      doc=v1(mode="strict")),

    # CIDRs match as address ranges, in allow and in deny.
    D("cidr-allow",
      [("NET_CONNECT", "10.1.2.3:443", 1), ("NET_CONNECT", "10.0.0.0:1", 1),
       ("NET_CONNECT", "10.255.255.255:80", 1),
       ("NET_CONNECT", "11.0.0.1:443", 0), ("NET_CONNECT", "9.255.255.255:443",
                                             0),
       ("NET_CONNECT", "192.168.1.77:80", 1),
       ("NET_CONNECT", "192.168.2.1:80", 0)],
      flags=["--allow-net=10.0.0.0/8,192.168.1.0/24"]),
    D("cidr-deny", [("NET_CONNECT", "10.1.2.3:443", 0),
                    ("NET_CONNECT", "192.168.1.1:443", 1),
                    ("NET_CONNECT", "github.com:443", 1)],
      flags=["--allow-net", "--deny-net=10.0.0.0/8"]),
    D("cidr-doc-deny", [("NET_CONNECT", "10.1.2.3:443", 0),
                        ("NET_CONNECT", "8.8.8.8:53", 1)],
      doc=v1(defaults={"net": "allow"}, **rules(net={"deny": ["10.0.0.0/8"]}))),
    D("ipv6", [("NET_CONNECT", "[2001:db8::1]:443", 1),
               ("NET_CONNECT", "[2001:db9::1]:443", 0),
               ("NET_CONNECT", "[::1]:8080", 1),
               ("NET_CONNECT", "[::1]:8081", 0)],
      flags=["--allow-net=2001:db8::/32,[::1]:8080"]),

    # Host names: *.example.com is every name below, not the apex.
    D("wildcard-host",
      [("NET_CONNECT", "api.example.com:443", 1),
       ("NET_CONNECT", "a.b.example.com:80", 1),
       ("NET_CONNECT", "API.Example.COM:443", 1),
       ("NET_CONNECT", "example.com:443", 0),
       ("NET_CONNECT", "badexample.com:443", 0),
       ("NET_CONNECT", "example.com.evil.net:443", 0)],
      flags=["--allow-net=*.example.com"]),
    D("apex-host", [("NET_CONNECT", "example.com:443", 1),
                    ("NET_CONNECT", "api.example.com:443", 0)],
      flags=["--allow-net=example.com"]),

    # Ports.
    D("port-given", [("NET_CONNECT", "github.com:443", 1),
                     ("NET_CONNECT", "github.com:22", 0)],
      flags=["--allow-net=github.com:443"]),
    D("port-any", [("NET_CONNECT", "github.com:22", 1),
                   ("NET_CONNECT", "github.com:65535", 1)],
      flags=["--allow-net=github.com"]),
    D("port-deny", [("NET_CONNECT", "github.com:22", 0),
                    ("NET_CONNECT", "github.com:443", 1)],
      flags=["--allow-net=github.com", "--deny-net=github.com:22"]),

    # Paths: prefixes on component boundaries, after normalisation.
    D("path-boundaries",
      [("FS_READ", "/data", 1), ("FS_READ", "/data/x", 1),
       ("FS_READ", "/data/x/y/z", 1), ("LISTDIR", "/data", 1),
       ("FS_READ", "/database", 0), ("FS_READ", "/database/x", 0),
       ("FS_READ", "/dat", 0), ("FS_READ", "/", 0),
       ("FS_READ", "/data/../etc/passwd", 0)],
      flags=["--allow-read=/data"]),
    D("path-normalised-grant",
      [("FS_READ", "/nonexistent-pr/pub/f", 1),
       ("FS_READ", "/nonexistent-pr/x", 0)],
      flags=["--allow-read=/nonexistent-pr/./pub//x/../"]),
    D("read-is-not-write", [("FS_WRITE", "/data/x", 1),
                            ("FS_READ", "/data/x", 0)],
      flags=["--allow-write=/data"]),

    # Environment variable names and patterns.
    D("env-prefix", [("ENV", "FOO_A", 1), ("ENV", "FOO_", 1),
                     ("ENV", "FOO", 0), ("ENV", "FOOBAR", 0)],
      flags=["--allow-env=FOO_*"]),
    D("env-prefix-no-underscore", [("ENV", "FOO", 1), ("ENV", "FOOBAR", 1),
                                   ("ENV", "FO", 0)],
      flags=["--allow-env=FOO*"]),
    D("env-exact", [("ENV", "FOO", 1), ("ENV", "FOO_A", 0),
                    ("ENV", "foo", 0)],
      flags=["--allow-env=FOO"]),

    # Run: a name matches itself and any path ending in it; a path
    # matches itself only.
    D("run-names-and-paths",
      [("EXEC", "ls", 1), ("EXEC", "/usr/bin/ls", 1), ("EXEC", "/opt/ls", 1),
       ("EXEC", "lsx", 0), ("EXEC", "/usr/bin/lsx", 0),
       ("EXEC", "/usr/bin/cat", 1), ("EXEC", "cat", 0),
       ("EXEC", "/opt/cat", 0)],
      flags=["--allow-run=ls,/usr/bin/cat"]),

    # ffi and sys.
    D("ffi-paths", [("FFI", "/usr/lib/x86_64-linux-gnu/libc.so.6", 1),
                    ("FFI", "/opt/lib.so", 0)],
      flags=["--allow-ffi=/usr/lib"]),
    D("sys-names", [("SYS", "hostname", 1), ("SYS", "uid", 0)],
      flags=["--allow-sys=hostname"]),

    # The runtime layer: what the Python runtime needs, below the
    # document and the flags.
    D("runtime-layer", [("FS_READ", f"{PYLIB}/os.py", 1),
                        ("FS_READ", PYLIB, 1), ("ENV", "PATH", 1),
                        ("FS_READ", "/etc/passwd", 0),
                        ("FS_WRITE", f"{PYLIB}/os.py", 0)]),
    D("runtime-layer-flag-deny", [("FS_READ", f"{PYLIB}/os.py", 0)],
      flags=[f"--deny-read={PYLIB}"]),
    D("runtime-layer-pod-deny", [("FS_READ", f"{PYLIB}/os.py", 0)],
      env={"POD_DENY_READ": PYLIB}),
    D("runtime-layer-doc-deny", [("FS_READ", f"{PYLIB}/os.py", 0)],
      doc=v1(**rules(read={"deny": [PYLIB]}))),
]


@pytest.mark.parametrize("d", DECISION_CASES, ids=str)
def test_decision(d):
    # Fails if any probe's answer differs from the table (the table is
    # the precedence rules: flags > POD_* > document > runtime
    # > default; deny > warn > allow inside a layer; monitor allows).
    if PYLIB in repr(d.probes) + repr(d.flags) + repr(d.env) + repr(d.doc):
        if not os.path.isdir(PYLIB):
            pytest.skip(f"{PYLIB} is not there")
    decide(d)


# --- symlinks at grant time ------------------------------------------------------------

@pytest.fixture
def linked_dir():
    # Not below /tmp: a sandboxed pod's own /tmp is allowed by the
    # runtime layer, which would mask what this test looks at.
    top = Path(tempfile.mkdtemp(prefix="podrunner-link-", dir="/var/tmp"))
    os.chmod(top, 0o755)
    (top / "real").mkdir()
    (top / "real" / "f").write_text("x\n")
    os.symlink(top / "real", top / "link")
    yield top
    shutil.rmtree(top, ignore_errors=True)


@pytest.mark.parametrize("source", ["flag", "pod-env"])
def test_symlink_grant_is_for_the_target(linked_dir, source):
    # --allow-read=LINK grants what LINK resolves to.  Fails if the
    # grant stays on the link's own path (the target is then denied) or
    # grants more than the target.
    link, real = linked_dir / "link", linked_dir / "real"
    flags, env = (([f"--allow-read={link}"], None) if source == "flag" else
                  ([], {"POD_ALLOW_READ": str(link)}))
    decide(D(f"symlink-{source}",
             [("FS_READ", f"{real}/f", 1), ("FS_READ", str(real), 1),
              ("FS_READ", f"{linked_dir}/other", 0)],
             flags=flags, env=env))
    # explain shows the resolved grant.  Fails if it shows the link.
    r = podrunner("explain", "--json", *flags, env=env)
    assert r.status == 0, r.describe()
    values = [x["value"] for x in
              json.loads(r.stdout)["policy"]["rules"]["read"]["allow"]]
    assert str(real) in values and str(link) not in values, r.describe()


# --- both document shapes ---------------------------------------------------------------

SANDBOXCONFIG = {
    "security": {"mode": "strict"},
    "network": {"enabled": True, "policy": "allow_list",
                "allow_list": ["github.com"], "deny_list": [],
                "rate_limit": 5},
    "filesystem": {"allow_write": False},
    "resources": {"memory_limit": 64, "cpu_limit": 50},
}

SHAPE_CASES = [
    # The seeds' lambda.json: fs read of /tmp and /proc/self/fd, nothing
    # else.  Fails if "fs" with mode "read" grants writing, or if the
    # net allow list mode lets unlisted hosts through.
    D("lambda.json", [("FS_READ", "/tmp/x", 1), ("FS_READ", "/proc/self/fd/3",
                                                  1),
                      ("FS_WRITE", "/srv/x", 0), ("FS_READ", "/etc/passwd", 0),
                      ("NET_CONNECT", "github.com:443", 0),
                      ("EXEC", "ls", 0)],
      doc=(ETC / "lambda.json").read_text()),
    D("lambda.json-b64", [("FS_READ", "/tmp/x", 1),
                          ("FS_WRITE", "/srv/x", 0)],
      doc=(ETC / "lambda.json").read_text(), via="b64"),
    # The SandboxConfig: github.com only; no writes.
    D("sandboxconfig", [("NET_CONNECT", "github.com:443", 1),
                        ("NET_CONNECT", "example.com:443", 0),
                        ("FS_WRITE", "/srv/x", 0),
                        ("FS_READ", "/etc/passwd", 0)],
      doc=SANDBOXCONFIG),
    D("sandboxconfig-b64", [("NET_CONNECT", "github.com:443", 1),
                            ("NET_CONNECT", "example.com:443", 0)],
      doc=SANDBOXCONFIG, via="b64"),
    D("sandboxconfig-allow-write", [("FS_WRITE", "/srv/x", 1)],
      doc={"filesystem": {"allow_write": True}}),
    D("sandboxconfig-network-disabled",
      [("NET_CONNECT", "github.com:443", 0)],
      doc={"network": {"enabled": False, "allow_list": ["github.com"]}}),
    D("sandboxconfig-deny-all", [("NET_CONNECT", "github.com:443", 0)],
      doc={"network": {"policy": "deny_all", "allow_list": ["github.com"]}}),
    D("sandboxconfig-star-deny-list",
      [("NET_CONNECT", "example.com:443", 1),
       ("NET_CONNECT", "github.com:443", 0)],
      doc={"network": {"allow_list": ["*"], "deny_list": ["github.com"]}}),
    D("sandboxconfig-flag-beats-it", [("NET_CONNECT", "example.com:443", 1),
                                      ("NET_CONNECT", "github.com:443", 0)],
      flags=["--allow-net=example.com", "--deny-net=github.com"],
      doc=SANDBOXCONFIG),
]


@pytest.mark.parametrize("d", SHAPE_CASES, ids=str)
def test_document_shape(d):
    # Fails if the document is refused or not applied as its shape says.
    decide(d)


def test_sandboxconfig_settings():
    # The SandboxConfig's settings reach the normalised policy.  Fails
    # if resources, the rate limit or the mode are dropped or misread.
    path = write_script("", ".json", data=doc_text(SANDBOXCONFIG).encode())
    r = podrunner("explain", "--json", "--policy", path)
    assert r.status == 0, r.describe()
    pol = json.loads(r.stdout)["policy"]
    ctx = r.describe()
    assert pol["document"] == str(path), ctx
    assert pol["mode"] == "strict", ctx
    assert pol["rules"]["net"].get("rate_limit") == 5, ctx
    assert [x["value"] for x in pol["rules"]["net"]["allow"]] == \
        ["github.com"], ctx
    assert pol["defaults"]["net"] == "deny", ctx
    assert pol["defaults"]["write"] == "deny", ctx
    assert pol["resources"].get("memory") in ("64mb", 64 << 20, 64), ctx
    assert pol["resources"].get("cpu") == 50, ctx


@pytest.mark.parametrize("name", ["default.json", "strict.json",
                                  "lambda.json"])
def test_shipped_documents_load(name):
    # etc/*.json load.  Fails if explain refuses one, or does not name
    # it as the document.
    path = ETC / name
    r = podrunner("explain", "--policy", path)
    assert r.status == 0, r.describe()
    assert f"document: {path}\n" in r.out, r.describe()
    r = podrunner("explain", "--json", "--policy", path)
    assert r.status == 0, r.describe()
    assert json.loads(r.stdout)["policy"]["document"] == str(path), \
        r.describe()


# --- errors, never half-applied ------------------------------------------------------

# (id, document text, line, column, pointer or None, reason).  A
# document's errors name NAME:LINE:COLUMN: /pointer: reason; a syntax
# error NAME:LINE:COLUMN: reason.  Each good rule before the bad one
# must not have been applied either: nothing runs.
BAD_DOCS = [
    ("unknown-key", """\
{
  "version": 1,
  "rules": {
    "net": {
      "allow": ["github.com"],
      "alow": ["example.com"]
    }
  }
}
""", 6, 7, "/rules/net/alow", "unknown key"),
    ("unknown-top-key", """\
{
  "version": 1,
  "bogus": true
}
""", 3, 3, "/bogus", "unknown key"),
    ("unknown-kind", """\
{
  "version": 1,
  "defaults": {"net": "allow"},
  "rules": {"disk": {"allow": ["/"]}}
}
""", 4, 13, "/rules/disk", "unknown key"),
    ("wrong-type", """\
{
  "version": 1,
  "mode": 3
}
""", 3, 3, "/mode", "expected a string, got an integer"),
    ("wrong-type-item", """\
{
  "version": 1,
  "rules": {"net": {"allow": ["github.com", 443]}}
}
""", 3, 45, "/rules/net/allow/1", "expected a string"),
    ("wrong-type-bool", """\
{
  "version": 1,
  "audit": {"enabled": "yes"}
}
""", 3, 13, "/audit/enabled", "expected a boolean"),
    ("bad-cidr", """\
{
  "version": 1,
  "rules": {
    "net": {
      "allow": ["github.com", "10.0.0.0/33"]
    }
  }
}
""", 5, 31, "/rules/net/allow/1", "prefix length"),
    ("bad-host", """\
{
  "version": 1,
  "rules": {"net": {"deny": ["bad..host"]}}
}
""", 3, 30, "/rules/net/deny/0", "bad host"),
    ("bad-size", """\
{
  "version": 1,
  "resources": {
    "memory": "12xb"
  }
}
""", 4, 5, "/resources/memory", "bad size"),
    ("bad-duration", """\
{
  "version": 1,
  "resources": {"timeout": "soon"}
}
""", 3, 17, "/resources/timeout", "bad duration"),
    ("relative-path", """\
{
  "version": 1,
  "rules": {"read": {"allow": ["/tmp", "data"]}}
}
""", 3, 40, "/rules/read/allow/1", "absolute"),
    ("bad-mode", """\
{
  "version": 1,
  "mode": "lenient"
}
""", 3, 3, "/mode", "unknown mode"),
    ("sandboxconfig-unknown-key", """\
{
  "network": {
    "allow_list": ["github.com"],
    "allowlist": ["example.com"]
  }
}
""", 4, 5, "/network/allowlist", "unknown key"),
    ("sandboxconfig-wrong-type", """\
{
  "resources": {"memory_limit": "lots"},
  "filesystem": {"allow_write": false}
}
""", 2, 17, "/resources/memory_limit", "expected"),
    ("syntax-error", """\
{
  "version": 1,
  "mode": "strict",
}
""", 4, 1, None, ""),
    ("not-an-object", "[1, 2]\n", 1, 1, None, "JSON object"),
]


@pytest.fixture
def marker_dir(script_dir):
    d = Path(tempfile.mkdtemp(prefix="markers-", dir=script_dir))
    os.chmod(d, 0o1777)         # the worker runs as its own uid
    yield d
    shutil.rmtree(d, ignore_errors=True)


MARK = """\
import sys
open(sys.argv[1], "w").write("ran\\n")
print("ran")
"""


def run_marked(marker_dir, flags=(), env=None):
    """Run the marker script; returns (Result, whether it ran)."""
    marker = marker_dir / "ran"
    script = write_script(MARK)
    r = podrunner("run", f"--allow-write={marker_dir}", *flags, script,
                  marker, env=env)
    return r, marker.exists()


def test_marker_control(marker_dir):
    # The control for the error table: with a good document the script
    # runs and leaves its marker.  Fails if the marker cannot be made
    # (then the error table would prove nothing).
    path = write_script("", ".json", data=doc_text(BASIC_DOC).encode())
    r, ran = run_marked(marker_dir, ["--policy", path])
    assert r.status == 0 and ran and r.out == "ran\n", r.describe()


def _one_error_line(r):
    lines = r.err_lines
    assert len(lines) == 1, f"want one line on stderr, got {lines}\n" \
        f"{r.describe()}"
    assert lines[0].startswith("podrunner: "), r.describe()
    return lines[0]


@pytest.mark.parametrize("via", ["file", "b64"])
@pytest.mark.parametrize("name,text,line,col,ptr,reason", BAD_DOCS,
                         ids=[c[0] for c in BAD_DOCS])
def test_bad_document(marker_dir, name, text, line, col, ptr, reason, via):
    # Exit 125, the script never ran, one line naming the document, the
    # position and the JSON pointer.  Fails if a bad document is
    # ignored, half-applied (the script runs), or the message lacks or
    # misplaces the position.
    if via == "file":
        path = write_script("", ".json", data=text.encode())
        docname, flags, env = str(path), ["--policy", path], None
    else:
        docname, flags = "POD_POLICY_JSON", []
        env = {"POD_POLICY_JSON": base64.b64encode(text.encode()).decode()}
    r, ran = run_marked(marker_dir, flags, env)
    ctx = r.describe()
    assert r.status == EXIT_FAILURE, ctx
    assert not ran and r.stdout == b"", f"the script ran\n{ctx}"
    msg = _one_error_line(r)
    where = f"{docname}:{line}:{col}: " + (f"{ptr}: " if ptr else "")
    assert where in msg, f"{where!r} not in the message\n{ctx}"
    assert reason in msg.split(where, 1)[1], \
        f"{reason!r} not the reason\n{ctx}"


OTHER_ERRORS = [
    # (id, flags, env, needle in the one line)
    ("policy-and-pod-policy-json", ["--policy", "@DOC@"],
     {"POD_POLICY_JSON": b64(BASIC_DOC)}, "POD_POLICY_JSON"),
    ("bad-base64", [], {"POD_POLICY_JSON": "!!!not base64!!!"},
     "POD_POLICY_JSON"),
    ("empty-pod-policy-json-doc", [],
     {"POD_POLICY_JSON": base64.b64encode(b"{}").decode()},
     "POD_POLICY_JSON:1:1: "),
    ("missing-file", ["--policy", "/nonexistent/pr-policy.json"], None,
     "/nonexistent/pr-policy.json"),
]


@pytest.mark.parametrize("name,flags,env,needle", OTHER_ERRORS,
                         ids=[c[0] for c in OTHER_ERRORS])
def test_policy_source_error(marker_dir, name, flags, env, needle):
    # Fails if a conflicting or undecodable source is accepted or runs
    # the script.
    path = write_script("", ".json", data=doc_text(BASIC_DOC).encode())
    flags = [str(path) if f == "@DOC@" else f for f in flags]
    r, ran = run_marked(marker_dir, flags, env)
    ctx = r.describe()
    assert r.status == EXIT_FAILURE, ctx
    assert not ran and r.stdout == b"", f"the script ran\n{ctx}"
    assert needle in _one_error_line(r), ctx


# --- environment scrubbing follows the whole policy -----------------------------------

# The worker's initial environment, from /proc (the runtime's hooks may
# hide os.environ entries; scrubbing is about what the process got).
ENV_DUMP = """\
import json
with open("/proc/self/environ", "rb") as f:
    print(json.dumps(sorted(e.split(b"=", 1)[0].decode()
                            for e in f.read().split(b"\\0") if e)))
"""

HOST_ENV = {"FOO": "foo", "SECRET": "hunter2", "BAR": "bar",
            "POD_X": "pod-x"}


def env_case(name, present, absent, flags=(), env=None, doc=None,
             via="file"):
    return (name, present, absent, list(flags), dict(env or {}), doc, via)


ENV_CASES = [
    env_case("doc-allow-passes", ["FOO"], ["SECRET", "BAR", "POD_X"],
             doc=v1(**rules(env={"allow": ["FOO"]}))),
    env_case("b64-doc-allow-passes", ["FOO"],
             ["SECRET", "BAR", "POD_X", "POD_POLICY_JSON"],
             doc=v1(**rules(env={"allow": ["FOO"]})), via="b64"),
    env_case("doc-default-allow", ["FOO", "SECRET", "BAR"], ["POD_X"],
             doc=v1(defaults={"env": "allow"})),
    env_case("flag-deny-beats-doc-allow", ["FOO"], ["SECRET"],
             flags=["--deny-env=SECRET"],
             doc=v1(**rules(env={"allow": ["FOO", "SECRET"]}))),
    env_case("pod-deny-beats-doc-allow", ["FOO"], ["SECRET"],
             env={"POD_DENY_ENV": "SECRET"},
             doc=v1(**rules(env={"allow": ["FOO", "SECRET"]}))),
    env_case("flag-allow-beats-doc-deny", ["SECRET", "FOO"], [],
             flags=["--allow-env=SECRET"],
             doc=v1(defaults={"env": "allow"},
                    **rules(env={"deny": ["SECRET"]}))),
    env_case("doc-deny-beats-doc-allow", ["FOO"], ["SECRET"],
             doc=v1(defaults={"env": "allow"},
                    **rules(env={"deny": ["SECRET"]}))),
    env_case("allow-all-deny-secret", ["FOO", "BAR"], ["SECRET", "POD_X"],
             flags=["--allow-all", "--deny-env=SECRET"]),
    env_case("doc-allows-pod", ["FOO"], ["POD_X", "POD_POLICY_JSON"],
             doc=v1(**rules(env={"allow": ["FOO", "POD_X", "POD_*", "*"]})),
             via="b64"),
    env_case("flag-allows-pod", [], ["POD_X", "POD_ALLOW_ENV"],
             flags=["--allow-env=POD_X"], env={"POD_ALLOW_ENV": "POD_*"}),
]


@pytest.mark.parametrize("name,present,absent,flags,env,doc,via", ENV_CASES,
                         ids=[c[0] for c in ENV_CASES])
def test_env_scrubbing(name, present, absent, flags, env, doc, via):
    # Fails if a variable the whole policy allows does not reach the
    # worker, or one it denies (or any POD_*) does.
    env = {**HOST_ENV, **env}
    if doc is not None:
        if via == "file":
            path = write_script("", ".json", data=doc_text(doc).encode())
            flags = ["--policy", str(path)] + flags
        else:
            env["POD_POLICY_JSON"] = b64(doc)

    def check(r, _path):
        lines = [l for l in r.out.splitlines() if l.startswith("[")]
        assert lines, r.describe()
        names = set(json.loads(lines[-1]))
        ctx = f"worker environment: {sorted(names)}\n{r.describe()}"
        for n in present:
            assert n in names, f"{n} missing\n{ctx}"
        for n in absent:
            assert n not in names, f"{n} reached the worker\n{ctx}"
        assert not [n for n in names if n.startswith("POD_")], ctx
    run_case(Case(name, ENV_DUMP, flags=["--allow-read=/proc", *flags],
                  env=env, check=check))


# --- init-policy round trip ---------------------------------------------------------------

STRENGTH = {"allow": 0, "warn": 1, "deny": 2}


def effective(policy):
    """
    A policy (explain --json's "policy") as one layer: per kind the
    default and the rule values by action, origins and layers dropped.
    A whole-kind rule ("*") becomes the default, and the rules it makes
    moot (no stronger than it) go.
    """
    out = {}
    for kind in KINDS:
        r = policy["rules"][kind]
        vals = {a: {x["value"] if isinstance(x, dict) else x
                    for x in r.get(a, [])} for a in STRENGTH}
        default = policy["defaults"][kind]
        whole = [a for a in vals if "*" in vals[a]]
        if whole:
            default = max(whole, key=STRENGTH.get)
            for a in vals:
                if STRENGTH[a] <= STRENGTH[default]:
                    vals[a] = set()
        out[kind] = {"default": default,
                     **{a: sorted(v - {"*"}) for a, v in vals.items()}}
    return out


def explain_json(*args):
    r = podrunner("explain", "--json", *args)
    assert r.status == 0, r.describe()
    return json.loads(r.stdout)["policy"], r


# Probes run under the flags and under init-policy's document: the
# answers must be the same.  No runtime paths (a whole-kind flag is
# above the runtime layer, a document's default below it, by design).
RT_PROBES = [
    ("NET_CONNECT", "github.com:443"), ("NET_CONNECT", "github.com:22"),
    ("NET_CONNECT", "example.com:443"), ("NET_CONNECT", "10.1.2.3:443"),
    ("FS_READ", "/data/x"), ("FS_READ", "/data/secret/k"),
    ("FS_READ", "/tmp/x"), ("FS_READ", "/etc/passwd"),
    ("FS_WRITE", "/srv/x"), ("ENV", "FOO_A"), ("ENV", "SECRET"),
    ("ENV", "HOME"), ("EXEC", "ls"), ("EXEC", "/usr/bin/cat"),
    ("FFI", "/usr/lib/libx.so"), ("SYS", "hostname"), ("SYS", "uid"),
]

ROUND_TRIPS = [
    ("none", []),
    ("mixed", ["--allow-net=github.com,10.0.0.0/8",
               "--deny-net=github.com:22", "--allow-read=/data,/srv/../tmp",
               "--deny-read=/data/secret", "--allow-env=FOO_*",
               "--deny-write", "--allow-sys"]),
    ("allow-all-deny-secret", ["--allow-all", "--deny-env=SECRET"]),
    ("allow-all-kind-deny-one", ["--allow-net", "--deny-net=github.com"]),
    ("deny-all-kind-allow-one", ["--deny-net", "--allow-net=github.com"]),
    ("run-ffi-sys", ["--allow-run=ls,/usr/bin/cat", "--allow-ffi=/usr/lib",
                     "--deny-sys=uid", "--allow-sys=hostname,uid"]),
    ("every-kind", [f"--allow-{k}" for k in KINDS]),
]


@pytest.mark.parametrize("name,flags", ROUND_TRIPS,
                         ids=[c[0] for c in ROUND_TRIPS])
def test_init_policy_round_trip(name, flags):
    # init-policy FLAGS > file; explain --json --policy file shows the
    # same rules and defaults as explain --json FLAGS, and a pod decides
    # the same under either.  Fails if init-policy drops, adds or
    # weakens a rule, or its document means something else.
    r = podrunner("init-policy", *flags)
    assert r.status == 0, r.describe()
    path = write_script("", ".json", data=r.stdout)
    from_flags, rf = explain_json(*flags)
    from_doc, rd = explain_json("--policy", path)
    for k in ("mode", "resources", "audit"):
        assert from_doc[k] == from_flags[k], f"{k} differs\n" \
            f"{rf.describe()}\n{rd.describe()}"
    ef, ed = effective(from_flags), effective(from_doc)
    diff = [f"  {k}: flags {ef[k]}\n  {' ' * len(k)}  doc   {ed[k]}"
            for k in KINDS if ef[k] != ed[k]]
    assert not diff, "the document is not the flags' policy:\n" + \
        "\n".join(diff) + f"\ninit-policy output:\n{r.out}"

    answers = []
    for extra in (flags, ["--policy", str(path)]):
        script = write_script(DECIDE)
        res = podrunner("run", *extra, script,
                        json.dumps([list(p) for p in RT_PROBES]))
        assert res.status == 0, res.describe()
        answers.append(json.loads(res.out.splitlines()[-1]))
    diff = [f"  {k} {t!r}: flags {a}, document {b}"
            for (k, t), a, b in zip(RT_PROBES, *answers) if a != b]
    assert not diff, "decisions differ between the flags and " \
        "init-policy's document:\n" + "\n".join(diff) + \
        f"\ninit-policy output:\n{r.out}"


# --- explain --------------------------------------------------------------------------------

EXPLAIN_DOC = """\
{
  "version": 1,
  "rules": {
    "run": {"allow": ["ls"]}
  }
}
"""


def test_explain_text():
    # Every kind has a section with its default, its rules (action,
    # value, layer, origin) and an "enforced by" line.  Fails if a kind,
    # a rule, its layer or its origin is missing or in another section.
    path = write_script("", ".json", data=EXPLAIN_DOC.encode())
    r = podrunner("explain", "--allow-net=github.com", "--deny-read=/etc",
                  "--policy", path, "--worker", "python",
                  env={"POD_ALLOW_ENV": "FOO"})
    assert r.status == 0, r.describe()
    ctx = r.describe()
    text = r.out
    assert text.startswith("mode: strict\n"), ctx
    assert f"document: {path}\n" in text, ctx
    sections, cur = {}, None
    for line in text.splitlines():
        m = re.match(r"^(\w+): default (\w+)", line)
        if m and m.group(1) in KINDS:
            cur = m.group(1)
            sections[cur] = []
        elif line.strip() == "" or not line.startswith(" "):
            cur = None
        elif cur is not None:
            sections[cur].append(line.split())
    assert list(sections) == KINDS, f"kinds {list(sections)}\n{ctx}"
    for kind, lines in sections.items():
        assert lines and lines[-1][:2] == ["enforced", "by:"] and \
            len(lines[-1]) > 2, f"{kind}: no 'enforced by' line\n{ctx}"
    want = {
        "net": ["allow", "github.com", "flag", "--allow-net"],
        "read": ["deny", "/etc", "flag", "--deny-read"],
        "env": ["allow", "FOO", "env", "POD_ALLOW_ENV"],
        "run": ["allow", "ls", "policy", f"{path}:4:23"],
    }
    for kind, rule in want.items():
        assert rule in sections[kind], f"{kind}: no rule {rule}\n{ctx}"
    if os.path.isdir(PYLIB):
        assert ["allow", PYLIB, "runtime", "runtime"] in sections["read"], \
            f"no runtime rule for {PYLIB}\n{ctx}"


def test_explain_json():
    # --json parses and has "policy" and "enforcement" (every kind).
    # Fails if either is missing, or a rule loses its layer or origin.
    path = write_script("", ".json", data=EXPLAIN_DOC.encode())
    pol, r = explain_json("--allow-net=github.com", "--policy", path)
    doc = json.loads(r.stdout)
    ctx = r.describe()
    assert set(doc) >= {"policy", "enforcement"}, ctx
    assert sorted(doc["enforcement"]) == sorted(KINDS), ctx
    assert all(isinstance(v, str) and v for v in doc["enforcement"].values())
    assert {"value": "github.com", "layer": "flag",
            "origin": "--allow-net"} in pol["rules"]["net"]["allow"], ctx
    assert {"value": "ls", "layer": "policy",
            "origin": f"{path}:4:23"} in pol["rules"]["run"]["allow"], ctx


@pytest.mark.parametrize("args,needle", [
    (["explain", "--no-sandbox"], "--no-sandbox"),
    (["explain", "--shm-size=64k"], "--shm-size"),
    (["init-policy", "--json"], "--json"),
    (["init-policy", "--policy", "/etc/hostname"], "--policy"),
], ids=["explain-no-sandbox", "explain-shm-size", "init-policy-json",
        "init-policy-policy"])
def test_command_usage_error(args, needle):
    # Options of another command are usage errors.  Fails if one is
    # accepted (exit 0) or the message does not name it.
    r = podrunner(*args)
    assert r.status == EXIT_FAILURE, r.describe()
    assert r.stdout == b"", r.describe()
    assert needle in _one_error_line(r), r.describe()


# --- decisions are logged -------------------------------------------------------------------

LOG_CASES = [
    # (id, flags, document, probe, what the policyd line must contain)
    ("flag-deny", ["--deny-net=github.com"], None,
     ("NET_CONNECT", "github.com:443"),
     ['deny net "github.com:443"', "--deny-net=github.com"]),
    ("default-deny", [], None, ("FS_READ", "/etc/passwd"),
     ['deny read "/etc/passwd"', "default",
      "--allow-read=/etc/passwd"]),
    ("document-deny", [], v1(**rules(read={"deny": ["/data"]})),
     ("FS_READ", "/data/x"),
     ['deny read "/data/x"', "@DOC@:", "deny-read=/data"]),
    ("warn", [], v1(**rules(net={"warn": ["github.com"]})),
     ("NET_CONNECT", "github.com:443"),
     ['warn net "github.com:443"', "warn-net=github.com"]),
    ("monitor", ["--deny-env=SECRET"], v1(mode="monitor"), ("ENV", "SECRET"),
     ['env "SECRET"', "monitor", "--deny-env=SECRET"]),
]


@pytest.mark.parametrize("name,flags,doc,probe,needles", LOG_CASES,
                         ids=[c[0] for c in LOG_CASES])
def test_decision_logged(name, flags, doc, probe, needles):
    # With -d, a denial (a warning, a monitored denial) is a policyd
    # line on stderr naming the target and the rule.  Fails if there is
    # no such line, or it names neither.
    flags = ["-d", *flags]
    docpath = None
    if doc is not None:
        docpath = write_script("", ".json", data=doc_text(doc).encode())
        flags += ["--policy", str(docpath)]
    script = write_script(DECIDE)
    r = podrunner("run", *flags, script, json.dumps([list(probe)]))
    assert r.status == 0, r.describe()
    needles = [n.replace("@DOC@", str(docpath)) for n in needles]
    lines = [l for l in r.stderr.splitlines() if "policyd" in l and
             all(n in l for n in needles)]
    assert lines, f"no policyd line with {needles}\n{r.describe()}"
