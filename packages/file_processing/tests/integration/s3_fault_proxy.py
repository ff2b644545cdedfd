"""A fault-injecting HTTP proxy for the S3 integration tests (a helper module, not a test).

It listens on 127.0.0.1 (free port), forwards each request to an upstream S3 double
(s3rver) and applies, per request, the next fault of its plan:

    Fault.status(503, "SlowDown")     answer with an S3 <Error> XML, upstream not asked
    Fault.cut(after=N)                forward, send N body bytes, close cleanly (FIN)
    Fault.reset(after=N)              forward, send N body bytes, reset the connection (RST)
    Fault.stall(seconds, after=N)     forward, send N body bytes (None: no headers), go quiet
    Fault.drop()                      close the connection without any answer
    Fault.ignore_range()              forward without Range/If-Match (a server ignoring them)
    None                              pass through

It also records every request (method, path, query, headers) and emulates `If-Match` (s3rver
ignores it): a 2xx whose ETag differs from If-Match becomes a 412 PreconditionFailed. A
CONNECT (a client told to use this as its HTTPS proxy) is recorded and refused with 403,
which shows the host a client would reach without any traffic leaving the machine.
Everything runs on daemon threads; stop() ends them and releases stalls at once.
"""
import http.client
import http.server
import socket
import struct
import threading
import urllib.parse


class Fault:
    def __init__(self, kind, **kw):
        self.kind = kind
        self.__dict__.update(kw)

    def __repr__(self):
        return "Fault(%s)" % ", ".join("%s=%r" % kv for kv in sorted(self.__dict__.items()))

    @classmethod
    def status(cls, code, s3code, message="injected by the fault proxy"):
        return cls("status", code=code, s3code=s3code, message=message)

    @classmethod
    def cut(cls, after):
        return cls("cut", after=after)

    @classmethod
    def reset(cls, after):
        return cls("reset", after=after)

    @classmethod
    def stall(cls, seconds, after=None):
        return cls("stall", seconds=seconds, after=after)

    @classmethod
    def drop(cls):
        return cls("drop")

    @classmethod
    def ignore_range(cls):
        return cls("ignore_range")


def error_xml(code, message, resource="", request_id="FAULTPROXY"):
    return ("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>%s</Code>"
            "<Message>%s</Message><Resource>%s</Resource><RequestId>%s</RequestId></Error>"
            % (code, message, resource, request_id)).encode()


HOP_BY_HOP = {"connection", "keep-alive", "proxy-connection", "transfer-encoding", "te",
              "trailer", "upgrade"}


class FaultProxy:
    def __init__(self, upstream_port, upstream_host="127.0.0.1"):
        self.upstream = (upstream_host, upstream_port)
        self.plan = []          # faults for the next requests, in order
        self.default = None     # fault once the plan is used up (None = pass)
        self.match = lambda rec: rec["method"] in ("GET", "PUT", "HEAD")
        self.before_forward = None  # callable(index, record) run before a request goes up
        self.requests = []
        self.lock = threading.Lock()
        self.stopping = threading.Event()
        self.server = None
        self.thread = None
        self.port = None

    # -- control ------------------------------------------------------------------------
    def start(self):
        proxy = self

        class Handler(_Handler):
            owner = proxy

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True,
                                       kwargs={"poll_interval": 0.05})
        self.thread.start()
        return self

    def stop(self):
        self.stopping.set()
        if self.server:
            self.server.shutdown()
            self.server.server_close()
            self.server = None

    def set_plan(self, plan, default=None):
        with self.lock:
            self.plan = list(plan)
            self.default = default
            self.requests = []

    def url(self):
        return "http://127.0.0.1:%d" % self.port

    # -- used by the handler ------------------------------------------------------------
    def next_fault(self, rec):
        with self.lock:
            rec["index"] = len(self.requests)
            self.requests.append(rec)
            if not self.match(rec):
                return None
            if self.plan:
                return self.plan.pop(0)
            return self.default


class _Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    owner = None  # the FaultProxy, set by a subclass

    def log_message(self, fmt, *args):  # quiet
        pass

    def finish(self):
        try:
            super().finish()
        except OSError:
            pass

    # -- raw output helpers -------------------------------------------------------------
    def _send_head(self, status, reason, headers):
        lines = ["HTTP/1.1 %d %s" % (status, reason)]
        lines += ["%s: %s" % (k, v) for k, v in headers if k.lower() not in HOP_BY_HOP]
        lines.append("Connection: close")
        self.wfile.write(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1"))

    def _answer(self, status, reason, body, ctype="application/xml"):
        self._send_head(status, reason, [("Content-Type", ctype),
                                         ("Content-Length", str(len(body)))])
        self.wfile.write(body)
        self.close_connection = True

    def _reset(self):
        try:
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                                       struct.pack("ii", 1, 0))
            self.connection.close()
        except OSError:
            pass
        self.close_connection = True

    def _quiet(self, seconds):
        self.owner.stopping.wait(seconds)
        self.close_connection = True

    # -- requests -------------------------------------------------------------------------
    def do_CONNECT(self):
        rec = {"method": "CONNECT", "path": self.path, "query": "", "headers": dict(self.headers)}
        self.owner.next_fault(rec)
        self._answer(403, "Forbidden", b"no tunnels here\n", "text/plain")

    def do_GET(self):
        self._proxy()

    def do_HEAD(self):
        self._proxy()

    def do_PUT(self):
        self._proxy()

    def do_POST(self):
        self._proxy()

    def do_DELETE(self):
        self._proxy()

    def _proxy(self):
        n = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(n) if n else b""
        parts = urllib.parse.urlsplit(self.path)
        rec = {"method": self.command, "path": parts.path, "query": parts.query,
               "headers": {k.lower(): v for k, v in self.headers.items()}, "body_len": len(body)}
        fault = self.owner.next_fault(rec)
        rec["fault"] = fault
        if self.owner.before_forward:
            self.owner.before_forward(rec["index"], rec)
        kind = fault.kind if fault else None
        if kind == "status":
            self._answer(fault.code, http.client.responses.get(fault.code, "Error"),
                         error_xml(fault.s3code, fault.message, parts.path))
            return
        if kind == "drop":
            self._reset()
            return
        if kind == "stall" and fault.after is None:
            self._quiet(fault.seconds)
            return
        self._forward(rec, body, fault)

    def _forward(self, rec, body, fault):
        up = http.client.HTTPConnection(*self.owner.upstream, timeout=60)
        try:
            up.putrequest(self.command, self.path, skip_host=True, skip_accept_encoding=True)
            for k, v in self.headers.items():
                if k.lower() in HOP_BY_HOP:
                    continue
                if fault and fault.kind == "ignore_range" and k.lower() in ("range", "if-match"):
                    continue
                up.putheader(k, v)
            up.endheaders(body if body else None)
            resp = up.getresponse()
            etag = resp.getheader("ETag") or ""
            if_match = rec["headers"].get("if-match")
            if (if_match and 200 <= resp.status < 300 and fault_kind(fault) != "ignore_range"
                    and if_match.strip('"') != etag.strip('"')):
                resp.close()
                self._answer(412, "Precondition Failed",
                             error_xml("PreconditionFailed", "At least one of the pre-conditions "
                                       "you specified did not hold", rec["path"]))
                return
            self._send_head(resp.status, resp.reason, resp.getheaders())
            self._relay(resp, fault)
        finally:
            up.close()

    def _relay(self, resp, fault):
        limit = fault.after if fault and fault.kind in ("cut", "reset", "stall") else None
        sent = 0
        while True:
            want = 65536 if limit is None else min(65536, limit - sent)
            chunk = resp.read(want) if want > 0 else b""
            if chunk:
                self.wfile.write(chunk)
                sent += len(chunk)
            if not chunk or (limit is not None and sent >= limit):
                break
        if limit is None:
            self.close_connection = True
        elif fault.kind == "reset":
            self._reset()
        elif fault.kind == "stall":
            self._quiet(fault.seconds)
        else:  # cut: an orderly close short of Content-Length
            try:
                self.connection.shutdown(socket.SHUT_WR)
            except OSError:
                pass
            self.close_connection = True


def fault_kind(fault):
    return fault.kind if fault else None
