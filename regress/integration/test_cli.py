"""
The command line: --help, --version, usage errors, accepted flags,
init-policy, and the worker type chosen from the entry.
"""

import base64
import json
import os
import re

import pytest

from conftest import (EXIT_FAILURE, ROOT, Case, cases_by_name, podrunner,
                      run_case, write_script)

HELLO = 'print("hello")\n'


def test_help():
    r = podrunner("--help")
    assert r.status == 0, r.describe()
    out = r.out
    assert "usage" in out.lower(), r.describe()
    for word in ("run", "init-policy", "--allow-", "--deny-", "--shm-size",
                 "--timeout", "--worker"):
        assert word in out, f"{word} not in --help\n{r.describe()}"
    # The exit statuses are documented in --help (issue 2).
    for code in ("124", "125", "126", "127"):
        assert code in out, f"exit status {code} not in --help\n" \
            f"{r.describe()}"
    assert r.err_lines == [], r.describe()


def test_version():
    m = re.search(r'#define\s+PODRUNNER_VERSION\s+"([^"]+)"',
                  (ROOT / "common" / "proto.h").read_text())
    assert m, "PODRUNNER_VERSION not found in common/proto.h"
    r = podrunner("--version")
    assert r.status == 0, r.describe()
    assert r.out == f"podrunner {m.group(1)}\n", r.describe()
    assert r.err_lines == [], r.describe()


# --- usage errors: exit 125, one line on stderr naming the culprit -------------

# (id, arguments after "podrunner", environment, substring of the line)
# An entry of None is replaced by a valid hello script.
USAGE_ERRORS = [
    ("unknown-flag", ["run", "--allow-nett", None], None, "--allow-nett"),
    ("unknown-short", ["run", "-Z", None], None, "-Z"),
    # getopt_long accepts unique prefixes; a prefix of a permission flag
    # silently granting it ("--allow-ne" = --allow-net) is a surprise the
    # spec does not allow: only the listed flags exist.
    ("abbreviated-flag", ["run", "--allow-ne=github.com", None], None,
     "allow-ne"),
    ("unknown-command", ["frobnicate"], None, "frobnicate"),
    ("shm-size-unit", ["run", "--shm-size=10xb", None], None, "shm-size"),
    ("shm-size-not-4k", ["run", "--shm-size=1000", None], None, "shm-size"),
    ("shm-size-too-small", ["run", "--shm-size=4k", None], None, "shm-size"),
    ("shm-size-too-big", ["run", "--shm-size=2g", None], None, "shm-size"),
    ("shm-size-empty", ["run", "--shm-size=", None], None, "shm-size"),
    ("shm-size-overflow", ["run", "--shm-size=18014398509481984k", None],
     None, "shm-size"),
    ("worker-perl", ["run", "--worker=perl", None], None, "worker"),
    ("timeout-abc", ["run", "--timeout=abc", None], None, "timeout"),
    ("timeout-negative", ["run", "--timeout=-1s", None], None, "timeout"),
    ("net-double-dot", ["run", "--allow-net=bad..host", None], None,
     "allow-net"),
    ("net-cidr-33", ["run", "--allow-net=1.2.3.4/33", None], None,
     "allow-net"),
    ("deny-net-double-dot", ["run", "--deny-net=bad..host", None], None,
     "deny-net"),
    ("env-bad-name", ["run", "--allow-env=BAD-NAME", None], None,
     "allow-env"),
    ("env-empty-item", ["run", "--allow-env=FOO,,BAR", None], None,
     "allow-env"),
    ("missing-entry", ["run"], None, "entry"),
    ("missing-entry-after-flags", ["run", "--allow-net", "--no-sandbox"],
     None, "entry"),
    ("policy-missing-file", ["run", "--policy",
                             "/nonexistent/podrunner-policy.json", None],
     None, "podrunner-policy.json"),
    ("policy-and-env", ["run", "--policy", "@POLICY@", None],
     {"POD_POLICY_JSON": "@B64@"}, "POD_POLICY_JSON"),
    ("pod-env-bad-value", ["run", None], {"POD_ALLOW_NET": "bad..host"},
     "POD_ALLOW_NET"),
    ("init-policy-bad-flag", ["init-policy", "--allow-nett"], None,
     "--allow-nett"),
    ("init-policy-bad-value", ["init-policy", "--allow-net=1.2.3.4/33"],
     None, "allow-net"),
]


def _policy_file():
    r = podrunner("init-policy")
    assert r.status == 0, r.describe()
    return write_script("", ".json", data=r.stdout), r.stdout


@pytest.mark.parametrize("args,env,needle",
                         [c[1:] for c in USAGE_ERRORS],
                         ids=[c[0] for c in USAGE_ERRORS])
def test_usage_error(args, env, needle):
    hello = write_script(HELLO)
    policy, doc = _policy_file() if "@POLICY@" in args else (None, b"")
    args = [str(hello) if a is None else
            str(policy) if a == "@POLICY@" else a for a in args]
    if env:
        env = {k: base64.b64encode(doc).decode() if v == "@B64@" else v
               for k, v in env.items()}
    r = podrunner(*args, env=env)
    ctx = r.describe()
    assert r.status == EXIT_FAILURE, ctx
    # The script must not have run.
    assert "hello" not in r.out, ctx
    lines = r.err_lines
    assert len(lines) == 1, f"want one line on stderr, got {lines}\n{ctx}"
    assert lines[0].startswith("podrunner: "), ctx
    assert needle in lines[0], f"{needle!r} not named\n{ctx}"


# --- flags that must be accepted: the script runs ------------------------------

ACCEPTED = [
    [],
    ["--no-sandbox"],
    ["-d"],
    ["-v"],
    ["--allow-all"],
    ["--allow-net"],
    ["--allow-net=github.com,jsr.io:443,*.example.com"],
    ["--allow-net=10.0.0.1", "--deny-net=10.0.0.0/8"],
    ["--allow-read", "--allow-read=/tmp,/usr/share", "--deny-read=/etc"],
    ["--allow-write=/tmp/out", "--deny-write"],
    ["--allow-env", "--deny-env=SECRET"],
    ["--allow-env=PATH,HOME,FOO_*"],
    ["--allow-run=/bin/ls", "--deny-run"],
    ["--allow-ffi", "--deny-ffi=/usr/lib"],
    ["--allow-sys=hostname,os", "--deny-sys"],
    ["--shm-size=8k"],
    ["--shm-size", "64k"],
    ["--shm-size=10MiB"],
    ["--shm-size=1g"],
    ["--worker=python"],
    ["--worker", "python"],
    ["--timeout=30s"],
    ["--timeout", "1h"],
]


@pytest.mark.parametrize("flags", ACCEPTED,
                         ids=[" ".join(f) or "none" for f in ACCEPTED])
def test_accepted_flags(flags):
    run_case(Case("accepted", HELLO, flags=flags, stdout=b"hello\n"))


def test_policy_file_and_env_layer():
    """init-policy's output loads back, as --policy and as POD_POLICY_JSON."""
    path, doc = _policy_file()
    run_case(Case("policy-file", HELLO, flags=["--policy", str(path)],
                  stdout=b"hello\n"))
    run_case(Case("policy-file-eq", HELLO, flags=[f"--policy={path}"],
                  stdout=b"hello\n"))
    run_case(Case("policy-env", HELLO, stdout=b"hello\n",
                  env={"POD_POLICY_JSON": base64.b64encode(doc).decode()}))


# --- options stop at the entry -------------------------------------------------

def test_options_after_entry_belong_to_script():
    run_case(Case(
        "after-entry",
        "import sys, json; print(json.dumps(sys.argv[1:]))\n",
        args=["--allow-nett", "--timeout=abc", "-d", "--", "x"],
        stdout=b'["--allow-nett", "--timeout=abc", "-d", "--", "x"]\n'))


# --- worker type from the entry ---------------------------------------------------

WORKER_FROM_ENTRY = [
    Case(f"bun{ext}", "console.log('hi')\n", suffix=ext, stdout=b"hi\n")
    for ext in (".ts", ".js", ".mjs")
] + [
    # --worker wins over the extension.
    Case("bun-forced", 'console.log("hello")\n', suffix=".py",
         flags=["--worker=bun"], stdout=b"hello\n"),
]


@cases_by_name(WORKER_FROM_ENTRY)
def test_worker_from_entry(case):
    run_case(case)


# --- init-policy ----------------------------------------------------------------------

def _strings(doc):
    """Every string (keys and values) in a JSON document."""
    if isinstance(doc, dict):
        for k, v in doc.items():
            yield k
            yield from _strings(v)
    elif isinstance(doc, list):
        for v in doc:
            yield from _strings(v)
    elif isinstance(doc, str):
        yield doc


INIT_POLICY = [
    # (flags, strings that must appear somewhere in the document)
    ([], []),
    (["--allow-net=github.com"], ["github.com"]),
    (["--allow-net=github.com,api.example.com", "--allow-read=/data",
      "--allow-write=/tmp/out", "--deny-net=10.0.0.0/8",
      "--allow-env=FOO", "--allow-run=/bin/ls"],
     ["github.com", "api.example.com", "/data", "/tmp/out", "10.0.0.0/8",
      # a path grant is made for what it resolves to: /bin -> usr/bin
      "FOO", os.path.realpath("/bin/ls")]),
]


@pytest.mark.parametrize("flags,want", INIT_POLICY,
                         ids=[" ".join(f) or "none" for f, _ in INIT_POLICY])
def test_init_policy(flags, want):
    r = podrunner("init-policy", *flags)
    assert r.status == 0, r.describe()
    try:
        doc = json.loads(r.stdout)
    except ValueError as e:
        pytest.fail(f"init-policy output is not JSON: {e}\n{r.describe()}")
    assert isinstance(doc, dict), r.describe()
    assert doc.get("version") == 1, r.describe()
    strings = set(_strings(doc))
    for s in want:
        assert s in strings, f"{s!r} not in the policy\n{r.describe()}"
    # Hosts and paths that were not given are not invented.
    if not flags:
        assert "github.com" not in strings, r.describe()
