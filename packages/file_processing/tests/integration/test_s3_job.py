"""End to end: `run s3_data_quality_job` reading from S3, with s3rver (npm, pinned in
tests/node) on 127.0.0.1 as the S3 peer, directly and through s3_fault_proxy.

s3rver facts these tests rely on (3.7.1): buckets come from --configure-bucket; an unsigned
request is served (the tests upload that way); a signed one must carry x-amz-content-sha256
and a fresh x-amz-date and use the access key id S3RVER (any other id is a 403
InvalidAccessKeyId), but V4 signatures themselves are not checked; Range is honoured;
versionId and If-Match are ignored, so versionId is checked on the proxy's record of the
request and If-Match is emulated by the proxy.

Exits 77 (skipped, with the reason) when node/npm are missing or `npm ci` fails.
"""
import ctypes
import hashlib
import http.client
import json
import os
import select
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import unittest
import urllib.parse

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from fp_itest import BIN, PKG, FpTestCase, gz  # noqa: E402
from s3_fault_proxy import Fault, FaultProxy  # noqa: E402

NODE_DIR = os.path.join(os.path.abspath(PKG), "tests", "node")
S3RVER_JS = os.path.join(NODE_DIR, "node_modules", "s3rver", "bin", "s3rver.js")
GEN = os.environ.get("FP_GEN", os.path.join(os.path.dirname(BIN), "fp-gen-officers"))
TOOLS = os.environ.get("FP_TOOLS_DIR", os.path.join(os.path.dirname(BIN), "tools"))
BUCKET = "demo"
CLEAN = "id,name,amount\n1,Ann,10.5\n2,Bob,20\n3,\"Cy, Jr.\",30\n"
BROKEN = "id,name,amount\n1,Ann,10.5\n2,Bob\n3,Cy,30,extra\n\n"
MEDIUM_KEY = "from_client/medium/Officer_Detail.csv"
RSS_LIMIT_KB = 64 * 1024


def sanitized_binary():
    """An ASan build (make test-asan) has shadow memory and runs slower: RSS says nothing."""
    try:
        with open(BIN, "rb") as f:
            return b"__asan_init" in f.read()
    except OSError:
        return False


SANITIZED = sanitized_binary()
BIG_BYTES = os.environ.get("FP_S3_TEST_BIG", "16M" if SANITIZED else "200M")

SERVER = None  # the module's s3rver


def _die_with_parent():
    """preexec_fn: s3rver gets SIGKILL if this test process dies without cleaning up."""
    try:
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except OSError:
        pass


def ensure_s3rver():
    """Path to node, or (None, why) when s3rver cannot be had."""
    node, npm = shutil.which("node"), shutil.which("npm")
    if not node or not npm:
        return None, "node and npm are needed to run s3rver (apt-get install nodejs npm)"
    if not os.path.exists(S3RVER_JS):
        cmd = [npm, "ci", "--prefix", NODE_DIR, "--no-audit", "--no-fund"]
        try:
            r = subprocess.run(cmd, capture_output=True, timeout=600, stdin=subprocess.DEVNULL)
        except subprocess.TimeoutExpired:
            return None, "`%s` timed out" % " ".join(cmd)
        if r.returncode != 0 or not os.path.exists(S3RVER_JS):
            tail = (r.stderr or r.stdout).decode(errors="replace").strip().splitlines()[-5:]
            return None, "`%s` failed: %s" % (" ".join(cmd), " | ".join(tail))
    return node, None


class S3rver:
    """s3rver on 127.0.0.1, port chosen by the kernel (read from its start-up line)."""

    def __init__(self, node, buckets):
        self.dir = tempfile.mkdtemp(prefix="fp-s3rver-")
        args = [node, S3RVER_JS, "-d", self.dir, "-a", "127.0.0.1", "-p", "0", "--silent"]
        for b in buckets:
            args += ["--configure-bucket", b]
        self.proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                     stdin=subprocess.DEVNULL, preexec_fn=_die_with_parent)
        self.port = self._read_port(30)

    def _read_port(self, timeout):
        buf, deadline = b"", time.monotonic() + timeout
        while time.monotonic() < deadline:
            ready, _, _ = select.select([self.proc.stdout], [], [], 0.2)
            if ready:
                chunk = os.read(self.proc.stdout.fileno(), 4096)
                if not chunk:
                    break
                buf += chunk
                for line in buf.decode(errors="replace").splitlines():
                    if line.startswith("S3rver listening on"):
                        return int(line.rsplit(":", 1)[1])
            if self.proc.poll() is not None:
                break
        err = self.proc.stderr.read1(8192) if self.proc.poll() is not None else b""
        self.stop()
        raise RuntimeError("s3rver did not start: %r %r" % (buf, err))

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
        if self.proc:
            for f in (self.proc.stdout, self.proc.stderr):
                f.close()
        self.proc = None
        shutil.rmtree(self.dir, ignore_errors=True)

    def url(self):
        return "http://127.0.0.1:%d" % self.port

    # unsigned requests (s3rver serves them) for setting up and checking objects
    def request(self, method, bucket, key, body=None, headers=None, timeout=600):
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)
        try:
            path = "/%s/%s" % (bucket, urllib.parse.quote(key, safe="/~"))
            conn.request(method, path, body=body, headers=headers or {})
            resp = conn.getresponse()
            return resp.status, dict(resp.getheaders()), resp.read()
        finally:
            conn.close()

    def put(self, key, data, bucket=BUCKET):
        if isinstance(data, str):
            data = data.encode()
        st, hdr, body = self.request("PUT", bucket, key, data)
        assert st == 200, (st, body)
        return hdr.get("ETag", "").strip('"')

    def put_file(self, key, path, bucket=BUCKET):
        with open(path, "rb") as f:
            st, hdr, body = self.request("PUT", bucket, key, f,
                                         {"Content-Length": str(os.path.getsize(path))})
        assert st == 200, (st, body)
        return hdr.get("ETag", "").strip('"')


def s3_event_for(key, bucket=BUCKET, **obj):
    """An S3 notification as S3 sends it: the key form-encoded (space → '+')."""
    o = {"key": urllib.parse.quote_plus(key, safe="/")}
    o.update(obj)
    return json.dumps({"Records": [{"eventVersion": "2.1", "eventSource": "aws:s3",
                                    "eventName": "ObjectCreated:Put",
                                    "s3": {"bucket": {"name": bucket}, "object": o}}]})


def closed_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def botocore_signature(rec, secret, region):
    """The signature botocore computes for a request the proxy recorded (same headers, same
    time), or None without botocore (Debian python3-botocore)."""
    try:
        from botocore.auth import S3SigV4Auth
        from botocore.awsrequest import AWSRequest
        from botocore.credentials import Credentials
    except ImportError:
        return None
    h = rec["headers"]
    auth = h["authorization"]
    signed = auth.split("SignedHeaders=")[1].split(",")[0].split(";")
    akid = auth.split("Credential=")[1].split("/")[0]
    url = "http://%s%s%s" % (h["host"], rec["path"], "?" + rec["query"] if rec["query"] else "")
    req = AWSRequest(method=rec["method"], url=url, headers={n: h[n] for n in signed})
    req.context["timestamp"] = h["x-amz-date"]
    signer = S3SigV4Auth(Credentials(akid, secret, h.get("x-amz-security-token")), "s3", region)
    canonical = signer.canonical_request(req)
    return signer.signature(signer.string_to_sign(req, canonical), req)


def without_timings(report):
    r = dict(report)
    r.pop("timings", None)
    return r


class S3TestCase(FpTestCase):
    def setUp(self):
        super().setUp()
        self.proxy = None

    def tearDown(self):
        if self.proxy:
            self.proxy.stop()
        super().tearDown()

    def start_proxy(self):
        self.proxy = FaultProxy(SERVER.port).start()
        return self.proxy

    def env(self, endpoint=None, **extra):
        e = {k: v for k, v in os.environ.items()
             if not k.startswith(("FP_", "AWS_")) and k not in ("LOCAL_S3_ROOT", "DATABASE_URL")
             and k.lower() not in ("http_proxy", "https_proxy", "all_proxy", "no_proxy")}
        e.update({
            "AWS_ENDPOINT_URL_S3": endpoint or SERVER.url(),
            "AWS_ACCESS_KEY_ID": "S3RVER", "AWS_SECRET_ACCESS_KEY": "S3RVER",
            "AWS_REGION": "us-gov-west-1", "AWS_EC2_METADATA_DISABLED": "true",
            "HOME": self.tmp, "DATABASE_URL": "sqlite:///" + self.db,
            "FP_S3_RETRY_BASE_MS": "20", "NO_PROXY": "127.0.0.1,localhost",
        })
        e.update(extra)
        return {k: v for k, v in e.items() if v is not None}

    def s3_job(self, key, *extra, env=None, bucket=BUCKET, **obj):
        return self.run_fp("run", "s3_data_quality_job", "--event-json",
                           s3_event_for(key, bucket, **obj), "--report", "-", *extra,
                           env=env or self.env())

    def assert_botocore_agrees(self, rec, secret="S3RVER", region="us-gov-west-1"):
        want = botocore_signature(rec, secret, region)
        if want is None:
            print("  (botocore absent: signature cross-check skipped)", file=sys.stderr)
            return
        got = rec["headers"]["authorization"].split("Signature=")[1]
        self.assertEqual(got, want, "signature differs from botocore's for %r" % rec)

    def assert_exit(self, p, code, *needles):
        err = p.stderr.decode(errors="replace")
        self.assertEqual(p.returncode, code, err)
        for n in needles:
            self.assertIn(n, err)
        return err


class S3ReadTest(S3TestCase):
    def test_plain_object_report_and_recorded_run(self):
        etag = SERVER.put("in/clean.csv", CLEAN)
        p = self.s3_job("in/clean.csv")
        rep = self.report_of(p)
        self.assertEqual(p.returncode, 0, p.stderr.decode())
        src = rep["source"]
        self.assertEqual((src["bucket"], src["key"], src["backend"]), (BUCKET, "in/clean.csv", "s3"))
        self.assertEqual(src["etag"], etag)
        self.assertEqual(src["size"], len(CLEAN))
        self.assertEqual(src["location"], "s3://demo/in/clean.csv")
        self.assertEqual(rep["table"]["rows"], 3)
        runs = self.db_rows("SELECT bucket, key, etag, size, rows FROM fp_runs")
        self.assertEqual(runs, [(BUCKET, "in/clean.csv", etag, len(CLEAN), 3)])

    def test_report_uploaded_to_report_s3_uri(self):
        SERVER.put("in/clean.csv", CLEAN)
        p = self.s3_job("in/clean.csv", env=self.env(FP_REPORT_S3_URI="s3://%s/reports" % BUCKET))
        self.assertEqual(p.returncode, 0, p.stderr.decode())
        st, _, body = SERVER.request("GET", BUCKET, "reports/in/clean.csv.report.json")
        self.assertEqual(st, 200)
        self.assertEqual(json.loads(body)["source"]["key"], "in/clean.csv")
        self.assertIn("report uploaded to s3://%s/reports/in/clean.csv.report.json" % BUCKET,
                      p.stderr.decode())
        # the HTML page goes next to the JSON, served as HTML
        st, hdr, body = SERVER.request("GET", BUCKET, "reports/in/clean.csv.report.html")
        self.assertEqual(st, 200)
        ctype = {k.lower(): v for k, v in hdr.items()}.get("content-type", "")
        self.assertEqual(ctype.replace(" ", "").lower(), "text/html;charset=utf-8")
        self.assertTrue(body.startswith(b"<!DOCTYPE html>"), body[:80])
        self.assertIn(b'id="verdict"', body)
        self.assertIn(b"in/clean.csv", body)
        p = self.s3_job("in/clean.csv", env=self.env(FP_REPORT_S3_URI="https://not-s3/x"))
        self.assert_exit(p, 2, "not an S3 URI")

    def test_unicode_space_plus_and_reserved_keys(self):
        keys = ["from client/x+y é.csv", "odd/100% ~ (1) & [a]=b;c.csv", "日本/データ.csv",
                "x'y\"z*!@$,:.csv"]
        for key in keys:
            with self.subTest(key=key):
                SERVER.put(key, CLEAN)
                p = self.s3_job(key, "--dry-run")
                rep = self.report_of(p)
                self.assertEqual(rep["source"]["key"], key)
                self.assertEqual(rep["table"]["rows"], 3)

    def test_keys_are_encoded_on_the_wire_as_s3_wants(self):
        proxy = self.start_proxy()
        key = "from client/x+y é~(1).csv"
        SERVER.put(key, CLEAN)
        p = self.s3_job(key, "--dry-run", env=self.env(proxy.url()))
        self.assertEqual(p.returncode, 0, p.stderr.decode())
        self.assertEqual(proxy.requests[0]["path"],
                         "/demo/from%20client/x%2By%20%C3%A9~%281%29.csv")
        # dot segments and empty segments are part of an S3 key: sent as they are (s3rver
        # itself cannot store such a key, so only the wire is checked)
        p = self.s3_job("a//b/./c/../d.csv", "--dry-run", env=self.env(proxy.url()))
        self.assertEqual(p.returncode, 2, p.stderr.decode())
        self.assertEqual(proxy.requests[1]["path"], "/demo/a//b/./c/../d.csv")

    def test_gzip_object_same_results_as_plain(self):
        SERVER.put("in/b.csv", BROKEN)
        SERVER.put("in/b.csv.gz", gz(BROKEN))
        plain = self.report_of(self.s3_job("in/b.csv", "--dry-run"))
        zipped = self.report_of(self.s3_job("in/b.csv.gz", "--dry-run"))
        self.assertEqual(zipped["source"]["compression"], "gzip")
        self.assertEqual(plain["source"]["compression"], "none")
        self.assertEqual(zipped["table"], plain["table"])
        self.assertEqual(zipped["findings"], plain["findings"])
        self.assertEqual(zipped["verdict"], "failed")

    def test_sink_error_is_final_not_retried(self):
        SERVER.put("in/bad.csv.gz", b"this is not gzip data at all\n" * 100)
        proxy = self.start_proxy()
        p = self.s3_job("in/bad.csv.gz", env=self.env(proxy.url()))
        self.assert_exit(p, 2, "DECOMPRESS")
        self.assertEqual(len(proxy.requests), 1)

    def test_missing_object_exit_2_names_it(self):
        p = self.s3_job("nope/missing.csv")
        self.assert_exit(p, 2, "s3://demo/nope/missing.csv", "NoSuchKey")
        self.assertEqual(self.db_rows("SELECT count(*) FROM fp_runs") or [(0,)], [(0,)])

    def test_missing_bucket_exit_2(self):
        p = self.s3_job("a.csv", bucket="no-such-bucket")
        self.assert_exit(p, 2, "s3://no-such-bucket/a.csv", "NoSuchBucket")

    def test_unknown_access_key_id_exit_2_without_retry(self):
        SERVER.put("in/clean.csv", CLEAN)
        proxy = self.start_proxy()
        env = self.env(proxy.url(), AWS_ACCESS_KEY_ID="AKIDUNKNOWNKEY",
                       AWS_SECRET_ACCESS_KEY="top-secret-value", FP_LOG_LEVEL="debug")
        p = self.s3_job("in/clean.csv", env=env)
        err = self.assert_exit(p, 2, "s3://demo/in/clean.csv", "403", "InvalidAccessKeyId")
        self.assertEqual(len(proxy.requests), 1, "a 403 must not be retried")
        self.assertNotIn("top-secret-value", err)
        self.assertNotIn("Signature=", err)

    def test_injected_access_denied_exit_2(self):
        SERVER.put("in/clean.csv", CLEAN)
        proxy = self.start_proxy()
        proxy.set_plan([Fault.status(403, "AccessDenied", "Access Denied")])
        p = self.s3_job("in/clean.csv", env=self.env(proxy.url()))
        self.assert_exit(p, 2, "access to s3://demo/in/clean.csv refused", "AccessDenied: Access Denied")
        self.assertEqual(len(proxy.requests), 1)

    def test_signed_headers_and_session_token(self):
        key = "in/x+y é (1).csv"
        SERVER.put(key, CLEAN)
        proxy = self.start_proxy()
        env = self.env(proxy.url(), AWS_SESSION_TOKEN="session-token-value", FP_LOG_LEVEL="debug",
                       AWS_SECRET_ACCESS_KEY="wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY")
        p = self.s3_job(key, "--dry-run", env=env, versionId="v1+/=")
        self.assertEqual(p.returncode, 0, p.stderr.decode())
        self.assert_botocore_agrees(proxy.requests[0], "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY")
        h = proxy.requests[0]["headers"]
        self.assertEqual(h["x-amz-security-token"], "session-token-value")
        self.assertEqual(h["x-amz-content-sha256"], hashlib.sha256(b"").hexdigest())
        self.assertRegex(h["x-amz-date"], r"^\d{8}T\d{6}Z$")
        self.assertEqual(h["host"], "127.0.0.1:%d" % proxy.port)
        auth = h["authorization"]
        self.assertTrue(auth.startswith("AWS4-HMAC-SHA256 Credential=S3RVER/"), auth)
        self.assertIn("/us-gov-west-1/s3/aws4_request", auth)
        signed = auth.split("SignedHeaders=")[1].split(",")[0].split(";")
        for name in ("host", "x-amz-content-sha256", "x-amz-date", "x-amz-security-token"):
            self.assertIn(name, signed)
        self.assertNotIn("session-token-value", p.stderr.decode())

    def test_version_id_is_sent(self):
        # s3rver ignores versionId; the proxy's record shows what went on the wire
        SERVER.put("in/clean.csv", CLEAN)
        proxy = self.start_proxy()
        vid = "3/L4kqtJl+cDCf=Xy z"
        p = self.s3_job("in/clean.csv", "--dry-run", env=self.env(proxy.url()), versionId=vid)
        rep = self.report_of(p)
        self.assertEqual(proxy.requests[0]["query"], "versionId=3%2FL4kqtJl%2BcDCf%3DXy%20z")
        self.assertEqual(rep["source"]["version_id"], vid)
        self.assertEqual(rep["source"]["location"], "s3://demo/in/clean.csv?versionId=" + vid)


class S3FaultTest(S3TestCase):
    """The medium object through the proxy: faults must not change the report."""

    @classmethod
    def setUpClass(cls):
        cls.baseline = None

    def job_via(self, proxy, **extra):
        return self.s3_job(MEDIUM_KEY, "--dry-run", env=self.env(proxy.url(), **extra))

    def assert_same_report(self, p):
        self.assertIn(p.returncode, (0, 1), p.stderr.decode())
        if S3FaultTest.baseline is None:
            direct = self.s3_job(MEDIUM_KEY, "--dry-run")
            S3FaultTest.baseline = without_timings(self.report_of(direct))
        self.assertEqual(without_timings(json.loads(p.stdout)), S3FaultTest.baseline)

    def gets(self, proxy):
        return [r for r in proxy.requests if r["method"] == "GET"]

    def test_no_fault_baseline_through_proxy(self):
        proxy = self.start_proxy()
        self.assert_same_report(self.job_via(proxy))
        self.assertEqual(len(self.gets(proxy)), 1)
        self.assertNotIn("range", self.gets(proxy)[0]["headers"])

    def test_slowdown_and_500_are_retried(self):
        proxy = self.start_proxy()
        proxy.set_plan([Fault.status(503, "SlowDown", "Please reduce your request rate."),
                        Fault.status(500, "InternalError"), None])
        p = self.job_via(proxy)
        self.assert_same_report(p)
        err = p.stderr.decode()
        self.assertIn("SlowDown", err)
        self.assertIn("retrying in", err)
        self.assertEqual(len(self.gets(proxy)), 3)

    def test_clean_cut_mid_body_resumes_with_range_and_if_match(self):
        proxy = self.start_proxy()
        proxy.set_plan([Fault.cut(after=300000), Fault.cut(after=250000)])
        p = self.job_via(proxy)
        self.assert_same_report(p)
        g = self.gets(proxy)
        self.assertEqual(len(g), 3)
        etag = '"%s"' % SERVER.medium_etag
        self.assertEqual(g[1]["headers"].get("range"), "bytes=300000-")
        self.assertEqual(g[1]["headers"].get("if-match"), etag)
        self.assertEqual(g[2]["headers"].get("range"), "bytes=550000-")
        signed = g[1]["headers"]["authorization"].split("SignedHeaders=")[1].split(",")[0]
        self.assertEqual(signed, "host;if-match;range;x-amz-content-sha256;x-amz-date")
        self.assert_botocore_agrees(g[1])
        self.assertIn("resuming at byte 300000", p.stderr.decode())

    def test_connection_reset_mid_body_resumes(self):
        proxy = self.start_proxy()
        proxy.set_plan([Fault.reset(after=500000), Fault.reset(after=1), Fault.drop()])
        p = self.job_via(proxy)
        self.assert_same_report(p)
        g = self.gets(proxy)
        self.assertEqual(len(g), 4)
        ranges = [r["headers"].get("range") for r in g]
        self.assertIsNone(ranges[0])
        # bytes in flight when a RST arrives may be lost, so only the shape is certain
        for r in ranges[1:]:
            if r is not None:
                self.assertRegex(r, r"^bytes=\d+-$")

    def test_stall_mid_body_times_out_and_resumes(self):
        proxy = self.start_proxy()
        proxy.set_plan([Fault.stall(60, after=200000)])
        t0 = time.monotonic()
        p = self.job_via(proxy, FP_S3_STALL_SECONDS="2")
        elapsed = time.monotonic() - t0
        self.assert_same_report(p)
        self.assertLess(elapsed, 20)
        self.assertEqual(self.gets(proxy)[1]["headers"].get("range"), "bytes=200000-")

    def test_stall_before_headers_is_retried(self):
        proxy = self.start_proxy()
        proxy.set_plan([Fault.stall(60)])
        t0 = time.monotonic()
        p = self.job_via(proxy, FP_S3_STALL_SECONDS="2")
        self.assert_same_report(p)
        self.assertLess(time.monotonic() - t0, 20)
        self.assertIsNone(self.gets(proxy)[1]["headers"].get("range"))

    def test_server_ignoring_range_is_skipped_up_to_the_offset(self):
        proxy = self.start_proxy()
        proxy.set_plan([Fault.cut(after=400000), Fault.ignore_range()])
        self.assert_same_report(self.job_via(proxy))
        self.assertEqual(self.gets(proxy)[1]["headers"].get("range"), "bytes=400000-")

    def test_object_changed_before_resume_fails_transient(self):
        key = "in/changing.csv"
        SERVER.put(key, CLEAN * 20000)
        proxy = self.start_proxy()
        proxy.set_plan([Fault.cut(after=100000)])

        def overwrite(index, rec):
            if index == 1:
                SERVER.put(key, BROKEN * 20000)

        proxy.before_forward = overwrite
        p = self.s3_job(key, env=self.env(proxy.url()))
        self.assert_exit(p, 3, "s3://demo/in/changing.csv changed while it was being read",
                         "PreconditionFailed")
        self.assertEqual(len(self.gets(proxy)), 2, "412 must not be retried")
        self.assertEqual(self.db_rows("SELECT count(*) FROM fp_runs") or [(0,)], [(0,)])

    def test_persistent_slowdown_gives_up_exit_3_quickly(self):
        proxy = self.start_proxy()
        proxy.set_plan([], default=Fault.status(503, "SlowDown", "Please reduce your request rate."))
        t0 = time.monotonic()
        p = self.s3_job(MEDIUM_KEY, env=self.env(proxy.url(), FP_S3_MAX_ATTEMPTS="4"))
        self.assertLess(time.monotonic() - t0, 10)
        self.assert_exit(p, 3, "giving up on GET s3://demo/" + MEDIUM_KEY, "after 4 attempts",
                         "SlowDown")
        self.assertEqual(len(self.gets(proxy)), 4)
        self.assertEqual(self.db_rows("SELECT count(*) FROM fp_runs") or [(0,)], [(0,)])

    def test_persistent_stalls_give_up_exit_3(self):
        proxy = self.start_proxy()
        proxy.set_plan([], default=Fault.stall(60))
        t0 = time.monotonic()
        p = self.s3_job(MEDIUM_KEY, env=self.env(proxy.url(), FP_S3_MAX_ATTEMPTS="2",
                                                 FP_S3_STALL_SECONDS="1"))
        self.assertLess(time.monotonic() - t0, 15)
        self.assert_exit(p, 3, "giving up", "stalled")

    def test_endpoint_refusing_connections_exit_3(self):
        env = self.env("http://127.0.0.1:%d" % closed_port(), FP_S3_MAX_ATTEMPTS="3")
        t0 = time.monotonic()
        p = self.s3_job(MEDIUM_KEY, env=env)
        self.assertLess(time.monotonic() - t0, 10)
        self.assert_exit(p, 3, "giving up", "after 3 attempts")


class S3AddressingTest(S3TestCase):
    """AWS endpoints without leaving the machine: the client is pointed at the proxy as its
    HTTPS proxy, and the CONNECT line shows which host it would have reached."""

    def connect_target(self, bucket, region):
        proxy = self.start_proxy()
        env = self.env(None, AWS_ENDPOINT_URL_S3=None, AWS_REGION=region,
                       FP_S3_MAX_ATTEMPTS="1", NO_PROXY=None,
                       https_proxy=proxy.url(), HTTPS_PROXY=proxy.url())
        env.pop("AWS_ENDPOINT_URL_S3", None)
        p = self.s3_job("in/a.csv", "--dry-run", env=env, bucket=bucket)
        self.assertEqual(p.returncode, 3, p.stderr.decode())
        connects = [r["path"] for r in proxy.requests if r["method"] == "CONNECT"]
        self.assertEqual(len(connects), 1, p.stderr.decode())
        return connects[0]

    def test_virtual_hosted_style_on_aws(self):
        self.assertEqual(self.connect_target("my-bucket", "us-gov-west-1"),
                         "my-bucket.s3.us-gov-west-1.amazonaws.com:443")

    def test_dotted_bucket_is_path_style(self):
        self.assertEqual(self.connect_target("my.bucket", "us-gov-west-1"),
                         "s3.us-gov-west-1.amazonaws.com:443")

    def test_china_partition_host(self):
        self.assertEqual(self.connect_target("my-bucket", "cn-north-1"),
                         "my-bucket.s3.cn-north-1.amazonaws.com.cn:443")


class S3PutTest(S3TestCase):
    def tool(self):
        path = os.path.join(TOOLS, "tool_s3put")
        if not os.path.exists(path):
            self.skipTest("tool_s3put not built (%s)" % path)
        return path

    def put_via_tool(self, key, data, env, ctype="application/json"):
        src = os.path.join(self.tmp, "upload.bin")
        with open(src, "wb") as f:
            f.write(data)
        return subprocess.run([self.tool(), BUCKET, key, src, ctype], env=env,
                              capture_output=True, timeout=120)

    def test_put_roundtrip(self):
        body = json.dumps({"report": "é", "n": list(range(1000))}).encode()
        key = "reports/from client/x+y é.json"
        p = self.put_via_tool(key, body, self.env())
        self.assertEqual(p.returncode, 0, p.stderr.decode())
        st, hdr, got = SERVER.request("GET", BUCKET, key)
        self.assertEqual((st, got), (200, body))
        self.assertEqual(hdr.get("Content-Type"), "application/json")
        self.assertEqual(hdr.get("ETag").strip('"'), hashlib.md5(body).hexdigest())

    def test_put_signs_payload_hash_and_retries(self):
        proxy = self.start_proxy()
        proxy.set_plan([Fault.status(503, "SlowDown"), Fault.drop(), None])
        body = b"id,n\n1,2\n"
        p = self.put_via_tool("reports/r.csv", body, self.env(proxy.url()), "text/csv")
        self.assertEqual(p.returncode, 0, p.stderr.decode())
        puts = [r for r in proxy.requests if r["method"] == "PUT"]
        self.assertEqual(len(puts), 3)
        h = puts[-1]["headers"]
        self.assertEqual(h["x-amz-content-sha256"], hashlib.sha256(body).hexdigest())
        self.assertEqual(h["content-type"], "text/csv")
        self.assertIn("content-type", h["authorization"].split("SignedHeaders=")[1].split(",")[0])
        self.assert_botocore_agrees(puts[-1])
        self.assertEqual(SERVER.request("GET", BUCKET, "reports/r.csv")[2], body)

    def test_put_errors(self):
        p = self.put_via_tool("r.json", b"{}", self.env(AWS_ACCESS_KEY_ID="AKIDUNKNOWNKEY"))
        self.assert_exit(p, 2, "InvalidAccessKeyId", "s3://demo/r.json")
        p = self.put_via_tool("r.json", b"{}", self.env())
        self.assertEqual(p.returncode, 0, p.stderr.decode())
        src = os.path.join(self.tmp, "upload.bin")
        p = subprocess.run([self.tool(), "no-such-bucket", "r.json", src], env=self.env(),
                           capture_output=True, timeout=60)
        self.assert_exit(p, 2, "NoSuchBucket")


class S3LargeObjectTest(S3TestCase):
    def test_large_object_streams_with_bounded_memory(self):
        if not os.path.exists(GEN):
            self.skipTest("generator not built: %s" % GEN)
        path = os.path.join(self.tmp, "big.csv")
        subprocess.run([GEN, "--bytes", BIG_BYTES, "-o", path], check=True, timeout=300)
        size = os.path.getsize(path)
        etag = SERVER.put_file("big/Officer_Detail.csv", path)
        os.unlink(path)
        env = self.env()
        args = [BIN, "run", "s3_data_quality_job", "--event-json",
                s3_event_for("big/Officer_Detail.csv"), "--report", "-", "--dry-run"]
        out_path, err_path = os.path.join(self.tmp, "out.json"), os.path.join(self.tmp, "err.txt")
        t0 = time.monotonic()
        with open(out_path, "wb") as out_f, open(err_path, "wb") as err_f:
            proc = subprocess.Popen(args, env=env, cwd=self.tmp, stdout=out_f, stderr=err_f,
                                    stdin=subprocess.DEVNULL)
            maxrss_kb = self.wait_maxrss(proc, 600)
        elapsed = time.monotonic() - t0
        with open(out_path, "rb") as f:
            out = f.read()
        with open(err_path, "rb") as f:
            err = f.read()
        self.assertIn(proc.returncode, (0, 1), err.decode())
        rep = json.loads(out)
        self.assertEqual(rep["source"]["size"], size)
        self.assertEqual(rep["source"]["etag"], etag)
        self.assertEqual(rep["table"]["bytes"], size)
        self.assertGreater(rep["table"]["rows"], size // 400)
        print("\n  %s object: %.1f MB in %.2f s end to end (%.1f MB/s; job's own %s MB/s), "
              "peak RSS %.1f MiB" % (BIG_BYTES, size / 1e6, elapsed, size / 1e6 / elapsed,
                                     rep["timings"]["mb_per_s"] and round(rep["timings"]["mb_per_s"], 1),
                                     maxrss_kb / 1024), file=sys.stderr)
        if not SANITIZED:
            self.assertLess(maxrss_kb, RSS_LIMIT_KB, "peak RSS %d KiB" % maxrss_kb)

    @staticmethod
    def wait_maxrss(proc, timeout):
        """Reaps proc with wait4 and returns its own peak RSS in KiB (ru_maxrss)."""
        deadline = time.monotonic() + timeout
        while True:
            pid, status, ru = os.wait4(proc.pid, os.WNOHANG)
            if pid == proc.pid:
                proc.returncode = os.waitstatus_to_exitcode(status)
                return ru.ru_maxrss
            if time.monotonic() > deadline:
                proc.kill()
                proc.wait()
                raise AssertionError("job did not finish in %d s" % timeout)
            time.sleep(0.05)


def setUpModule():
    global SERVER
    node, why = ensure_s3rver()
    if not node:
        raise unittest.SkipTest(why)
    SERVER = S3rver(node, [BUCKET])
    try:
        with tempfile.NamedTemporaryFile(prefix="fp-medium-", suffix=".csv") as medium:
            subprocess.run([GEN, "--bytes", "3M", "-o", medium.name], check=True, timeout=120)
            SERVER.medium_etag = SERVER.put_file(MEDIUM_KEY, medium.name)
    except BaseException:
        SERVER.stop()
        raise


def tearDownModule():
    if SERVER:
        SERVER.stop()


if __name__ == "__main__":
    if not os.path.exists(BIN):
        sys.exit(f"binary not found: {BIN}")
    node, why = ensure_s3rver()
    if not node:
        print("SKIP: s3rver unavailable: %s" % why, file=sys.stderr)
        sys.exit(77)
    unittest.main(verbosity=2)
