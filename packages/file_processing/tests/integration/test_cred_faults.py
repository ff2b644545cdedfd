"""Faults at the AWS credential endpoints: the container / EKS Pod Identity endpoint, IMDSv2
and STS AssumeRoleWithWebIdentity answer 5xx, answer too slowly, cut the response short, or
answer garbage. Each must end in a clean transient failure (exit 3, TRANSIENT or IO) whose
message names the endpoint, after the retries the code makes: container 2 attempts, STS 3,
IMDS 1 (it is the last link of the chain and must stay quick). One case goes through the
real job (`file-processing run` reading from S3) to check the CLI's exit status.

A raw socket server on 127.0.0.1 (not http.server: it has to be able to lie about
Content-Length and to send bytes that are not HTTP) plays each endpoint; the tool is
build/tools/tool_awscreds like test_aws_creds.py."""
import json
import os
import socket
import subprocess
import sys
import threading
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from fp_itest import BIN, FpTestCase, s3_event  # noqa: E402
from test_aws_creds import JWT, SECRETS, TOOL, TOOLS, sts_ok_xml  # noqa: E402

GOOD_CONTAINER = json.dumps({"AccessKeyId": "ASIAFAULTEXAMPLE", "SecretAccessKey": "s/k",
                             "Token": "tok", "Expiration": "2099-01-01T00:00:00Z"}).encode()


class FaultServer:
    """Speaks just enough HTTP/1.1. Requests whose path starts with a prefix in `faults` get
    that fault; everything else goes to ok(method, path, body) -> (status, body)."""

    def __init__(self, faults, ok=None, slow_s=4.0):
        self.faults, self.ok, self.slow_s = faults, ok, slow_s
        self.requests = []
        self.lock = threading.Lock()
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.url = f"http://127.0.0.1:{self.sock.getsockname()[1]}"
        self.stopping = False
        self.thread = threading.Thread(target=self.loop, daemon=True)
        self.thread.start()

    def loop(self):
        while not self.stopping:
            try:
                c, _ = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self.serve, args=(c,), daemon=True).start()

    def serve(self, c):
        with c:
            c.settimeout(10)
            try:
                data = b""
                while b"\r\n\r\n" not in data:
                    chunk = c.recv(65536)
                    if not chunk:
                        return
                    data += chunk
                head, _, body = data.partition(b"\r\n\r\n")
                lines = head.decode("latin-1").split("\r\n")
                method, path, _ = lines[0].split(" ", 2)
                n = 0
                for line in lines[1:]:
                    k, _, v = line.partition(":")
                    if k.strip().lower() == "content-length":
                        n = int(v)
                while len(body) < n:
                    body += c.recv(65536)
                with self.lock:
                    self.requests.append((method, path))
                fault = next((f for p, f in self.faults.items() if path.startswith(p)), None)
                if fault is None:
                    status, out = self.ok(method, path, body)
                    self.answer(c, status, out)
                elif fault == "5xx":
                    self.answer(c, 503, b"Service Unavailable")
                elif fault == "slow":
                    time.sleep(self.slow_s)
                    self.answer(c, 200, b"{}")
                elif fault == "truncated":
                    c.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                              b"Content-Length: 400\r\nConnection: close\r\n\r\n"
                              b'{"AccessKeyId": "ASIA')
                elif fault == "garbage":
                    self.answer(c, 200, b"\x00\xffthis is <not> {json or xml\x1b[0m")
                elif fault == "not-http":
                    c.sendall(b"\x16\x03\x01 garbage instead of a status line\r\n\r\n")
            except (OSError, ValueError):
                pass

    @staticmethod
    def answer(c, status, body):
        c.sendall(f"HTTP/1.1 {status} X\r\nContent-Length: {len(body)}\r\n"
                  f"Connection: close\r\n\r\n".encode() + body)

    def count(self, prefix):
        with self.lock:
            return sum(1 for _, p in self.requests if p.startswith(prefix))

    def stop(self):
        self.stopping = True
        self.sock.close()


FAULTS = ("5xx", "slow", "truncated", "garbage", "not-http")


class CredFaultTest(FpTestCase):
    def setUp(self):
        super().setUp()
        if not os.access(TOOL, os.X_OK):
            self.fail(f"{TOOL} is not built (FP_TOOLS_DIR={TOOLS})")
        self.servers = []

    def tearDown(self):
        for s in self.servers:
            s.stop()
        super().tearDown()

    def server(self, faults, ok=None, slow_s=4.0):
        s = FaultServer(faults, ok, slow_s)
        self.servers.append(s)
        return s

    def creds(self, **extra):
        e = {k: v for k, v in os.environ.items()
             if not k.startswith(("AWS_", "FP_")) and "proxy" not in k.lower()}
        e.update(HOME=self.tmp, AWS_EC2_METADATA_DISABLED="true")
        e.update(extra)
        t0 = time.monotonic()
        p = subprocess.run([TOOL, "creds"], env=e, capture_output=True, timeout=120)
        took = time.monotonic() - t0
        out, err = p.stdout.decode(), p.stderr.decode()
        for s in SECRETS:
            self.assertNotIn(s, out + err)
        return p.returncode, json.loads(out.splitlines()[0]), took

    def assert_transient(self, rc, out, url, fault):
        self.assertEqual(rc, 3, f"{fault}: {out}")
        self.assertIn(out["error"], ("TRANSIENT", "IO"), f"{fault}: {out}")
        self.assertIn(url, out["message"], f"{fault}: {out}")

    def test_container_endpoint_faults(self):
        for fault in FAULTS:
            with self.subTest(fault=fault):
                s = self.server({"/creds": fault}, slow_s=3.0)
                rc, out, took = self.creds(AWS_CONTAINER_CREDENTIALS_FULL_URI=s.url + "/creds")
                self.assert_transient(rc, out, s.url, fault)
                # the container provider tries twice on a transient failure; an answer
                # that arrived but is not credentials (garbage, not HTTP) is not retried
                want = 1 if fault in ("garbage", "not-http") else 2
                self.assertEqual(s.count("/creds"), want, f"{fault}: {s.requests}")
                self.assertLess(took, 10)

    def imds_ok(self, method, path, body):
        if method == "PUT" and path == "/latest/api/token":
            return 200, b"imds-session-token-value"
        if path == "/latest/meta-data/iam/security-credentials/":
            return 200, b"etl-role\n"
        return 404, b""

    def test_imds_credential_document_faults(self):
        for fault in FAULTS:
            with self.subTest(fault=fault):
                s = self.server({"/latest/meta-data/iam/security-credentials/etl-role": fault},
                                ok=self.imds_ok, slow_s=3.0)
                rc, out, took = self.creds(AWS_EC2_METADATA_DISABLED="false",
                                           AWS_EC2_METADATA_SERVICE_ENDPOINT=s.url)
                self.assert_transient(rc, out, s.url, fault)
                self.assertIn("IMDS", out["message"])
                self.assertEqual(s.count("/latest/meta-data/iam/security-credentials/etl-role"),
                                 1)
                self.assertLess(took, 6)

    def test_imds_token_and_role_5xx(self):
        for prefix in ("/latest/api/token", "/latest/meta-data/iam/security-credentials/"):
            with self.subTest(step=prefix):
                s = self.server({prefix: "5xx"}, ok=self.imds_ok)
                rc, out, _ = self.creds(AWS_EC2_METADATA_DISABLED="false",
                                        AWS_EC2_METADATA_SERVICE_ENDPOINT=s.url)
                self.assert_transient(rc, out, s.url, prefix)
                self.assertIn("503", out["message"])

    def web_identity(self, url):
        tf = os.path.join(self.tmp, "token.jwt")
        with open(tf, "w") as f:
            f.write(JWT)
        return dict(AWS_ROLE_ARN="arn:aws:iam::123456789012:role/etl",
                    AWS_WEB_IDENTITY_TOKEN_FILE=tf, AWS_ENDPOINT_URL_STS=url)

    def test_sts_web_identity_faults(self):
        # STS waits 10 s per attempt: "slow" costs 3 x 10 s, so it runs once, last.
        for fault in ("5xx", "truncated", "garbage", "not-http", "slow"):
            with self.subTest(fault=fault):
                s = self.server({"/": fault}, slow_s=11.0)
                rc, out, took = self.creds(**self.web_identity(s.url))
                self.assert_transient(rc, out, s.url, fault)
                self.assertIn("AssumeRoleWithWebIdentity", out["message"])
                # an answer that is not credentials (garbage, not HTTP) is not retried
                want = 1 if fault in ("garbage", "not-http") else 3
                self.assertEqual(s.count("/"), want, f"{fault}: {s.requests}")

    def test_sts_recovers_after_one_5xx(self):
        state = {"n": 0}

        def ok(method, path, body):
            state["n"] += 1
            if state["n"] == 1:
                return 503, b"<Error><Code>ServiceUnavailable</Code></Error>"
            return 200, sts_ok_xml("AssumeRoleWithWebIdentity")[0]
        s = self.server({}, ok=ok)
        rc, out, _ = self.creds(**self.web_identity(s.url))
        self.assertEqual(rc, 0, out)
        self.assertEqual(out["source"], "web-identity")
        self.assertEqual(s.count("/"), 2)

    def test_job_exits_3_when_the_container_endpoint_fails(self):
        s = self.server({"/creds": "5xx"})
        env = {k: v for k, v in self.env().items() if k != "LOCAL_S3_ROOT"}
        env.update(HOME=self.tmp, AWS_EC2_METADATA_DISABLED="true", AWS_REGION="us-east-1",
                   AWS_CONTAINER_CREDENTIALS_FULL_URI=s.url + "/creds",
                   AWS_ENDPOINT_URL_S3="http://127.0.0.1:9", FP_S3_MAX_ATTEMPTS="1")
        r = subprocess.run([BIN, "run", "s3_data_quality_job", "--event-json",
                            s3_event("in/x.csv", bucket="b"), "--report", "-"], env=env,
                           capture_output=True, timeout=120, cwd=self.tmp)
        err = r.stderr.decode()
        self.assertEqual(r.returncode, 3, err)
        self.assertIn(s.url, err)
        self.assertIn("container credentials", err)
        self.assertEqual(self.db_rows("SELECT count(*) FROM fp_runs") or [(0,)], [(0,)])

    def test_s3_endpoint_answering_not_http_is_transient(self):
        """Same adapter question for S3: an answer that is not HTTP is retried, then exit 3."""
        s = self.server({"/": "not-http"})
        env = {k: v for k, v in self.env().items() if k != "LOCAL_S3_ROOT"}
        env.update(HOME=self.tmp, AWS_EC2_METADATA_DISABLED="true", AWS_REGION="us-east-1",
                   AWS_ACCESS_KEY_ID="AKIAFAULTEXAMPLE", AWS_SECRET_ACCESS_KEY="s/k",
                   AWS_ENDPOINT_URL_S3=s.url, FP_S3_MAX_ATTEMPTS="3", FP_S3_RETRY_BASE_MS="10")
        r = subprocess.run([BIN, "run", "s3_data_quality_job", "--event-json",
                            s3_event("in/x.csv", bucket="b"), "--report", "-"], env=env,
                           capture_output=True, timeout=120, cwd=self.tmp)
        err = r.stderr.decode()
        self.assertEqual(r.returncode, 3, err)
        self.assertIn("s3://b/in/x.csv", err)
        self.assertEqual(s.count("/"), 3, s.requests)


if __name__ == "__main__":
    unittest.main(verbosity=2)
