"""The first script a new podrunner user runs: it greets, shows what the
pod lets it see, and exits 0.  Try it with and without --allow-sys=uid."""
import os
import sys

print("Hello from a podrunner pod!")
print(f"python {sys.version.split()[0]}, pid {os.getpid()} (pid 2: the pod "
      "has its own pid namespace)")
print("arguments:", sys.argv[1:])
print("environment variables visible:", ", ".join(sorted(os.environ)))
try:
    print("uid:", os.getuid())
except PermissionError as e:
    print("uid: not shown:", e)
