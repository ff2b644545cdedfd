"""Secrets never reach logs, reports or the results DB (DESIGN.md: "Secrets never appear in
logs").

Every flow runs at FP_LOG_LEVEL=debug with secret values that are unique random strings:
the AWS secret key and session token (job against s3rver, the listener's worker, the SQS
consumer against local-aws-sqs), a web identity token (STS unreachable), a password in
userinfo and in the query string of DATABASE_URL and of endpoint URLs, and, in the
PostgreSQL variant, the real database URL with a password added. The error paths are
driven on purpose (closed ports, a database that does not exist, a missing object), since
that is where URLs get printed. Then everything the processes wrote is searched for each
secret: stdout, stderr, log files, report files and the results database (the SQLite file
bytes, or a pg_dump of the PostgreSQL database), jobs' last_error included.

Exits 77 when node/npm (s3rver, local-aws-sqs) or openssl are missing."""
import json
import os
import secrets
import shutil
import signal
import subprocess
import sys
import time
import urllib.parse
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from fp_itest import BIN, PG_URL, FpTestCase  # noqa: E402
import test_s3_job  # noqa: E402
import test_sqs_worker  # noqa: E402
from test_listener import CERT_NAME, TOPIC, Keys, free_port, notification  # noqa: E402

S3_BUCKET = "secret-bucket"
CSV = "id,name\n1,alpha\n2,beta\n"


def secret(tag):
    return f"fp{tag}{secrets.token_hex(12)}"


def closed_port():
    return free_port()


S3 = None
SQS = None


def setUpModule():
    global S3, SQS
    node, why = test_s3_job.ensure_s3rver()
    if not node:
        print("SKIP: " + why, file=sys.stderr)
        sys.exit(77)
    node2, why = test_sqs_worker.ensure_local_sqs()
    if not node2:
        print("SKIP: " + why, file=sys.stderr)
        sys.exit(77)
    S3 = test_s3_job.S3rver(node, [S3_BUCKET])
    try:
        SQS = test_sqs_worker.LocalSqs(node2)
    except BaseException:
        S3.stop()
        raise


def tearDownModule():
    if SQS:
        SQS.stop()
    if S3:
        S3.stop()


def with_password(url, password):
    """postgresql://user@host/db -> postgresql://user:password@host/db"""
    p = urllib.parse.urlsplit(url)
    user = p.username or "postgres"
    netloc = f"{user}:{password}@{p.hostname}:{p.port}"
    return urllib.parse.urlunsplit((p.scheme, netloc, p.path, p.query, p.fragment))


class NoSecretsInLogs(FpTestCase):
    @classmethod
    def setUpClass(cls):
        cls.keydir = __import__("tempfile").mkdtemp(prefix="fp-secret-keys-")
        cls.keys = Keys(cls.keydir)

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.keydir, ignore_errors=True)

    def setUp(self):
        super().setUp()
        self.secrets = {name: secret(name) for name in
                        ("awssecret", "sessiontoken", "dbpass", "dbquery", "endpointpass",
                         "endpointquery", "webtoken", "sqssecret")}
        self.outputs = []  # (what, bytes) everything the processes wrote
        self.procs = []
        if PG_URL:
            self.db_url = with_password(PG_URL, self.secrets["dbpass"])
        S3.put("in/data.csv", CSV, bucket=S3_BUCKET)

    def tearDown(self):
        for p in self.procs:
            if p.poll() is None:
                os.kill(p.pid, signal.SIGKILL)
                p.wait(timeout=30)
        super().tearDown()

    def aws_env(self, **extra):
        e = self.env(
            FP_LOG_LEVEL="debug", AWS_ENDPOINT_URL_S3=S3.url(), AWS_ACCESS_KEY_ID="S3RVER",
            AWS_SECRET_ACCESS_KEY=self.secrets["awssecret"],
            AWS_SESSION_TOKEN=self.secrets["sessiontoken"], AWS_REGION="us-east-1",
            AWS_EC2_METADATA_DISABLED="true", HOME=self.tmp, FP_S3_RETRY_BASE_MS="10",
            FP_S3_MAX_ATTEMPTS="2", NO_PROXY="127.0.0.1,localhost",
            FP_CONTRACTS_DIR=os.path.join(self.tmp, "contracts"))
        os.makedirs(e["FP_CONTRACTS_DIR"], exist_ok=True)
        for k in ("http_proxy", "https_proxy", "all_proxy", "HTTP_PROXY", "HTTPS_PROXY"):
            e.pop(k, None)
        e.pop("LOCAL_S3_ROOT", None)
        e.update(extra)
        return e

    def cli(self, what, args, env, expect=None):
        r = subprocess.run([BIN, *args], env=env, capture_output=True, timeout=120, cwd=self.tmp)
        self.outputs.append((what + " stdout", r.stdout))
        self.outputs.append((what + " stderr", r.stderr))
        if expect is not None:
            self.assertIn(r.returncode, expect if isinstance(expect, tuple) else (expect,),
                          f"{what}: {r.stderr.decode(errors='replace')[-2000:]}")
        return r

    def event(self, key):
        return json.dumps({"Records": [{"eventVersion": "2.1", "eventSource": "aws:s3",
                                        "eventName": "ObjectCreated:Put",
                                        "s3": {"bucket": {"name": S3_BUCKET},
                                               "object": {"key": key}}}]})

    def wait_for(self, fn, timeout=60, what="condition"):
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            v = fn()
            if v:
                return v
            time.sleep(0.1)
        self.fail(f"timed out waiting for {what}")

    def start(self, what, args, env):
        log = os.path.join(self.tmp, what.replace(" ", "_") + ".log")
        with open(log, "wb") as f:
            p = subprocess.Popen([BIN, *args], env=env, stdout=f, stderr=subprocess.STDOUT,
                                 cwd=self.tmp, stdin=subprocess.DEVNULL)
        p.log = log
        self.procs.append(p)
        return p

    def stop(self, p):
        if p.poll() is None:
            p.send_signal(signal.SIGTERM)
            p.wait(timeout=30)

    # ---- the flows ------------------------------------------------------------------------

    def flow_job(self):
        report = os.path.join(self.tmp, "report-ok.json")
        self.cli("job", ["run", "s3_data_quality_job", "--event-json", self.event("in/data.csv"),
                         "--report", report], self.aws_env(), expect=0)
        # a missing object (404 path), and an endpoint that is not there (URL printed)
        self.cli("job 404", ["run", "s3_data_quality_job", "--event-json",
                             self.event("in/missing.csv"), "--report",
                             os.path.join(self.tmp, "report-404.json")], self.aws_env(),
                 expect=2)
        port = closed_port()
        for name, url in (
                ("userinfo", f"http://S3RVER:{self.secrets['endpointpass']}@127.0.0.1:{port}"),
                ("query", f"http://127.0.0.1:{port}/?X-Amz-Security-Token="
                          f"{self.secrets['endpointquery']}")):
            self.cli(f"job unreachable {name}", ["run", "s3_data_quality_job", "--event-json",
                                                 self.event("in/data.csv")],
                     self.aws_env(AWS_ENDPOINT_URL_S3=url), expect=(2, 3))

    def flow_web_identity(self):
        token = os.path.join(self.tmp, "web-identity-token")
        with open(token, "w") as f:
            f.write(self.secrets["webtoken"])
        env = self.aws_env(AWS_ROLE_ARN="arn:aws:iam::123456789012:role/fp",
                           AWS_WEB_IDENTITY_TOKEN_FILE=token,
                           AWS_ENDPOINT_URL_STS=f"http://127.0.0.1:{closed_port()}")
        for k in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"):
            env.pop(k)
        self.cli("job web identity", ["run", "s3_data_quality_job", "--event-json",
                                      self.event("in/data.csv")], env, expect=(2, 3))

    def flow_listener(self):
        port = free_port()
        env = self.aws_env(FP_SNS_TEST_MODE="1", FP_SNS_TEST_DISABLE_FETCH="1",
                           FP_SNS_TEST_CERT_MAP=f"{CERT_NAME}={self.keys.sns_pem}",
                           FP_JOB_POLL_MS="100", FP_JOB_MAX_ATTEMPTS="1")
        p = self.start("serve", ["serve", "--port", str(port), "--bind", "127.0.0.1",
                                 "--workers", "1"], env)
        import http.client

        def post(msg):
            c = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
            try:
                c.request("POST", "/", body=json.dumps(msg),
                          headers={"Content-Type": "text/plain; charset=UTF-8"})
                r = c.getresponse()
                return r.status, r.read()
            finally:
                c.close()

        def up():
            try:
                c = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
                c.request("GET", "/healthz")
                return c.getresponse().status == 200
            except OSError:
                return False
        self.wait_for(up, what="serve up")
        for key in ("in/data.csv", "in/missing.csv"):
            ev = json.loads(self.event(key))
            ev["Records"][0]["s3"]["object"]["versionId"] = "v1"
            st, body = post(self.keys.sign(notification(json.dumps(ev), topic=TOPIC)))
            self.assertEqual(st, 200, body)
        self.wait_for(lambda: len(self.db_rows(
            "SELECT id FROM fp_jobs WHERE state IN ('succeeded', 'failed', 'dead')")) == 2,
            what="both listener jobs finished")
        c = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
        c.request("GET", "/metrics")
        self.outputs.append(("metrics", c.getresponse().read()))
        self.stop(p)

    def flow_sqs(self):
        queue = SQS.create("secrets%d" % os.getpid(), visibility=10)
        ev = json.loads(self.event("in/data.csv"))
        ev["Records"][0]["s3"]["object"]["versionId"] = "sqs1"
        SQS.send(queue, json.dumps(ev))
        env = self.aws_env(AWS_ENDPOINT_URL_SQS=SQS.url(), FP_SQS_WAIT_S="1",
                           FP_JOB_POLL_MS="100")
        p = self.start("sqs worker", ["worker", "--sqs-queue-url", queue], env)
        self.wait_for(lambda: self.db_rows(
            "SELECT state FROM fp_jobs WHERE version_id = 'sqs1'") == [("succeeded",)],
            what="SQS job succeeded")
        self.stop(p)
        # unreachable SQS endpoint with a password in it: exits at start, says where
        bad = f"http://fp:{self.secrets['sqssecret']}@127.0.0.1:{closed_port()}"
        self.cli("sqs unreachable", ["worker", "--sqs-queue-url", bad + "/123456789012/q"],
                 self.aws_env(AWS_ENDPOINT_URL_SQS=bad), expect=(2, 3))

    def flow_database_errors(self):
        """DATABASE_URLs with passwords that cannot be used: unreachable, or (PostgreSQL
        variant) a database that does not exist."""
        port = closed_port()
        urls = [f"postgresql://fp:{self.secrets['dbpass']}@127.0.0.1:{port}/results",
                f"postgresql://127.0.0.1:{port}/results?user=fp&password={self.secrets['dbquery']}"]
        if PG_URL:
            urls.append(with_password(PG_URL, self.secrets["dbpass"]).rsplit("/", 1)[0]
                        + "/no_such_database")
        for i, url in enumerate(urls):
            env = self.aws_env(DATABASE_URL=url)
            self.cli(f"db error {i} run", ["run", "s3_data_quality_job", "--event-json",
                                           self.event("in/data.csv")], env, expect=(2, 3))
            self.cli(f"db error {i} migrate", ["db", "migrate"], env, expect=(2, 3))
            self.cli(f"db error {i} runs", ["runs"], env, expect=(2, 3))
            self.cli(f"db error {i} serve", ["serve", "--port", str(free_port()), "--bind",
                                             "127.0.0.1"], env, expect=(2, 3))

    # ---- the check ------------------------------------------------------------------------

    def collect_files(self):
        for dirpath, _, files in os.walk(self.tmp):
            for name in files:
                path = os.path.join(dirpath, name)
                if path == self.keydir or name.endswith((".key", ".pem")):
                    continue
                if name == "web-identity-token":
                    continue  # the secret's own home
                with open(path, "rb") as f:
                    self.outputs.append((os.path.relpath(path, self.tmp), f.read()))
        if PG_URL:
            r = subprocess.run(["pg_dump", "--data-only", "-d", PG_URL], capture_output=True,
                               timeout=120)
            self.assertEqual(r.returncode, 0, r.stderr)
            self.outputs.append(("pg_dump", r.stdout))

    def test_no_secret_anywhere(self):
        self.flow_job()
        self.flow_web_identity()
        self.flow_listener()
        self.flow_sqs()
        self.flow_database_errors()
        self.collect_files()
        # the flows ran and wrote something worth searching
        everything = b"\n".join(data for _, data in self.outputs)
        self.assertIn(b"debug", everything)
        self.assertIn(b"in/missing.csv", everything)
        self.assertIn(b"***", everything)  # masked URLs were printed: the path was exercised
        last_errors = [r[0] for r in self.db_rows(
            "SELECT last_error FROM fp_jobs WHERE last_error IS NOT NULL")]
        self.assertTrue(last_errors, "no job failed: the last_error path was not exercised")
        leaks = []
        for name, value in self.secrets.items():
            for what, data in self.outputs:
                if value.encode() in data:
                    i = data.index(value.encode())
                    leaks.append(f"{name} in {what}: ...{data[max(0, i - 200):i + 40]!r}")
            for le in last_errors:
                if value in (le or ""):
                    leaks.append(f"{name} in fp_jobs.last_error: {le!r}")
        print(f"  searched {len(self.outputs)} outputs, {len(everything)} bytes, "
              f"{len(self.secrets)} secrets", file=sys.stderr)
        self.assertEqual(leaks, [], "\n".join(leaks))


if __name__ == "__main__":
    if not test_sqs_worker.OPENSSL:
        print("SKIP: the openssl command line tool is missing", file=sys.stderr)
        sys.exit(77)
    unittest.main(verbosity=2)
