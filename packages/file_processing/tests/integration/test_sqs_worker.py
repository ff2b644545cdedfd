"""The SQS consumer mode (issue 7): `file-processing worker --sqs-queue-url URL` against
local-aws-sqs (npm, pinned in tests/node) on 127.0.0.1, with a temp SQLite DB and a temp
LOCAL_S3_ROOT.

Bodies in every form (raw S3 event, SNS envelope signed here with our own key + a
self-signed cert mapped through FP_SNS_TEST_CERT_MAP, the same unverified with
FP_SQS_SNS_VERIFY=0, EventBridge, s3:TestEvent) become jobs and runs, and are deleted;
the same event twice makes one job; poison messages (not JSON, not an S3 event, a bad
signature) stay in the queue and are received again; a missing queue fails at start
(exit 2); SIGTERM exits 0 promptly.

local-aws-sqs facts these tests rely on (2.0.2): no CLI, started here through its
createSqsServer({port: 0, hostname: "127.0.0.1"}); JSON protocol (x-amz-json-1.0) and
Query; signatures are not checked; queue URLs are http://127.0.0.1:PORT/123456789012/NAME;
a long poll waits the whole WaitTimeSeconds to fill MaxNumberOfMessages (real SQS answers
as soon as a message is there), so a message whose visibility ends during the wait can
come back twice in one answer: the tests keep the visibility timeout above the wait;
ApproximateNumberOfMessages counts in-flight (not visible) messages too.

Exits 77 (skipped, with the reason) when node/npm/openssl are missing or `npm ci` fails.
Every server started here is stopped by PID."""
import base64
import ctypes
import http.client
import json
import os
import select
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
import unittest
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from fp_itest import BIN, PKG, FpTestCase, s3_event  # noqa: E402

NODE_DIR = os.path.join(os.path.abspath(PKG), "tests", "node")
SQS_PKG = os.path.join(NODE_DIR, "node_modules", "local-aws-sqs")
OPENSSL = shutil.which("openssl")
BUCKET = "sqs-bucket"
TOPIC = "arn:aws:sns:us-east-1:123456789012:uploads"
CERT_NAME = "SimpleNotificationService-fpsqstest0123456789.pem"
CERT_URL = "https://sns.us-east-1.amazonaws.com/" + CERT_NAME
CSV = "id,name,amount\n1,alpha,1.5\n2,beta,2.5\n"
TEST_EVENT = json.dumps({"Service": "Amazon S3", "Event": "s3:TestEvent",
                         "Time": "2024-01-01T00:00:00Z", "Bucket": BUCKET,
                         "RequestId": "X", "HostId": "Y"})
LAUNCH_JS = """
const { createSqsServer } = require(process.argv[1]);
createSqsServer({ port: 0, hostname: "127.0.0.1", emulateQueueCreationLifecycle: false })
  .then((s) => { process.stdout.write("local-aws-sqs listening on " + s.address().port + "\\n"); });
"""
SERVER = None


def _die_with_parent():
    try:
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except OSError:
        pass


def ensure_local_sqs():
    node, npm = shutil.which("node"), shutil.which("npm")
    if not node or not npm:
        return None, "node and npm are needed to run local-aws-sqs"
    if not OPENSSL:
        return None, "the openssl CLI is needed to sign SNS envelopes"
    if not os.path.exists(os.path.join(SQS_PKG, "package.json")):
        cmd = [npm, "ci", "--prefix", NODE_DIR, "--no-audit", "--no-fund"]
        try:
            r = subprocess.run(cmd, capture_output=True, timeout=600, stdin=subprocess.DEVNULL)
        except subprocess.TimeoutExpired:
            return None, "`%s` timed out" % " ".join(cmd)
        if r.returncode != 0 or not os.path.exists(os.path.join(SQS_PKG, "package.json")):
            tail = (r.stderr or r.stdout).decode(errors="replace").strip().splitlines()[-5:]
            return None, "`%s` failed: %s" % (" ".join(cmd), " | ".join(tail))
    return node, None


class LocalSqs:
    """local-aws-sqs on 127.0.0.1, port chosen by the kernel; a tiny JSON-protocol client."""

    def __init__(self, node):
        self.proc = subprocess.Popen([node, "-e", LAUNCH_JS, SQS_PKG], stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, stdin=subprocess.DEVNULL,
                                     preexec_fn=_die_with_parent)
        buf, deadline = b"", time.monotonic() + 30
        self.port = None
        while self.port is None and time.monotonic() < deadline and self.proc.poll() is None:
            ready, _, _ = select.select([self.proc.stdout], [], [], 0.2)
            if ready:
                buf += os.read(self.proc.stdout.fileno(), 4096)
                for line in buf.decode(errors="replace").splitlines():
                    if line.startswith("local-aws-sqs listening on "):
                        self.port = int(line.rsplit(" ", 1)[1])
        if self.port is None:
            self.stop()
            raise RuntimeError("local-aws-sqs did not start: %r" % buf)

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
        if self.proc:
            self.proc.stdout.close()
            self.proc.stderr.close()
        self.proc = None

    def url(self):
        return "http://127.0.0.1:%d" % self.port

    def call(self, action, **body):
        req = urllib.request.Request(self.url() + "/", data=json.dumps(body).encode(), method="POST",
                                     headers={"Content-Type": "application/x-amz-json-1.0",
                                              "X-Amz-Target": "AmazonSQS." + action})
        with urllib.request.urlopen(req, timeout=30) as r:
            return json.loads(r.read() or b"{}")

    def create(self, name, visibility=5):
        return self.call("CreateQueue", QueueName=name,
                         Attributes={"VisibilityTimeout": str(visibility)})["QueueUrl"]

    def send(self, queue, body):
        return self.call("SendMessage", QueueUrl=queue, MessageBody=body)["MessageId"]

    def counts(self, queue):
        a = self.call("GetQueueAttributes", QueueUrl=queue,
                      AttributeNames=["ApproximateNumberOfMessages",
                                      "ApproximateNumberOfMessagesNotVisible"])["Attributes"]
        return int(a["ApproximateNumberOfMessages"]), int(a["ApproximateNumberOfMessagesNotVisible"])


def setUpModule():
    global SERVER
    node, why = ensure_local_sqs()
    if not node:
        print("SKIP: " + why, file=sys.stderr)
        sys.exit(77)
    SERVER = LocalSqs(node)


def tearDownModule():
    if SERVER:
        SERVER.stop()


def string_to_sign(m):
    out = ""
    for k in ["Message", "MessageId", "Subject", "Timestamp", "TopicArn", "Type"]:
        if m.get(k) is not None:
            out += f"{k}\n{m[k]}\n"
    return out.encode()


_seq = [0]


def sns_envelope(message, key_path=None, topic=TOPIC):
    """SNS → SQS without raw delivery: the S3 event as Message of a signed envelope."""
    _seq[0] += 1
    m = {"Type": "Notification", "MessageId": f"00000000-0000-4000-9000-{_seq[0]:012d}",
         "TopicArn": topic, "Subject": "Amazon S3 Notification", "Message": message,
         "Timestamp": "2024-05-01T12:00:00.000Z", "SignatureVersion": "2",
         "SigningCertURL": CERT_URL, "Signature": base64.b64encode(b"x" * 256).decode(),
         "UnsubscribeURL": "https://sns.us-east-1.amazonaws.com/?Action=Unsubscribe"}
    if key_path:
        sig = subprocess.run([OPENSSL, "dgst", "-sha256", "-sign", key_path],
                             input=string_to_sign(m), capture_output=True, check=True,
                             timeout=60).stdout
        m["Signature"] = base64.b64encode(sig).decode()
    return json.dumps(m)


def eventbridge_event(key, bucket=BUCKET):
    return json.dumps({"version": "0", "id": "eb-1", "detail-type": "Object Created",
                       "source": "aws.s3", "account": "123456789012",
                       "time": "2024-05-01T12:00:00Z", "region": "us-east-1",
                       "resources": ["arn:aws:s3:::" + bucket],
                       "detail": {"version": "0", "bucket": {"name": bucket},
                                  "object": {"key": key, "size": len(CSV), "etag": "e1"},
                                  "request-id": "R", "requester": "123456789012",
                                  "reason": "PutObject"}})


class SqsWorkerTest(FpTestCase):
    @classmethod
    def setUpClass(cls):
        cls.keydir = tempfile.mkdtemp(prefix="fp-sqs-keys-")
        subprocess.run([OPENSSL, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-subj",
                        "/CN=sns.amazonaws.com", "-days", "30", "-keyout", "sns.key", "-out",
                        "sns.pem"], cwd=cls.keydir, check=True, capture_output=True, timeout=60)
        cls.key = os.path.join(cls.keydir, "sns.key")
        cls.pem = os.path.join(cls.keydir, "sns.pem")

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.keydir, ignore_errors=True)

    def setUp(self):
        super().setUp()
        self.procs = []
        _seq[0] += 1
        self.queue = SERVER.create("q%d-%d" % (os.getpid(), _seq[0]), visibility=4)

    def tearDown(self):
        for p in self.procs:
            if p.poll() is None:
                os.kill(p.pid, signal.SIGKILL)
                p.wait(10)
        super().tearDown()

    def start(self, *extra, **env):
        settings = dict(AWS_ENDPOINT_URL_SQS=SERVER.url(), AWS_ACCESS_KEY_ID="fake",
                        AWS_SECRET_ACCESS_KEY="fake", AWS_REGION="us-east-1",
                        AWS_EC2_METADATA_DISABLED="true", FP_SQS_WAIT_S="1", FP_JOB_POLL_MS="100",
                        FP_SNS_TEST_MODE="1", FP_SNS_TEST_DISABLE_FETCH="1",
                        FP_SNS_TEST_CERT_MAP=f"{CERT_NAME}={self.pem}")
        settings.update(env)
        e = self.env(**settings)
        self.log_path = os.path.join(self.tmp, "worker%d.log" % len(self.procs))
        log = open(self.log_path, "wb")
        p = subprocess.Popen([BIN, "worker", "--sqs-queue-url", self.queue, *extra], env=e,
                             stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                             cwd=self.tmp)
        log.close()
        self.procs.append(p)
        return p

    def log(self):
        with open(self.log_path, encoding="utf-8", errors="replace") as f:
            return f.read()

    def stop(self, p, timeout=10):
        t0 = time.monotonic()
        p.send_signal(signal.SIGTERM)
        rc = p.wait(timeout)
        self.assertEqual(rc, 0, self.log())
        self.assertLess(time.monotonic() - t0, 5, "SIGTERM must end the worker promptly")

    def wait_for(self, fn, timeout=30, what="condition"):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            v = fn()
            if v:
                return v
            if self.procs and self.procs[-1].poll() is not None:
                self.fail("worker exited (%s) while waiting for %s:\n%s"
                          % (self.procs[-1].returncode, what, self.log()))
            time.sleep(0.1)
        self.fail("timed out waiting for %s:\n%s" % (what, self.log()))

    def jobs(self):
        try:
            return self.db_rows("SELECT bucket, key, state FROM fp_jobs ORDER BY key")
        except sqlite3.OperationalError:  # the worker is still creating the tables
            return []

    def test_every_body_form_becomes_one_job_and_is_deleted(self):
        for k in ("raw.csv", "sns.csv", "eb.csv", "dup.csv"):
            self.put("in/" + k, CSV, bucket=BUCKET)
        SERVER.send(self.queue, s3_event("in/raw.csv", bucket=BUCKET, eTag="r1"))
        SERVER.send(self.queue, sns_envelope(s3_event("in/sns.csv", bucket=BUCKET, eTag="s1"),
                                             key_path=self.key))
        SERVER.send(self.queue, eventbridge_event("in/eb.csv"))
        SERVER.send(self.queue, TEST_EVENT)
        SERVER.send(self.queue, sns_envelope(TEST_EVENT, key_path=self.key))
        dup = s3_event("in/dup.csv", bucket=BUCKET, eTag="d1")
        SERVER.send(self.queue, dup)
        SERVER.send(self.queue, dup)
        p = self.start()
        self.wait_for(lambda: len([j for j in self.jobs() if j[2] == "succeeded"]) == 4,
                      what="4 succeeded jobs")
        self.wait_for(lambda: SERVER.counts(self.queue) == (0, 0), what="an empty queue")
        self.assertEqual(self.jobs(), [(BUCKET, "in/dup.csv", "succeeded"),
                                       (BUCKET, "in/eb.csv", "succeeded"),
                                       (BUCKET, "in/raw.csv", "succeeded"),
                                       (BUCKET, "in/sns.csv", "succeeded")])
        runs = self.db_rows("SELECT key, verdict FROM fp_runs ORDER BY key")
        self.assertEqual([r[0] for r in runs], ["in/dup.csv", "in/eb.csv", "in/raw.csv", "in/sns.csv"])
        self.stop(p)
        log = self.log()
        self.assertIn("already recorded (duplicate) for s3://%s/in/dup.csv" % BUCKET, log)
        self.assertEqual(log.count("test/non-ObjectCreated event(s) skipped, no job; deleted"), 2, log)
        self.assertNotIn("NOT deleted", log)

    def test_serve_consumes_sqs_and_exposes_its_metrics(self):
        self.put("in/m.csv", CSV, bucket=BUCKET)
        SERVER.send(self.queue, s3_event("in/m.csv", bucket=BUCKET, eTag="m1"))
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            port = sock.getsockname()[1]
        settings = dict(AWS_ENDPOINT_URL_SQS=SERVER.url(), AWS_ACCESS_KEY_ID="fake",
                        AWS_SECRET_ACCESS_KEY="fake", AWS_REGION="us-east-1",
                        AWS_EC2_METADATA_DISABLED="true", FP_SQS_WAIT_S="1",
                        FP_JOB_POLL_MS="100", FP_SHUTDOWN_DRAIN_MS="0")
        self.log_path = os.path.join(self.tmp, "serve.log")
        with open(self.log_path, "wb") as log:
            p = subprocess.Popen([BIN, "serve", "--bind", "127.0.0.1", "--port", str(port),
                                  "--sqs-queue-url", self.queue], env=self.env(**settings),
                                 stdout=log, stderr=subprocess.STDOUT, cwd=self.tmp)
        self.procs.append(p)
        self.wait_for(lambda: self.jobs() == [(BUCKET, "in/m.csv", "succeeded")],
                      what="the SQS message processed by serve")

        def metrics():
            c = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
            try:
                c.request("GET", "/metrics")
                return c.getresponse().read().decode()
            finally:
                c.close()
        text = self.wait_for(lambda: (lambda t: t if "fp_sqs_" in t else None)(metrics()),
                             what="fp_sqs_ metrics")
        self.assertRegex(text, r"fp_sqs_\w+")
        self.assertIn("fp_worker_jobs_total", text)
        self.stop(p)

    def test_poison_messages_are_not_deleted_and_come_back(self):
        self.put("in/ok.csv", CSV, bucket=BUCKET)
        bad = [SERVER.send(self.queue, "this is not JSON"),
               SERVER.send(self.queue, json.dumps({"hello": "world"})),
               # a correct-looking envelope with a signature that does not verify
               SERVER.send(self.queue, sns_envelope(s3_event("in/ok.csv", bucket=BUCKET)))]
        SERVER.send(self.queue, s3_event("in/ok.csv", bucket=BUCKET, eTag="ok"))
        p = self.start()
        # received again after the 4 s visibility timeout: receive count 2 in the log
        for mid in bad:
            self.wait_for(lambda: "SQS message %s (receive 2)" % mid in self.log(), timeout=30,
                          what="a second receive of %s" % mid)
        self.wait_for(lambda: self.jobs() == [(BUCKET, "in/ok.csv", "succeeded")], what="the good job")
        self.stop(p)
        # local-aws-sqs counts in-flight messages in ApproximateNumberOfMessages too
        visible, hidden = SERVER.counts(self.queue)
        self.assertIn(3, (visible, visible + hidden), self.log())
        log = self.log()
        self.assertIn("SNS signature check failed", log)
        self.assertIn("body is not an S3 event", log)
        self.assertIn("NOT deleted", log)

    def test_envelope_inside_a_verified_envelope_is_poison(self):
        """A signed envelope whose Message is a second, unsigned envelope (another topic):
        nobody verified the inner one, so it makes no job and the message stays."""
        self.put("in/ok.csv", CSV, bucket=BUCKET)
        inner = json.dumps({"Type": "Notification", "MessageId": "inner-1",
                            "TopicArn": "arn:aws:sns:us-east-1:999999999999:elsewhere",
                            "Message": s3_event("in/ok.csv", bucket=BUCKET)})
        mid = SERVER.send(self.queue, sns_envelope(inner, key_path=self.key))
        p = self.start()
        self.wait_for(lambda: "SQS message %s (receive 2)" % mid in self.log(), timeout=30,
                      what="a second receive of %s" % mid)
        self.stop(p)
        self.assertEqual(self.jobs(), [])
        self.assertIn("envelope inside an SNS Message is not accepted", self.log())

    def test_sns_verify_off_accepts_unsigned_envelopes(self):
        self.put("in/u.csv", CSV, bucket=BUCKET)
        SERVER.send(self.queue, sns_envelope(s3_event("in/u.csv", bucket=BUCKET, eTag="u")))
        p = self.start(FP_SQS_SNS_VERIFY="0")
        self.wait_for(lambda: self.jobs() == [(BUCKET, "in/u.csv", "succeeded")], what="the job")
        self.wait_for(lambda: SERVER.counts(self.queue) == (0, 0), what="an empty queue")
        self.stop(p)
        self.assertIn("FP_SQS_SNS_VERIFY=0", self.log())

    def test_topic_allow_list_refuses_other_topics(self):
        self.put("in/t.csv", CSV, bucket=BUCKET)
        SERVER.send(self.queue, sns_envelope(s3_event("in/t.csv", bucket=BUCKET), key_path=self.key,
                                             topic="arn:aws:sns:us-east-1:123456789012:other"))
        p = self.start(FP_SNS_TOPIC_ARNS=TOPIC)
        self.wait_for(lambda: "SNS topic not in FP_SNS_TOPIC_ARNS" in self.log(), what="refusal")
        self.stop(p)
        self.assertEqual(self.jobs(), [])

    def test_consumer_only_with_zero_workers_leaves_jobs_queued(self):
        self.put("in/z.csv", CSV, bucket=BUCKET)
        SERVER.send(self.queue, s3_event("in/z.csv", bucket=BUCKET, eTag="z"))
        p = self.start("--workers", "0")
        self.wait_for(lambda: SERVER.counts(self.queue) == (0, 0), what="an empty queue")
        self.stop(p)
        self.assertEqual(self.jobs(), [(BUCKET, "in/z.csv", "queued")])

    def lock_db(self):
        """Holds SQLite's write lock (the DB is 'down' for writers) until closed."""
        con = sqlite3.connect(self.db, timeout=1, isolation_level=None)
        con.execute("BEGIN EXCLUSIVE")
        return con

    def test_db_down_leaves_message_then_it_is_recorded_once(self):
        self.put("in/db.csv", CSV, bucket=BUCKET)
        p = self.start("--workers", "0", FP_SQS_VISIBILITY_S="3")
        self.wait_for(lambda: "SQS consumer on" in self.log(), what="the consumer")
        con = self.lock_db()
        try:
            SERVER.send(self.queue, s3_event("in/db.csv", bucket=BUCKET, eTag="db"))
            self.wait_for(lambda: "could not record jobs" in self.log(), timeout=40,
                          what="a failed enqueue")
            self.assertIn("NOT deleted (it becomes visible again)", self.log())
        finally:
            con.rollback()
            con.close()
        self.wait_for(lambda: self.jobs() == [(BUCKET, "in/db.csv", "queued")], timeout=40,
                      what="the job recorded on a later receive")
        self.wait_for(lambda: SERVER.counts(self.queue) == (0, 0), what="an empty queue")
        self.stop(p)

    def test_slow_batch_gets_visibility_heartbeat(self):
        # SQLite's 10 s busy wait on the first message outlasts 2/3 of the 3 s visibility:
        # the second message of the batch is extended before it is handled.
        for k in ("h1.csv", "h2.csv"):
            self.put("in/" + k, CSV, bucket=BUCKET)
        p = self.start("--workers", "0", FP_SQS_VISIBILITY_S="3")
        self.wait_for(lambda: "SQS consumer on" in self.log(), what="the consumer")
        con = self.lock_db()
        try:
            SERVER.call("SendMessageBatch", QueueUrl=self.queue, Entries=[  # one batch
                {"Id": k, "MessageBody": s3_event("in/%s.csv" % k, bucket=BUCKET, eTag=k)}
                for k in ("h1", "h2")])
            self.wait_for(lambda: "received 2 message(s)" in self.log(), what="one batch of 2")
            self.wait_for(lambda: "extended to 3 s (heartbeat)" in self.log(), timeout=40,
                          what="a visibility heartbeat")
        finally:
            con.rollback()
            con.close()
        self.wait_for(lambda: len(self.jobs()) == 2, timeout=40, what="both jobs")
        self.wait_for(lambda: SERVER.counts(self.queue) == (0, 0), what="an empty queue")
        self.stop(p)

    def test_worker_killed_before_recording_message_reappears_processed_once(self):
        self.put("in/kill.csv", CSV, bucket=BUCKET)
        a = self.start("--workers", "0", FP_SQS_VISIBILITY_S="3")
        self.wait_for(lambda: "SQS consumer on" in self.log(), what="the consumer")
        con = self.lock_db()
        try:
            SERVER.send(self.queue, s3_event("in/kill.csv", bucket=BUCKET, eTag="k"))
            self.wait_for(lambda: "received 1 message(s)" in self.log(), what="the receive")
            time.sleep(0.3)  # blocked in the enqueue (SQLite busy wait)
            os.kill(a.pid, signal.SIGKILL)
            a.wait(10)
        finally:
            con.rollback()
            con.close()
        self.assertEqual(self.jobs(), [])
        b = self.start()
        self.wait_for(lambda: self.jobs() == [(BUCKET, "in/kill.csv", "succeeded")], timeout=40,
                      what="the job after the message reappeared")
        self.wait_for(lambda: SERVER.counts(self.queue) == (0, 0), what="an empty queue")
        self.stop(b)
        self.assertEqual(self.db_rows("SELECT count(*) FROM fp_runs"), [(1,)])
        self.assertRegex(self.log(), r"\(receive [2-9]\): job \d+ queued")

    def test_missing_queue_fails_at_start_exit_2(self):
        self.queue = SERVER.url() + "/123456789012/does-not-exist"
        p = self.start()
        self.assertEqual(p.wait(30), 2, self.log())
        self.assertIn("QueueDoesNotExist", self.log())
        self.assertIn(self.queue, self.log())

    def test_unreachable_endpoint_fails_at_start_exit_3(self):
        import socket
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        self.queue = "http://127.0.0.1:%d/123456789012/q" % port
        p = self.start(AWS_ENDPOINT_URL_SQS="http://127.0.0.1:%d" % port)
        self.assertEqual(p.wait(30), 3, self.log())

    def test_direct_mode_is_refused_as_not_implemented(self):
        p = self.start(FP_SQS_MODE="direct")
        self.assertEqual(p.wait(30), 2, self.log())
        self.assertIn("FP_SQS_MODE=direct", self.log())


if __name__ == "__main__":
    unittest.main(verbosity=2)
