"""The first script a new podrunner user runs: it greets, shows what the
sandbox lets it see, and exits 0."""
import os
import sys

print("Hello from a podrunner pod!")
print(f"python {sys.version.split()[0]}, pid {os.getpid()}, uid {os.getuid()}")
print("arguments:", sys.argv[1:])
visible = sorted(k for k in os.environ)
print("environment variables visible:", ", ".join(visible))
