#!/usr/bin/env python3
"""A real OpenStack Placement (openstack-placement from PyPI) for gpumon's tests.

    server.py WORKDIR    writes WORKDIR/placement.conf (SQLite, auth_strategy = noauth2), syncs the database,
                         serves the WSGI app on 127.0.0.1 on a free port and prints "PORT <n>" once it listens.

Stops on SIGTERM or when stdin closes (the test process that started it died), so no server outlives its test.
"""
import os
import signal
import sys
import threading
from socketserver import ThreadingMixIn
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server


class QuietHandler(WSGIRequestHandler):
    def log_message(self, format, *args):  # keep the test output readable
        pass


class ThreadingWSGIServer(ThreadingMixIn, WSGIServer):
    daemon_threads = True


def main():
    # A child spawned from a Swift test inherits the spawning thread's signal mask, where SIGTERM is blocked:
    # unblock it, or Process.terminate() would never stop the server.
    signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGTERM, signal.SIGINT})
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    # Placement's logging writes to stdout: keep the real stdout for the "PORT" line only and send fd 1 to stderr.
    port_out = os.fdopen(os.dup(1), "w")
    os.dup2(2, 1)
    sys.stdout = sys.stderr
    workdir = os.path.abspath(sys.argv[1])
    os.makedirs(workdir, exist_ok=True)
    with open(os.path.join(workdir, "placement.conf"), "w") as conf:
        conf.write(
            "[DEFAULT]\n"
            "debug = False\n"
            "[api]\n"
            "auth_strategy = noauth2\n"
            "[placement_database]\n"
            f"connection = sqlite:///{workdir}/placement.sqlite\n"
            "sync_on_startup = True\n"
        )
    os.environ["OS_PLACEMENT_CONFIG_DIR"] = workdir
    from placement import wsgi

    app = wsgi.init_application()
    port = int(sys.argv[2]) if len(sys.argv) > 2 else 0
    server = make_server("127.0.0.1", port, app, server_class=ThreadingWSGIServer, handler_class=QuietHandler)
    print(f"PORT {server.server_port}", file=port_out, flush=True)

    def watch_stdin():
        sys.stdin.read()
        server.shutdown()

    threading.Thread(target=watch_stdin, daemon=True).start()
    server.serve_forever()


if __name__ == "__main__":
    main()
