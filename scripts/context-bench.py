#!/usr/bin/env python3
"""What a forged context costs the server (issue 12): push one change whose context has N entries and time the answer,
against the same push with an empty context, on a live crm-sync-server on 127.0.0.1; then time a snapshot of the
territory. Before issue 12 the cost grew with N squared (10k entries: 7-11 s per push; snapshots ~15 s after).

    python3 scripts/context-bench.py .build/release/crm-sync-server
"""
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def call(port, method, path, token, body=None):
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(f"http://127.0.0.1:{port}{path}", data=data, method=method)
    request.add_header("Authorization", f"Bearer {token}")
    request.add_header("Content-Type", "application/json")
    started = time.perf_counter()
    try:
        with urllib.request.urlopen(request, timeout=120) as response:
            payload = response.read()
            status = response.status
    except urllib.error.HTTPError as error:
        payload = error.read()
        status = error.code
    except TimeoutError:
        return 0, {"error": {"code": "timed out after 120 s"}}, time.perf_counter() - started
    return status, json.loads(payload or b"{}"), time.perf_counter() - started


def main():
    server = sys.argv[1]
    folder = tempfile.mkdtemp()
    db = os.path.join(folder, "db.sqlite")
    token = subprocess.check_output([server, "user", "add", "anna", "--role", "rep", "--territory", "north",
                                     "--db", db], text=True).strip()
    port = free_port()
    process = subprocess.Popen([server, "serve", "--db", db, "--port", str(port)], stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL)
    try:
        for _ in range(100):
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=1)
                break
            except OSError:
                time.sleep(0.1)
        _, registered, _ = call(port, "POST", "/v1/replicas", token, {"protocol_version": 1})
        replica = registered.get("replica_id", "bench-laptop")  # a server before issue 12 does not register
        counter = 0

        def push(context, fields):
            nonlocal counter
            counter += 1
            change = {"dot": {"replica": replica, "counter": counter}, "context": context,
                      "hlc": time.strftime("%Y-%m-%dT%H:%M:%S.000Z/0", time.gmtime()), "author": "anna",
                      "entity": "account", "record_id": "acc-1", "op": "set" if counter > 1 else "create",
                      "fields": fields}
            return call(port, "POST", "/v1/push", token, {"protocol_version": 1, "replica_id": replica,
                                                          "changes": [change]})

        push({}, {"name": "Acme", "territory": "north"})
        print(f"{'context entries':>16} {'status':>22} {'seconds':>8} {'x empty':>8}", flush=True)
        base = min(push({replica: counter}, {"phone": "1"})[2] for _ in range(5))
        print(f"{'0 (own only)':>16} {'accepted':>22} {base:8.4f} {1.0:8.1f}", flush=True)
        for n in [1_000, 10_000, 20_000]:
            context = {f"r{i:06d}": 1 for i in range(n)}
            status, answer, seconds = push(context, {"phone": str(n)})
            result = answer.get("results", [{}])[0]
            outcome = (result.get("rejection") or {}).get("code") or result.get("status") \
                or answer.get("error", {}).get("code") or str(status)
            print(f"{n:>16} {str(status) + ' ' + outcome:>22} {seconds:8.4f} {seconds / base:8.1f}", flush=True)
        _, _, snapshot = call(port, "GET", f"/v1/snapshot?replica_id={replica}&limit=1000", token)
        print(f"snapshot of the territory afterwards: {snapshot:.4f} s", flush=True)
    finally:
        process.terminate()
        process.wait()


if __name__ == "__main__":
    main()
