"""The web process of aptship's static buildpack, copied into the app as
.static/serve.py: serves the files under a document root of the app on
$PORT (default 5000), with index.html for directories. Only the Python
standard library is used, so the package needs nothing but python3.

Directory listings and dotfiles (.profile.d, .git, this script) are never
served: the document root may be the app's top directory.

Usage: python3 .static/serve.py [DOCUMENT_ROOT]   (relative to the app)
"""

import http.server
import os
import socket
import sys
import urllib.parse

APP_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


class Handler(http.server.SimpleHTTPRequestHandler):
    def send_head(self):
        path = urllib.parse.unquote(urllib.parse.urlsplit(self.path).path)
        if any(part.startswith(".") for part in path.split("/")):
            self.send_error(404)
            return None
        local = self.translate_path(self.path)
        if os.path.isdir(local) and not os.path.isfile(os.path.join(local, "index.html")):
            self.send_error(404)
            return None
        return super().send_head()


class Server(http.server.ThreadingHTTPServer):
    daemon_threads = True

    def server_bind(self):
        # Both IPv6 and IPv4 clients on one socket, where the host has IPv6.
        if self.address_family == socket.AF_INET6:
            self.socket.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
        super().server_bind()


def main():
    root = os.path.join(APP_DIR, sys.argv[1] if len(sys.argv) > 1 else ".")
    port = int(os.environ.get("PORT", "5000"))

    def handler(*args, **kwargs):
        return Handler(*args, directory=root, **kwargs)

    try:
        Server.address_family = socket.AF_INET6
        server = Server(("::", port), handler)
    except OSError:
        Server.address_family = socket.AF_INET
        server = Server(("0.0.0.0", port), handler)
    print(f"serving {root} on port {port}", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
