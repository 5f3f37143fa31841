#!/usr/bin/python3
"""Trim a config.json in place to what berth can run under valgrind 3.19 (see tests/valgrind/run):
no mounts, masked or read-only paths (the new mount API), no seccomp, no rlimits, no terminal.

    trim_config.py CONFIG [--root PATH] [-- ARGS...]

Prints the root path the config ends up with."""
import json
import sys

path, rest = sys.argv[1], sys.argv[2:]
args = None
if "--" in rest:
    args = rest[rest.index("--") + 1:]
    rest = rest[:rest.index("--")]
with open(path) as f:
    c = json.load(f)
if rest[:1] == ["--root"]:
    c["root"] = {"path": rest[1], "readonly": False}
p = c["process"]
p["terminal"] = False
p.pop("rlimits", None)
if args is not None:
    p["args"] = args
c["mounts"] = []
c["linux"]["maskedPaths"] = []
c["linux"]["readonlyPaths"] = []
c["linux"].pop("seccomp", None)
with open(path, "w") as f:
    json.dump(c, f)
print(c["root"]["path"])
