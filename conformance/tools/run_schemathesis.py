#!/usr/bin/env python3
"""Fuzzes a live server (started here on 127.0.0.1, a fresh SQLite database) against conformance/openapi.yaml with
schemathesis: every check (`--checks all`), every phase including the stateful one, a fixed seed, once with a rep's
token and once with an admin's. Exits non-zero on any failure. Settings: conformance/tools/schemathesis.toml; hooks
(why each exists): conformance/tools/schemathesis_hooks.py.

    python3 conformance/tools/run_schemathesis.py [path/to/crm-sync-server] [--examples N] [--seed S]
"""
import argparse
import os
import subprocess
import sys
import tempfile
import time
import urllib.request

from live_server import serve

TOOLS = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.join(TOOLS, "..", "..")


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("binary", nargs="?", default=os.path.join(ROOT, ".build", "debug", "crm-sync-server"))
    parser.add_argument("--examples", type=int, default=int(os.environ.get("CRM_SCHEMATHESIS_EXAMPLES", "60")))
    parser.add_argument("--seed", type=int, default=int(os.environ.get("CRM_SCHEMATHESIS_SEED", "20261204")))
    options = parser.parse_args()
    folder = tempfile.mkdtemp(prefix="crm-schemathesis-")
    db = os.path.join(folder, "crm-sync.sqlite")

    def cli(*arguments):
        return subprocess.check_output([options.binary, *arguments, "--db", db], text=True).strip()

    tokens = {"admin": cli("user", "add", "it-admin", "--role", "admin"),
              "rep": cli("user", "add", "alice", "--role", "rep", "--territory", "north")}
    cli("user", "add", "bob", "--role", "rep", "--territory", "south")
    cli("user", "add", "maria", "--role", "manager", "--territory", "north", "--territory", "south")
    server, port = serve(options.binary, db, log=open(os.path.join(folder, "server.log"), "w"))
    failed = []
    try:
        csv = b"id,name,territory\nacc-1,Acme,north\nacc-2,Beta,south\n"
        request = urllib.request.Request(f"http://127.0.0.1:{port}/v1/admin/import/accounts", data=csv, method="POST",
                                         headers={"Authorization": "Bearer " + tokens["admin"],
                                                  "Content-Type": "text/csv"})
        urllib.request.urlopen(request, timeout=20).read()
        environment = dict(os.environ, SCHEMATHESIS_HOOKS="schemathesis_hooks",
                           PYTHONPATH=TOOLS + os.pathsep + os.environ.get("PYTHONPATH", ""))
        for role in ("rep", "admin"):
            started = time.monotonic()
            command = [
                "st", "--config-file", os.path.join(TOOLS, "schemathesis.toml"), "run",
                os.path.join(ROOT, "conformance", "openapi.yaml"),
                "--url", f"http://127.0.0.1:{port}",
                "-H", "Authorization: Bearer " + tokens[role],
                "--checks", "all",
                "--phases", "examples,coverage,fuzzing,stateful",
                "--seed", str(options.seed),
                "--max-examples", str(options.examples),
                "--generation-database", "none",
                "--workers", "1",
                "--no-color",
                "--report", "junit", "--report-dir", os.path.join(folder, role),
            ]
            result = subprocess.run(command, env=environment, cwd=folder, capture_output=True, text=True)
            summary = [line for line in result.stdout.splitlines() if "generated" in line or "====" in line]
            print(f"schemathesis ({role}'s token, seed {options.seed}, {options.examples} examples per operation): "
                  f"{time.monotonic() - started:.0f} s; " + " ".join(s.strip("= ") for s in summary[-2:]))
            if result.returncode != 0:
                print(result.stdout[-20000:])
                print(result.stderr[-4000:], file=sys.stderr)
                failed.append(role)
    finally:
        server.terminate()
        server.wait(timeout=10)
    if server.returncode not in (0, -15):
        failed.append(f"the server exited {server.returncode}")
    print("schemathesis: " + ("0 failures" if not failed else "FAILED: " + ", ".join(failed)))
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
