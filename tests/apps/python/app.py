"""The python buildpack's example app: answers every request with a line
made by the vendored hellogreeting library, plus the GREETING config
variable when it is set."""

import http.server
import os

from hellogreeting import message


class Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        body = message("python") + "\n"
        if os.environ.get("GREETING"):
            body += os.environ["GREETING"] + "\n"
        data = body.encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/plain; charset=utf-8")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


def main():
    port = int(os.environ.get("PORT", "5000"))
    server = http.server.ThreadingHTTPServer(("0.0.0.0", port), Handler)
    print(f"listening on port {port}")
    server.serve_forever()


if __name__ == "__main__":
    main()
