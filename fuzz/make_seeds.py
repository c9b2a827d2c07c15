#!/usr/bin/env python3
"""Writes the fuzzers' seed corpora (fuzz/corpus/<target>/) from the conformance vectors, the import fixtures and
the answers of a live server (started here on 127.0.0.1 from the given binary). The binary codec's seeds are
written by the unit test (`CRM_FUZZ_WRITE_SEEDS=1 swift test --filter FuzzCorpusTests`).

    python3 fuzz/make_seeds.py .build/debug/crm-sync-server
"""
import hashlib
import json
import os
import subprocess
import sys
import tempfile
import urllib.request

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
sys.path.insert(0, os.path.join(ROOT, "conformance", "tools"))
from live_server import serve  # noqa: E402
CORPUS = os.path.join(ROOT, "fuzz", "corpus")
KINDS = ["products", "stock", "invoices", "accounts", "plans", "norms"]  # ImportKind.allCases, in order


def write(target, data):
    folder = os.path.join(CORPUS, target)
    os.makedirs(folder, exist_ok=True)
    name = hashlib.sha1(data).hexdigest()[:16]
    with open(os.path.join(folder, name), "wb") as f:
        f.write(data)


def call(port, method, path, token, body=None, content_type="application/json"):
    request = urllib.request.Request(f"http://127.0.0.1:{port}{path}", data=body, method=method,
                                     headers={"Authorization": "Bearer " + token, "Content-Type": content_type})
    try:
        with urllib.request.urlopen(request, timeout=20) as response:
            return response.read()
    except urllib.error.HTTPError as error:
        return error.read()


def main():
    binary = sys.argv[1] if len(sys.argv) > 1 else os.path.join(ROOT, ".build", "debug", "crm-sync-server")
    messages = json.load(open(os.path.join(ROOT, "conformance", "vectors", "wire", "v1", "messages.json")))
    pushes = [case["json"].encode() for case in messages["cases"] if case["message"] == "push_request"]
    for body in pushes:
        write("push", body)
    for case in messages["cases"]:
        if case["message"] != "push_request":
            write("pull", case["json"].encode())
    fixtures = os.path.join(ROOT, "Tests", "CRMFieldTests", "Fixtures", "imports")
    for name in sorted(os.listdir(fixtures)):
        data = open(os.path.join(fixtures, name), "rb").read()
        kind = next((k for k in KINDS if name.startswith(k)), "accounts")
        write("csv", bytes([KINDS.index(kind)]) + data)
    write("csv", bytes([KINDS.index("plans")]) + b"rep,month,amount,currency\nalice,2026-11,1000000,EUR\n")
    write("csv", bytes([KINDS.index("norms")]) + b"stage,days\nproposal,14\nnegotiation,21\n")

    folder = tempfile.mkdtemp()
    db = os.path.join(folder, "crm-sync.sqlite")
    admin = subprocess.check_output([binary, "user", "add", "it", "--role", "admin", "--db", db], text=True).strip()
    rep = subprocess.check_output([binary, "user", "add", "alice", "--role", "rep", "--territory", "north",
                                   "--db", db], text=True).strip()
    server, port = serve(binary, db)
    try:
        for name in sorted(os.listdir(fixtures)):
            kind = next((k for k in KINDS if name.startswith(k)), None)
            if kind:
                call(port, "POST", f"/v1/admin/import/{kind}", admin, open(os.path.join(fixtures, name), "rb").read(),
                     "text/csv")
        replica = json.loads(call(port, "POST", "/v1/replicas", rep, b'{"protocol_version":1}'))["replica_id"]
        change = {"dot": {"replica": replica, "counter": 1}, "context": {}, "hlc": "2026-11-23T10:00:00.000Z/0",
                  "author": "alice", "entity": "account", "record_id": "acc-seed", "op": "create",
                  "fields": {"name": "Seed GmbH", "territory": "north", "phone": "+49 40 1"}}
        edit = dict(change, dot={"replica": replica, "counter": 2}, context={replica: 1}, op="set",
                    hlc="2026-11-23T10:01:00.000Z/0", fields={"phone": "+49 40 2", "website": "seed.example"})
        call(port, "POST", "/v1/push", rep, json.dumps({"protocol_version": 1, "replica_id": replica,
                                                         "changes": [change, edit]}).encode())
        write("push", json.dumps({"protocol_version": 1, "replica_id": replica, "changes": [change, edit]}).encode())
        write("pull", call(port, "GET", "/v1/handshake", rep))
        write("pull", call(port, "GET", "/v1/pull?replica_id=seed-b&limit=2", rep))
        write("pull", call(port, "GET", "/v1/pull?replica_id=seed-b&limit=1000", admin))
        write("pull", call(port, "GET", "/v1/snapshot?replica_id=seed-b&limit=3", rep))
        write("pull", call(port, "GET", "/v1/snapshot?replica_id=seed-b&limit=1000", admin))
        write("pull", call(port, "GET", "/v1/history?account=acc-seed", rep))
    finally:
        server.terminate()
        server.wait(timeout=10)


if __name__ == "__main__":
    main()
