"""Serves the built SPA (frontend/dist) on loopback, with `/config.json` generated from the command line
(so several local clouds can serve one build, each pointing at its own API) and index.html for
client-side routes."""

from __future__ import annotations

import argparse
import json
from functools import partial
from http import HTTPStatus
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path


class SpaHandler(SimpleHTTPRequestHandler):
    config: bytes = b"{}"

    def do_GET(self) -> None:
        path = self.path.split("?", 1)[0]
        if path == "/config.json":
            self._send_bytes(self.config, "application/json; charset=utf-8")
            return
        # A client-side route (no file extension, nothing on disk) gets the app shell.
        target = Path(self.translate_path(path))
        if not target.exists() and "." not in path.rsplit("/", 1)[-1]:
            self.path = "/index.html"
        super().do_GET()

    def end_headers(self) -> None:
        # The shell and config must never be cached; hashed assets may be.
        if self.path in ("/", "/index.html"):
            self.send_header("Cache-Control", "no-store")
        super().end_headers()

    def _send_bytes(self, body: bytes, content_type: str) -> None:
        self.send_response(HTTPStatus.OK)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
        super().end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        print(f"{self.address_string()} {format % args}", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, default=8080)
    parser.add_argument("--dir", type=Path, required=True)
    parser.add_argument("--api-base-url", default="http://127.0.0.1:8000")
    parser.add_argument("--cognito-endpoint", help="admin sign-in: the user pool's service endpoint")
    parser.add_argument("--cognito-client-id", help="admin sign-in: the pool's app client id")
    args = parser.parse_args()
    config = {"apiBaseUrl": args.api_base_url}
    if args.cognito_endpoint and args.cognito_client_id:
        config.update(cognitoEndpoint=args.cognito_endpoint, cognitoClientId=args.cognito_client_id)
    SpaHandler.config = json.dumps(config).encode()
    handler = partial(SpaHandler, directory=str(args.dir))
    with ThreadingHTTPServer(("127.0.0.1", args.port), handler) as server:
        print(f"serving {args.dir} on http://127.0.0.1:{args.port}", flush=True)
        server.serve_forever()


if __name__ == "__main__":
    main()
