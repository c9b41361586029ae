"""A test double of the Kubernetes API server: recorded API JSON served over HTTP on 127.0.0.1.

The control API talks to it through the real `kubernetes` client, so request building,
auth headers, timeouts and error handling are exercised for real; only the API server
is replaced (no real one can run here). It records every request it gets.
"""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import urlparse

RECORDED = Path(__file__).resolve().parent / "fixtures" / "kubernetes"
GROUP_PATH = "/apis/aurora.dev/v1alpha1"
ROUTES = {
    "/version": "version.json",
    "/api/v1/nodes": "nodes.json",
    "/apis/storage.k8s.io/v1/storageclasses": "storageclasses.json",
    f"{GROUP_PATH}/mltrainingjobs": "mltrainingjobs.json",
    f"{GROUP_PATH}/mldeployments": "mldeployments.json",
    **{
        f"/apis/apiextensions.k8s.io/v1/customresourcedefinitions/{name}": f"crd-{name}.json"
        for name in (
            "mltrainingjobs.aurora.dev",
            "mldeployments.aurora.dev",
            "compositecontrollers.metacontroller.k8s.io",
        )
    },
}


def recorded(name: str) -> dict:
    return json.loads((RECORDED / name).read_text())


def namespaced(body: dict, namespace: str) -> dict:
    return {**body, "items": [i for i in body["items"] if i["metadata"].get("namespace") == namespace]}


class KubeDouble:
    def __init__(self, *, token: str = "test-token"):
        self.token = token
        self.requests: list[dict] = []
        self.forbidden: set[str] = set()
        self.applied: dict[str, dict] = {}
        double = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_GET(self):
                double.handle(self, "GET")

            def do_PATCH(self):
                double.handle(self, "PATCH")

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)

    def __enter__(self) -> KubeDouble:
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.server.shutdown()
        self.server.server_close()

    def handle(self, handler: BaseHTTPRequestHandler, method: str) -> None:
        url = urlparse(handler.path)
        length = int(handler.headers.get("Content-Length") or 0)
        body = json.loads(handler.rfile.read(length) or b"null") if length else None
        self.requests.append(
            {"method": method, "path": url.path, "query": url.query, "headers": dict(handler.headers), "body": body}
        )
        status, answer = self.answer(method, url.path, handler.headers, body)
        payload = json.dumps(answer).encode()
        handler.send_response(status)
        handler.send_header("Content-Type", "application/json")
        handler.send_header("Content-Length", str(len(payload)))
        handler.end_headers()
        handler.wfile.write(payload)

    def answer(self, method: str, path: str, headers, body) -> tuple[int, dict]:
        if headers.get("Authorization") != f"Bearer {self.token}" or path in self.forbidden:
            return 403, recorded("status-403.json")
        if method == "PATCH":
            return self.patch(path, headers, body)
        if path in ROUTES:
            return 200, recorded(ROUTES[path])
        parts = path.split("/")
        if path.startswith(f"{GROUP_PATH}/namespaces/") and len(parts) == 7:
            return 200, namespaced(recorded(f"{parts[6]}.json"), parts[5])
        return 404, recorded("status-404.json")

    def patch(self, path: str, headers, body) -> tuple[int, dict]:
        if headers.get("Content-Type") == "application/apply-patch+yaml":
            self.applied[path] = body
            return 200, body
        for item in recorded("mldeployments.json")["items"]:
            metadata = item["metadata"]
            if path == f"{GROUP_PATH}/namespaces/{metadata['namespace']}/mldeployments/{metadata['name']}":
                annotations = {**metadata.get("annotations", {}), **body["metadata"]["annotations"]}
                return 200, {**item, "metadata": {**metadata, "annotations": annotations}}
        return 404, recorded("status-404.json")
