"""Starts `crm-sync-server serve` on a free 127.0.0.1 port for the tools here and fuzz/make_seeds.py, and waits
until it answers /healthz."""
import socket
import subprocess
import time
import urllib.request


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def serve(binary, db, log=subprocess.DEVNULL):
    """The server process and its port, once it answers /healthz (at most about ten seconds)."""
    port = free_port()
    server = subprocess.Popen([binary, "serve", "--db", db, "--port", str(port)], stdout=log, stderr=log)
    for _ in range(100):
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2)
            break
        except OSError:
            time.sleep(0.1)
    return server, port
