"""/metrics, /healthz and /readyz keep answering while a client holds a connection open and silent."""

from __future__ import annotations

import socket
import urllib.request

from rekap.tabulator.metrics import MetricsServer, TabulatorMetrics


def test_one_silent_connection_does_not_block_the_others() -> None:
    server = MetricsServer(TabulatorMetrics(), "127.0.0.1", 0)
    server.start()
    try:
        with socket.create_connection(("127.0.0.1", server.port)) as silent:  # connects, says nothing
            silent.sendall(b"GET /metr")  # and not even a whole request line
            with urllib.request.urlopen(f"http://127.0.0.1:{server.port}/healthz", timeout=3) as response:
                assert response.read() == b"ok\n"
            with urllib.request.urlopen(f"http://127.0.0.1:{server.port}/metrics", timeout=3) as response:
                assert b"rekap_ready" in response.read()
    finally:
        server.stop()
