"""The SNS HTTP listener (issue 5), driven over HTTP on 127.0.0.1: `file-processing serve`
as a subprocess with a temp SQLite DB and a temp LOCAL_S3_ROOT, in test mode.

- real AWS-signed messages ($FP_CONFORMANCE_DIR/sns_real) with the test clock inside /
  after the certificate's validity; tampered fields; bad SigningCertURLs;
- messages signed here with our own key + self-signed cert (openssl CLI), mapped through
  FP_SNS_TEST_CERT_MAP: notification -> job -> run, duplicate, TestEvent, malformed,
  oversize, raw delivery, topic allow-list, SubscriptionConfirmation against a local HTTPS
  server trusted via FP_SNS_TEST_CA_FILE + FP_SNS_TEST_ALLOW_HOST, queue full, SIGTERM,
  kill -9 between the 200 and the job's completion.

Every server started here is stopped by PID in tearDown. Exits 77 when the openssl CLI is
missing."""
import base64
import calendar
import glob
import http.client
import http.server
import json
import os
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import threading
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from fp_itest import BIN, CONFORMANCE, FpTestCase, s3_event  # noqa: E402

OPENSSL = shutil.which("openssl")
SNS_REAL = os.path.join(CONFORMANCE, "sns_real")
TOPIC = "arn:aws:sns:us-east-1:123456789012:uploads"
CERT_NAME = "SimpleNotificationService-fptest0123456789.pem"
CERT_URL = "https://sns.us-east-1.amazonaws.com/" + CERT_NAME
BUCKET = "raw-bucket"
CSV = "id,name,amount\n1,alpha,1.5\n2,beta,2.5\n3,gamma,4\n"
TEST_EVENT = json.dumps({"Service": "Amazon S3", "Event": "s3:TestEvent",
                         "Time": "2024-01-01T00:00:00Z", "Bucket": BUCKET,
                         "RequestId": "X", "HostId": "Y"})


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def openssl(*args, cwd):
    subprocess.run([OPENSSL, *args], cwd=cwd, check=True, capture_output=True, timeout=60)


class Keys:
    """Our SNS signing key + cert, and a CA + server cert for a local HTTPS server."""

    def __init__(self, d):
        self.dir = d
        openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=sns.amazonaws.com",
                "-days", "30", "-keyout", "sns.key", "-out", "sns.pem", cwd=d)
        openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=fp test CA",
                "-days", "30", "-addext", "basicConstraints=critical,CA:TRUE",
                "-addext", "keyUsage=critical,keyCertSign,cRLSign",
                "-keyout", "ca.key", "-out", "ca.pem", cwd=d)
        openssl("req", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=127.0.0.1",
                "-keyout", "srv.key", "-out", "srv.csr", cwd=d)
        with open(os.path.join(d, "srv.ext"), "w") as f:
            f.write("subjectAltName=IP:127.0.0.1\nbasicConstraints=CA:FALSE\n"
                    "extendedKeyUsage=serverAuth\n")
        openssl("x509", "-req", "-in", "srv.csr", "-CA", "ca.pem", "-CAkey", "ca.key",
                "-CAcreateserial", "-days", "30", "-extfile", "srv.ext", "-out", "srv.pem", cwd=d)
        self.sns_key = os.path.join(d, "sns.key")
        self.sns_pem = os.path.join(d, "sns.pem")
        self.ca = os.path.join(d, "ca.pem")
        self.srv_pem = os.path.join(d, "srv.pem")
        self.srv_key = os.path.join(d, "srv.key")

    def sign(self, msg):
        """Fills SignatureVersion 2 / Signature / SigningCertURL (unless set) of msg."""
        msg.setdefault("SignatureVersion", "2")
        msg.setdefault("SigningCertURL", CERT_URL)
        msg["Signature"] = base64.b64encode(self.raw_sign(string_to_sign(msg))).decode()
        return msg

    def raw_sign(self, data):  # SignatureVersion 2 = RSA-SHA256
        return subprocess.run([OPENSSL, "dgst", "-sha256", "-sign", self.sns_key], input=data,
                              capture_output=True, check=True, timeout=60).stdout


def string_to_sign(m):
    if m["Type"] == "Notification":
        keys = ["Message", "MessageId", "Subject", "Timestamp", "TopicArn", "Type"]
    else:
        keys = ["Message", "MessageId", "SubscribeURL", "Timestamp", "Token", "TopicArn", "Type"]
    out = ""
    for k in keys:
        if k in m and m[k] is not None:
            out += f"{k}\n{m[k]}\n"
    return out.encode()


_seq = [0]


def notification(message, topic=TOPIC, **extra):
    _seq[0] += 1
    m = {"Type": "Notification", "MessageId": f"00000000-0000-4000-8000-{_seq[0]:012d}",
         "TopicArn": topic, "Subject": "Amazon S3 Notification", "Message": message,
         "Timestamp": "2024-05-01T12:00:00.000Z"}
    m.update(extra)
    return m


class ConfirmHandler(http.server.BaseHTTPRequestHandler):
    hits = []

    def do_GET(self):  # noqa: N802
        ConfirmHandler.hits.append(self.path)
        body = (b"<ConfirmSubscriptionResponse xmlns=\"http://sns.amazonaws.com/doc/2010-03-31/\">"
                b"<ConfirmSubscriptionResult><SubscriptionArn>" + TOPIC.encode() +
                b":11111111-2222-3333-4444-555555555555</SubscriptionArn>"
                b"</ConfirmSubscriptionResult></ConfirmSubscriptionResponse>")
        self.send_response(200)
        self.send_header("Content-Type", "text/xml")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *a):
        pass


class ListenerBase(FpTestCase):
    keys = None
    keydir = None

    @classmethod
    def setUpClass(cls):
        cls.keydir = tempfile.mkdtemp(prefix="fp-listener-keys-")
        cls.keys = Keys(cls.keydir)

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.keydir, ignore_errors=True)

    def setUp(self):
        super().setUp()
        self.servers = []

    def tearDown(self):
        for p in self.servers:
            if p.poll() is None:
                os.kill(p.pid, signal.SIGKILL)
                p.wait(timeout=30)
            p.logf.close()
        super().tearDown()

    # ---- server --------------------------------------------------------------------------

    def start(self, workers=2, wait=True, **env):
        port = free_port()
        e = self.env(FP_SNS_TEST_MODE="1", FP_SNS_TEST_DISABLE_FETCH="1",
                     FP_SNS_TEST_CERT_MAP=f"{CERT_NAME}={self.keys.sns_pem}",
                     FP_JOB_POLL_MS="100", FP_SHUTDOWN_GRACE_S="10", FP_SHUTDOWN_DRAIN_MS="1500",
                     FP_CONTRACTS_DIR=os.path.join(self.tmp, "contracts"))
        os.makedirs(e["FP_CONTRACTS_DIR"], exist_ok=True)
        e.update(env)
        logpath = os.path.join(self.tmp, f"serve-{len(self.servers)}.log")
        logf = open(logpath, "w+")
        p = subprocess.Popen([BIN, "serve", "--port", str(port), "--bind", "127.0.0.1",
                              "--workers", str(workers)], env=e, stdout=logf,
                             stderr=subprocess.STDOUT, cwd=self.tmp)
        p.logf, p.logpath, p.port = logf, logpath, port
        self.servers.append(p)
        if wait:
            end = time.monotonic() + 20
            while True:
                try:
                    if self.get(p, "/healthz")[0] == 200:
                        break
                except OSError:
                    pass
                if p.poll() is not None or time.monotonic() > end:
                    self.fail(f"serve did not come up (rc {p.poll()}):\n{self.log(p)}")
                time.sleep(0.05)
        return p

    def log(self, p):
        with open(p.logpath) as f:
            return f.read()

    def stop(self, p, sig=signal.SIGTERM, timeout=15):
        os.kill(p.pid, sig)
        return p.wait(timeout=timeout)

    # ---- HTTP ----------------------------------------------------------------------------

    def request(self, p, method, path, body=None, headers=None):
        c = http.client.HTTPConnection("127.0.0.1", p.port, timeout=30)
        try:
            c.request(method, path, body=body, headers=headers or {})
            r = c.getresponse()
            return r.status, r.read()
        finally:
            c.close()

    def get(self, p, path):
        return self.request(p, "GET", path)

    def post(self, p, msg, headers=None):
        body = msg if isinstance(msg, (bytes, str)) else json.dumps(msg)
        h = {"Content-Type": "text/plain; charset=UTF-8"}
        if isinstance(msg, dict) and "Type" in msg:
            h["x-amz-sns-message-type"] = msg["Type"]
        h.update(headers or {})
        return self.request(p, "POST", "/", body=body, headers=h)

    def metric(self, p, name):
        st, body = self.get(p, "/metrics")
        self.assertEqual(st, 200)
        for line in body.decode().splitlines():
            if line.startswith(name + " "):
                return float(line.split()[1])
        return None

    def wait_for(self, fn, timeout=30, what="condition"):
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            v = fn()
            if v:
                return v
            time.sleep(0.05)
        self.fail(f"timed out waiting for {what}")


@unittest.skipUnless(os.path.isdir(SNS_REAL), f"no real SNS fixtures at {SNS_REAL}")
class RealMessagesTest(ListenerBase):
    """Real AWS-signed messages: accepted with the clock inside the cert validity."""

    def fixtures(self):
        out = {}
        for path in sorted(glob.glob(os.path.join(SNS_REAL, "*.json"))):
            with open(path) as f:
                m = json.load(f)
            out.setdefault(os.path.basename(m["SigningCertURL"]), []).append((path, m))
        return out

    def real_env(self, clock):
        certs = ",".join(f"{os.path.basename(c)}={c}"
                         for c in glob.glob(os.path.join(SNS_REAL, "*.pem")))
        certs += f",{CERT_NAME}={self.keys.sns_pem}"
        return dict(FP_SNS_TEST_CERT_MAP=certs, FP_SNS_TEST_CLOCK=str(clock),
                    FP_SNS_AUTO_CONFIRM="0")

    @staticmethod
    def cert_times(pem):
        out = subprocess.run([OPENSSL, "x509", "-in", pem, "-noout", "-startdate", "-enddate"],
                             capture_output=True, text=True, check=True).stdout
        vals = dict(line.split("=", 1) for line in out.strip().splitlines())

        def conv(v):
            return calendar.timegm(time.strptime(v.replace(" GMT", ""), "%b %d %H:%M:%S %Y"))
        return conv(vals["notBefore"]), conv(vals["notAfter"])

    def check_accepted(self, path, m, st, body):
        name = os.path.basename(path)
        self.assertNotIn(st, (403, 503), f"{name}: {st} {body}")
        if m["Type"] != "Notification":
            self.assertEqual(st, 200, f"{name}: {body}")
        elif '"Records"' in m["Message"]:
            self.assertEqual(st, 200, f"{name}: {body}")
            self.assertEqual(json.loads(body)["created"], 1, name)
        else:  # verified, but the Message is no S3 event: a permanent 400
            self.assertEqual(st, 400, f"{name}: {body}")
            self.assertIn(b"not an S3 event", body)

    def test_real_messages_accepted_inside_validity_and_refused_after(self):
        groups = self.fixtures()
        self.assertGreaterEqual(sum(len(v) for v in groups.values()), 10)
        last_after = 0
        for cert, msgs in groups.items():
            pem = os.path.join(SNS_REAL, cert)
            self.assertTrue(os.path.exists(pem), cert)
            nb, na = self.cert_times(pem)
            last_after = max(last_after, na)
            p = self.start(workers=0, **self.real_env(nb + 86400))
            for path, m in msgs:
                st, body = self.post(p, m)
                self.check_accepted(path, m, st, body)
            self.assertEqual(self.metric(p, "fp_sns_signature_failures_total"), 0)
            # a one-byte change to a signed field, or a wrong SignatureVersion → 403
            path, m = msgs[0]
            bad = dict(m, Message=m["Message"][:-1] + chr(ord(m["Message"][-1]) ^ 1))
            self.assertEqual(self.post(p, bad)[0], 403, path)
            bad = dict(m, MessageId=m["MessageId"][:-1] + "x")
            self.assertEqual(self.post(p, bad)[0], 403, path)
            bad = dict(m, SignatureVersion="1" if m["SignatureVersion"] == "2" else "2")
            self.assertEqual(self.post(p, bad)[0], 403, path)
            bad = dict(m, SignatureVersion="3")
            self.assertEqual(self.post(p, bad)[0], 403, path)
            # a certificate that does not match (ours) → 403
            bad = dict(m, SigningCertURL=CERT_URL)
            self.assertEqual(self.post(p, bad)[0], 403, path)
            # SigningCertURL rules: http, other host, port, not .pem
            url = m["SigningCertURL"]
            for u in (url.replace("https://", "http://"),
                      url.replace("amazonaws.com", "amazonaws.com.evil.example"),
                      "https://sns.us-east-1.evil.example/" + cert,
                      url.replace(".amazonaws.com/", ".amazonaws.com:443/"),
                      url[:-4] + ".txt"):
                self.assertEqual(self.post(p, dict(m, SigningCertURL=u))[0], 403, u)
            self.assertGreaterEqual(self.metric(p, "fp_sns_signature_failures_total"), 9)
            self.assertEqual(self.stop(p), 0)
        # The S3 event notification made a job (its object is not here: it ends failed).
        self.assertEqual(self.db_rows("SELECT count(*) FROM fp_jobs")[0][0], 1)
        # after every certificate's notAfter: all refused
        p = self.start(workers=0, **self.real_env(last_after + 86400))
        for msgs in groups.values():
            for path, m in msgs:
                self.assertEqual(self.post(p, m)[0], 403, path)
        self.assertEqual(self.stop(p), 0)


class OwnKeyTest(ListenerBase):
    """Messages signed here drive the full flow."""

    def test_full_flow(self):
        self.put("in/data.csv", CSV, bucket=BUCKET)
        p = self.start(workers=2, FP_SNS_TOPIC_ARNS=f"arn:aws:sns:us-east-1:1:other, {TOPIC}")
        self.assertEqual(self.request(p, "HEAD", "/")[0], 200)
        self.assertEqual(self.get(p, "/healthz")[0], 200)
        self.assertEqual(self.get(p, "/readyz")[0], 200)
        self.assertEqual(self.get(p, "/nope")[0], 404)
        self.assertEqual(self.request(p, "DELETE", "/healthz")[0], 405)
        self.assertEqual(self.get(p, "/")[0], 405)

        ev = s3_event("in/data.csv", bucket=BUCKET, versionId="v1", size=len(CSV))
        msg = self.keys.sign(notification(ev))
        st, body = self.post(p, msg)
        self.assertEqual(st, 200, body)
        self.assertEqual(json.loads(body), {"jobs": 1, "created": 1})
        self.wait_for(lambda: self.db_rows("SELECT state FROM fp_jobs") == [("succeeded",)],
                      what="job succeeded")
        self.assertEqual(self.db_rows("SELECT bucket, key, rows FROM fp_runs"),
                         [(BUCKET, "in/data.csv", 3)])
        # redelivery (same MessageId) and a new message for the same object version
        self.assertEqual(json.loads(self.post(p, msg)[1]), {"jobs": 1, "created": 0})
        again = self.keys.sign(notification(ev))
        self.assertEqual(json.loads(self.post(p, again)[1]), {"jobs": 1, "created": 0})
        self.assertEqual(self.db_rows("SELECT count(*) FROM fp_jobs")[0][0], 1)
        # TestEvent: 200, no job
        st, body = self.post(p, self.keys.sign(notification(TEST_EVENT)))
        self.assertEqual(st, 200, body)
        self.assertEqual(json.loads(body)["jobs"], 0)
        self.assertEqual(self.db_rows("SELECT count(*) FROM fp_jobs")[0][0], 1)
        # malformed JSON, missing field, non-S3 Message, header/body Type mismatch → 400
        self.assertEqual(self.post(p, b'{"Type": "Notification", ')[0], 400)
        m = self.keys.sign(notification(ev))
        del m["TopicArn"]
        st, body = self.post(p, m)
        self.assertEqual(st, 400)
        self.assertIn("error", json.loads(body))
        self.assertEqual(self.post(p, self.keys.sign(notification("hello")))[0], 400)
        m = self.keys.sign(notification(ev))
        self.assertEqual(self.post(p, m, {"x-amz-sns-message-type": "SubscriptionConfirmation"})[0],
                         400)
        # tampered own message → 403 and counted
        before = self.metric(p, "fp_sns_signature_failures_total")
        m = self.keys.sign(notification(ev))
        m["Message"] = m["Message"].replace("in/data.csv", "in/dbta.csv")
        self.assertEqual(self.post(p, m)[0], 403)
        self.assertEqual(self.metric(p, "fp_sns_signature_failures_total"), before + 1)
        # topic not allowed → 403 (signature fine)
        other = self.keys.sign(notification(ev, topic="arn:aws:sns:us-east-1:123456789012:evil"))
        self.assertEqual(self.post(p, other)[0], 403)
        # raw delivery refused
        self.assertEqual(self.post(p, ev, {"x-amz-sns-rawdelivery": "true"})[0], 403)
        # oversize: Content-Length up front → 413 before the body is read
        with socket.create_connection(("127.0.0.1", p.port), timeout=10) as s:
            s.sendall(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 300000\r\n"
                      b"Content-Type: text/plain\r\n\r\n")
            self.assertTrue(s.recv(4096).startswith(b"HTTP/1.1 413"))
        # oversize while streaming (chunked, no Content-Length) → 413
        c = http.client.HTTPConnection("127.0.0.1", p.port, timeout=30)
        c.request("POST", "/", body=iter([b"x" * 65536] * 5), encode_chunked=True,
                  headers={"Transfer-Encoding": "chunked"})
        self.assertEqual(c.getresponse().status, 413)
        c.close()
        self.assertEqual(self.db_rows("SELECT count(*) FROM fp_jobs")[0][0], 1)
        # metrics
        st, body = self.get(p, "/metrics")
        text = body.decode()
        for name in ("fp_http_requests_total{type=\"Notification\",code=\"200\"}",
                     "fp_http_requests_total{type=\"Notification\",code=\"403\"}",
                     "fp_sns_signature_failures_total", "fp_jobs{state=\"succeeded\"} 1",
                     "fp_queue_depth 0", "fp_job_duration_seconds_bucket{le=\"+Inf\"} 1",
                     "fp_job_duration_seconds_count 1", "fp_rows_processed_total 3",
                     "fp_bytes_processed_total", "fp_workers 2"):
            self.assertIn(name, text)
        self.assertEqual(self.stop(p), 0)
        self.assertIn("stopped cleanly", self.log(p))

    def test_subscription_confirmation_via_local_https(self):
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(self.keys.srv_pem, self.keys.srv_key)
        httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), ConfirmHandler)
        httpd.socket = ctx.wrap_socket(httpd.socket, server_side=True)
        hport = httpd.server_address[1]
        t = threading.Thread(target=httpd.serve_forever, daemon=True)
        t.start()
        ConfirmHandler.hits = []
        try:
            p = self.start(workers=0, FP_SNS_TEST_CA_FILE=self.keys.ca,
                           FP_SNS_TEST_ALLOW_HOST=f"127.0.0.1:{hport}")
            url = (f"https://127.0.0.1:{hport}/?Action=ConfirmSubscription&TopicArn={TOPIC}"
                   "&Token=abc123")
            m = self.keys.sign({"Type": "SubscriptionConfirmation",
                                "MessageId": "11111111-0000-4000-8000-000000000001",
                                "Token": "abc123", "TopicArn": TOPIC,
                                "Message": "You have chosen to subscribe ...",
                                "SubscribeURL": url, "Timestamp": "2024-05-01T12:00:00.000Z"})
            st, body = self.post(p, m)
            self.assertEqual(st, 200, body + self.log(p).encode())
            self.assertEqual(len(ConfirmHandler.hits), 1)
            self.assertIn("Action=ConfirmSubscription", ConfirmHandler.hits[0])
            self.assertIn(":11111111-2222-3333-4444-555555555555", self.log(p))
            # a SubscribeURL with another Action is refused (signature is fine)
            bad = dict(m, SubscribeURL=url.replace("ConfirmSubscription", "Unsubscribe"))
            self.assertEqual(self.post(p, self.keys.sign(bad))[0], 403)
            # UnsubscribeConfirmation: logged, 200, nothing fetched
            un = dict(m, Type="UnsubscribeConfirmation", MessageId="u-1")
            del un["Signature"]
            self.assertEqual(self.post(p, self.keys.sign(un))[0], 200)
            self.assertEqual(len(ConfirmHandler.hits), 1)
            self.assertEqual(self.stop(p), 0)
        finally:
            httpd.shutdown()
            httpd.server_close()

    def test_queue_full_then_sigterm(self):
        p = self.start(workers=0, FP_QUEUE_MAX="1")
        ev1 = s3_event("a.csv", bucket=BUCKET, versionId="v1")
        ev2 = s3_event("b.csv", bucket=BUCKET, versionId="v1")
        self.assertEqual(self.post(p, self.keys.sign(notification(ev1)))[0], 200)
        self.assertEqual(self.post(p, self.keys.sign(notification(ev2)))[0], 503)
        self.assertEqual(self.get(p, "/readyz")[0], 503)
        self.assertEqual(self.db_rows("SELECT count(*) FROM fp_jobs")[0][0], 1)
        os.kill(p.pid, signal.SIGTERM)
        t0 = time.monotonic()
        saw503 = False
        while p.poll() is None and time.monotonic() - t0 < 15:
            try:
                saw503 = saw503 or self.get(p, "/readyz")[0] == 503
            except OSError:
                pass
            time.sleep(0.05)
        self.assertEqual(p.wait(timeout=15), 0, self.log(p))
        self.assertLess(time.monotonic() - t0, 10)
        self.assertTrue(saw503)
        self.assertIn("shutdown began", self.log(p))

    def test_sigterm_ready_503_then_exit_0(self):
        p = self.start(workers=2)
        self.assertEqual(self.get(p, "/readyz")[0], 200)
        os.kill(p.pid, signal.SIGTERM)
        self.wait_for(lambda: self.get(p, "/readyz")[0] == 503, timeout=5, what="readyz 503")
        self.assertEqual(self.post(p, self.keys.sign(notification(s3_event("x.csv"))))[0], 503)
        self.assertEqual(p.wait(timeout=15), 0, self.log(p))

    def test_kill9_after_200_job_completes_once(self):
        self.put("in/k.csv", CSV, bucket=BUCKET)
        p = self.start(workers=0)
        ev = s3_event("in/k.csv", bucket=BUCKET, versionId="v9")
        self.assertEqual(self.post(p, self.keys.sign(notification(ev)))[0], 200)
        self.stop(p, signal.SIGKILL)
        self.assertEqual(self.db_rows("SELECT state FROM fp_jobs"), [("queued",)])
        q = self.start(workers=2)
        self.wait_for(lambda: self.db_rows("SELECT state FROM fp_jobs") == [("succeeded",)],
                      what="job succeeded after restart")
        time.sleep(0.5)
        self.assertEqual(self.db_rows("SELECT count(*) FROM fp_runs")[0][0], 1)
        self.assertEqual(self.db_rows("SELECT attempts FROM fp_jobs")[0][0], 1)
        self.assertEqual(self.stop(q), 0)


    def test_sigterm_during_running_job_releases_it_and_restart_completes(self):
        gen = os.environ.get("FP_GEN", "")
        if not os.path.exists(gen):
            self.skipTest("generator not built: %s" % gen)
        path = os.path.join(self.root, BUCKET, "in", "big.csv")
        os.makedirs(os.path.dirname(path), exist_ok=True)
        # big enough that the job is still running when SIGTERM arrives
        subprocess.run([gen, "--bytes", "150M", "-o", path], check=True, timeout=300)
        p = self.start(workers=1, FP_SHUTDOWN_GRACE_S="0", FP_SHUTDOWN_DRAIN_MS="0")
        ev = s3_event("in/big.csv", bucket=BUCKET, versionId="v1")
        self.assertEqual(self.post(p, self.keys.sign(notification(ev)))[0], 200)
        self.wait_for(lambda: self.db_rows("SELECT state FROM fp_jobs") == [("running",)],
                      what="job running")
        self.assertEqual(self.stop(p), 0, self.log(p))
        # grace 0: the running job went back to the queue, its attempt not counted
        self.assertEqual(self.db_rows("SELECT state, attempts FROM fp_jobs"), [("queued", 0)])
        self.assertEqual(self.db_rows("SELECT count(*) FROM fp_runs")[0][0], 0)
        q = self.start(workers=1)
        self.wait_for(lambda: self.db_rows("SELECT state FROM fp_jobs") == [("succeeded",)],
                      timeout=600, what="job succeeded after restart")
        self.assertEqual(self.db_rows("SELECT count(*) FROM fp_runs")[0][0], 1)
        self.assertEqual(self.stop(q), 0)


class StartupTest(ListenerBase):
    def test_test_settings_refused_without_test_mode(self):
        for key in ("FP_SNS_TEST_CLOCK", "FP_SNS_TEST_CERT_MAP", "FP_SNS_TEST_CA_FILE",
                    "FP_SNS_TEST_ALLOW_HOST"):
            e = self.env(**{key: "1"})
            r = subprocess.run([BIN, "serve", "--port", str(free_port()), "--bind", "127.0.0.1"],
                               env=e, capture_output=True, timeout=30, cwd=self.tmp)
            self.assertEqual(r.returncode, 2, r.stderr)
            self.assertIn(key.encode(), r.stderr)
            self.assertIn(b"FP_SNS_TEST_MODE=1", r.stderr)

    def test_test_mode_is_logged_and_verify_off_warns(self):
        p = self.start(workers=0, FP_SNS_VERIFY="0")
        st, _ = self.post(p, notification(
            s3_event("z.csv"), Signature="bogus", SignatureVersion="1",
            SigningCertURL="http://localhost.localstack.cloud:4566/_aws/sns/x.pem"))
        self.assertEqual(st, 200)
        log = self.log(p)
        self.assertIn("test mode", log.lower())
        self.assertGreaterEqual(log.count("DISABLED"), 2)  # at start and per message
        self.assertEqual(self.stop(p), 0)

    def test_sns_binary_and_help(self):
        sns = os.path.join(os.path.dirname(BIN), "file-processing-sns")
        for argv in ([BIN, "serve", "--help"], [BIN, "worker", "--help"], [sns, "--help"]):
            if not os.path.exists(argv[0]):
                self.fail(f"{argv[0]} not built")
            r = subprocess.run(argv, capture_output=True, timeout=30)
            self.assertEqual(r.returncode, 0)
            self.assertIn(b"Examples:", r.stdout)
        r = subprocess.run([BIN, "worker", "--sqs-queue-url", "ftp://x"], capture_output=True,
                           timeout=30, env=self.env())
        self.assertEqual(r.returncode, 2)
        self.assertIn(b"not an http(s) URL", r.stderr)
        r = subprocess.run([BIN, "serve", "--port", "1", "--bind", "not-an-ip"], env=self.env(),
                           capture_output=True, timeout=30, cwd=self.tmp)
        self.assertEqual(r.returncode, 2, r.stderr)


if __name__ == "__main__":
    if not OPENSSL:
        print("SKIP: the openssl command line tool is missing", file=sys.stderr)
        sys.exit(77)
    if not os.path.isdir(SNS_REAL):
        print(f"SKIP (part): no real SNS fixtures at {SNS_REAL}", file=sys.stderr)
    unittest.main(verbosity=2)
