#!/usr/bin/env python3
"""Proves conformance/openapi.yaml and the server agree: the spec is valid OpenAPI 3.0, every operation it
describes exists on a live server (started here on 127.0.0.1), answers with a status the spec declares, and its
JSON body validates against the declared schema.

    python3 conformance/tools/check_openapi.py [path/to/crm-sync-server]
"""
import gzip
import hashlib
import json
import os
import subprocess
import sys
import tempfile
import urllib.error
import urllib.request

import yaml
from openapi_schema_validator import OAS31Validator
from openapi_spec_validator import validate

from live_server import serve

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")
SPEC = yaml.safe_load(open(os.path.join(ROOT, "conformance", "openapi.yaml")))


def resolve(node):
    """A response object with its $ref (one level: responses are not recursive) replaced by what it points to."""
    while isinstance(node, dict) and "$ref" in node:
        target = SPEC
        for part in node["$ref"].lstrip("#/").split("/"):
            target = target[part]
        node = target
    return node


def validator(schema):
    """A validator for `schema` whose $refs (recursive ones included) resolve against the spec's components."""
    return OAS31Validator(dict(schema, components=SPEC["components"]))


class NoRedirect(urllib.request.HTTPRedirectHandler):
    """Answers a redirect as it is (its status is what the spec declares), not by following it."""

    def redirect_request(self, req, fp, code, msg, headers, newurl):
        return None


urllib.request.install_opener(urllib.request.build_opener(NoRedirect))


def call(port, method, path, token=None, body=None, content_type="application/json", extra=None):
    headers = {"Content-Type": content_type, **(extra or {})}
    if token:
        headers["Authorization"] = "Bearer " + token
    data = body if isinstance(body, (bytes, type(None))) else json.dumps(body).encode()
    request = urllib.request.Request(f"http://127.0.0.1:{port}{path}", data=data, method=method.upper(), headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=20) as response:
            return response.status, response.headers.get("Content-Type", ""), response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.headers.get("Content-Type", ""), error.read()


def main():
    validate(SPEC)
    binary = sys.argv[1] if len(sys.argv) > 1 else os.path.join(ROOT, ".build", "debug", "crm-sync-server")
    folder = tempfile.mkdtemp()
    db = os.path.join(folder, "crm-sync.sqlite")
    admin = subprocess.check_output([binary, "user", "add", "it-admin", "--role", "admin", "--db", db], text=True).strip()
    rep = subprocess.check_output([binary, "user", "add", "alice", "--role", "rep", "--territory", "north", "--db", db], text=True).strip()
    server, port = serve(binary, db)
    failures = []
    checked = 0
    try:
        call(port, "post", "/v1/admin/import/accounts", admin, b"id,name,territory\nacc-1,Acme,north\n", "text/csv")
        change = {"dot": {"replica": "laptop-a", "counter": 1}, "context": {}, "hlc": "2026-11-23T10:00:00.000Z/0",
                  "author": "alice", "entity": "account", "record_id": "acc-2", "op": "create",
                  "fields": {"name": "Newco", "territory": "north"}}
        # A document with one version whose content the blob routes then upload and download (PROTOCOL.md §10).
        offer = b"an offer, version 1\n"
        digest = hashlib.sha256(offer).hexdigest()
        document = {"dot": {"replica": "laptop-a", "counter": 2}, "context": {}, "hlc": "2026-11-23T10:00:01.000Z/0",
                    "author": "alice", "entity": "document", "record_id": "doc-1", "op": "create",
                    "fields": {"account_id": "acc-1", "title": "Offer", "kind": "offer"}}
        version = {"dot": {"replica": "laptop-a", "counter": 3}, "context": {}, "hlc": "2026-11-23T10:00:02.000Z/0",
                   "author": "alice", "entity": "document_version", "record_id": "ver-1", "op": "create",
                   "fields": {"document_id": "doc-1", "account_id": "acc-1", "digest": digest,
                              "size": len(offer), "media_type": "text/plain", "file_name": "offer.txt",
                              "created_at": "2026-11-23T10:00:02Z"}}
        requests = {
            ("get", "/healthz"): (None, None, None),
            ("get", "/"): (None, None, None),
            ("post", "/login"): (None, b"token=" + admin.encode(), None),
            ("post", "/logout"): (None, None, None),
            ("get", "/metrics"): (None, None, None),
            ("get", "/v1/handshake"): (rep, None, None),
            ("post", "/v1/replicas"): (rep, {"protocol_version": 1}, None),
            ("post", "/v1/push"): (
                rep, {"protocol_version": 1, "replica_id": "laptop-a", "changes": [change, document, version]}, None
            ),
            ("get", "/v1/blobs/{digest}/upload"): (rep, None, None),
            ("put", "/v1/blobs/{digest}/upload"): (rep, offer, "?offset=0"),
            ("get", "/v1/blobs/{digest}"): (rep, None, None),
            ("get", "/v1/pull"): (rep, None, "?replica_id=laptop-b&limit=10"),
            ("get", "/v1/snapshot"): (rep, None, "?replica_id=laptop-b&limit=10"),
            ("get", "/v1/history"): (rep, None, "?account=acc-2"),
            ("get", "/v1/admin/users"): (admin, None, None),
            ("post", "/v1/admin/users"): (admin, {"name": "bob", "role": "rep", "territories": ["north"]}, None),
            ("post", "/v1/admin/users/{name}/revoke"): (admin, None, None),
            ("post", "/v1/admin/users/{name}/token"): (admin, None, None),
            ("post", "/v1/admin/territory"): (admin, {"account_id": "acc-1", "territory": "north"}, None),
            ("post", "/v1/admin/import/{kind}"): (admin, b"part_number,name\nP-1,Pump\n", None),
            ("get", "/v1/admin/stats"): (admin, None, None),
        }
        for path, item in SPEC["paths"].items():
            for method, operation in item.items():
                key = (method, path)
                if key not in requests:
                    failures.append(f"{method.upper()} {path}: in the spec but this check does not exercise it")
                    continue
                token, body, query = requests[key]
                concrete = path.replace("{name}", "bob").replace("{kind}", "products").replace("{digest}", digest)
                concrete += query or ""
                content_type = "text/csv" if path.endswith("{kind}") else "application/json"
                extra = None
                if path == "/login":
                    content_type = "application/x-www-form-urlencoded"
                if method == "put" and path.endswith("/upload"):
                    content_type = "application/octet-stream"
                    extra = {"Chunk-SHA256": digest}
                status, media, payload = call(port, method, concrete, token, body, content_type, extra)
                if path == "/v1/blobs/{digest}" and payload != offer:
                    failures.append(f"GET {path}: the content came back different ({payload[:60]!r})")
                checked += 1
                declared = operation["responses"]
                if str(status) not in declared:
                    failures.append(f"{method.upper()} {path}: status {status} is not in the spec ({payload[:120]!r})")
                    continue
                response = resolve(declared[str(status)])
                content = response.get("content", {})
                if "application/json" in content:
                    schema = content["application/json"]["schema"]
                    errors = list(validator(schema).iter_errors(json.loads(payload)))
                    for error in errors[:3]:
                        failures.append(f"{method.upper()} {path}: {error.message}")
                elif "text/plain" in content and not media.startswith("text/plain"):
                    failures.append(f"{method.upper()} {path}: content type {media}")
                elif "text/html" in content and not media.startswith("text/html"):
                    failures.append(f"{method.upper()} {path}: content type {media}")
        # Errors: every error body has the Error shape.
        status, _, payload = call(port, "get", "/v1/handshake")
        errors = list(validator({"$ref": "#/components/schemas/Error"}).iter_errors(json.loads(payload)))
        if status != 401 or errors:
            failures.append("an unauthenticated request does not get the Error body with 401")
        checked += 1
    finally:
        server.terminate()
        server.wait(timeout=10)
    for failure in failures:
        print("FAIL", failure)
    print(f"openapi: {checked - len(failures)} passed, {len(failures)} failed")
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
