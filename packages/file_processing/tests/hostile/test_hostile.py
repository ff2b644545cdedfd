"""The hostile-input catalogue: every case in cases.json is fed to the real binary and
must end the way the table says.

The promise under test: whatever arrives, the service keeps running, answers with a clear
error, and loses nothing it accepted. Each case names its input (inline, or generated here
when large: nothing big is committed), how it is fed, and the expected outcome:

  feed "job"         the object is put in a temp LOCAL_S3_ROOT and
                     `run s3_data_quality_job --event-json EVENT --report FILE` runs;
  feed "events_file" `run s3_data_quality_job --events-file FILE` on the given text;
  feed "contract"    `profile data.csv --contract FILE` (contract text or generated);
  feed "dotenv"      `profile data.csv` in a directory whose ./.env is the given text;
  feed "http"        raw bytes or a scripted client against one `file-processing serve`
                     on 127.0.0.1 started here;
  feed "sns"         an SNS message (signed with the test key, or not) POSTed to that
                     server.

expect: "exit" (DESIGN.md: 0 ok, 1 data invalid, 2 bad input, 3 transient) or "status"
(HTTP); "error" = the FP_ERR name the CLI prints ("file-processing: error: NAME: ..."),
"finding" = a Frictionless code that must be counted in the report, "text" = a substring
of stderr/report (CLI) or of the response body (HTTP), "error_json" = the JSON "error" of
an HTTP answer; "max_seconds" and "max_rss_mb" bound time and peak memory. After every
server case the server must still be running and answer GET /healthz.

Byte strings in the table use Python escapes ("\\xff", "\\x00"). Exits 77 when the openssl
command line tool (needed to sign SNS messages) is missing."""
import codecs
import json
import os
import re
import resource
import signal
import socket
import subprocess
import sys
import time
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "integration"))
from fp_itest import BIN, FpTestCase  # noqa: E402
from test_listener import (BUCKET, CERT_NAME, OPENSSL, TOPIC, ListenerBase,  # noqa: E402
                           notification)

with open(os.path.join(HERE, "cases.json")) as _f:
    CATALOGUE = json.load(_f)
CASES = CATALOGUE["cases"]
CLI_FEEDS = ("job", "events_file", "contract", "dotenv")


def sanitized_binary():
    """An ASan build has shadow memory: its peak RSS says nothing about ours."""
    try:
        with open(BIN, "rb") as f:
            return b"__asan_init" in f.read()
    except OSError:
        return False


SANITIZED = sanitized_binary()
HTTP_FEEDS = ("http", "sns")
DATA_CSV = "id,name\n1,alpha\n2,beta\n"


def unescape(s):
    """Table text with Python escapes -> bytes (the table stays readable ASCII)."""
    return codecs.escape_decode(s.encode("utf-8"))[0]


# ---- generated inputs (large ones are never committed) ---------------------------------

def gen_big_field(path, spec):
    """A CSV whose second row holds one field of spec['mb'] MiB, written in 1 MiB blocks."""
    block = b"x" * (1 << 20)
    with open(path, "wb") as f:
        f.write(b"id,blob\n1,\"")
        for _ in range(spec["mb"]):
            f.write(block)
        f.write(b"\"\n")


def gen_wide(path, spec):
    n = spec["columns"]
    with open(path, "wb") as f:
        f.write(",".join(f"c{i}" for i in range(n)).encode() + b"\n")
        f.write(",".join("1" for _ in range(n)).encode() + b"\n")


def gen_distinct_grid(path, spec):
    """spec['columns'] columns x spec['rows'] rows, every cell a different value."""
    n, rows = spec["columns"], spec["rows"]
    with open(path, "w") as f:
        f.write(",".join(f"c{i}" for i in range(n)) + "\n")
        for r in range(rows):
            f.write(",".join(f"{r:x}g{i}" for i in range(n)) + "\n")


def gen_regex_rows(path, spec):
    with open(path, "wb") as f:
        f.write(b"s\n")
        row = (b"a" * spec["length"]) + b"!\n"
        f.write(row * spec["rows"])


def gen_deep_json(spec):
    d = spec["depth"]
    return spec.get("prefix", "") + "[" * d + "]" * d + spec.get("suffix", "")


def gen_deep_object(spec):
    d = spec["depth"]
    return spec.get("prefix", "") + '{"a":' * d + "1" + "}" * d + spec.get("suffix", "")


def gen_nested_sns(spec):
    """An S3 event wrapped in spec['levels'] SNS envelopes (Message = JSON string)."""
    doc = s3_event_doc("in/data.csv")
    for i in range(spec["levels"]):
        doc = {"Type": "Notification", "MessageId": f"m{i}", "TopicArn": TOPIC,
               "Message": json.dumps(doc)}
    return json.dumps(doc)


def gen_big_text(spec):
    return spec.get("prefix", "") + "#" + "x" * (spec["bytes"]) + "\n"


def gen_long_env(spec):
    # a value long enough to cross the old 8 KiB line buffer, carrying KEY=VALUE text
    return "FP_X=" + "a" * spec["pad"] + spec["tail"] + "\n"


TEXT_GENERATORS = {"deep_json": gen_deep_json, "deep_object": gen_deep_object,
                   "nested_sns": gen_nested_sns, "big_text": gen_big_text,
                   "long_env": gen_long_env}
def gen_sparse(path, spec):
    """A file of spec['mb'] MiB of zero bytes that takes no disk space (sparse)."""
    with open(path, "wb") as f:
        f.truncate(spec["mb"] << 20)


FILE_GENERATORS = {"big_field": gen_big_field, "wide": gen_wide, "regex_rows": gen_regex_rows,
                   "distinct_grid": gen_distinct_grid,
                   "sparse": gen_sparse}


def s3_event_doc(key, bucket="demo-bucket", **obj):
    o = {"key": key}
    o.update(obj)
    return {"Records": [{"eventVersion": "2.1", "eventSource": "aws:s3",
                         "eventName": "ObjectCreated:Put", "eventTime": "2024-05-01T12:00:00Z",
                         "s3": {"bucket": {"name": bucket}, "object": o}}]}


def case_text(c, field="text"):
    """The case's input text: inline (escapes decoded) or generated."""
    if "gen" in c:
        g = c["gen"]
        if g["kind"] in TEXT_GENERATORS:
            return TEXT_GENERATORS[g["kind"]](g).encode()
    return unescape(c[field])


def run_measured(argv, env, cwd, timeout):
    """Runs argv; returns (returncode, stdout, stderr, seconds, peak RSS in MiB)."""
    t0 = time.monotonic()
    with open(os.path.join(cwd, ".out"), "w+b") as out, open(os.path.join(cwd, ".err"), "w+b") as err:
        p = subprocess.Popen(argv, env=env, cwd=cwd, stdout=out, stderr=err)
        deadline = t0 + timeout
        while True:
            pid, status, ru = os.wait4(p.pid, os.WNOHANG)
            if pid:
                break
            if time.monotonic() > deadline:
                os.kill(p.pid, signal.SIGKILL)
                pid, status, ru = os.wait4(p.pid, 0)
                raise AssertionError(f"{argv[1]} still running after {timeout} s: killed")
            time.sleep(0.02)
        p.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        return (p.returncode, out.read(), err.read(), time.monotonic() - t0,
                ru.ru_maxrss / 1024.0)


class CliCatalogue(FpTestCase):
    """Cases fed through the command line."""

    def check_outcome(self, c, rc, out, err, report):
        exp = c["expect"]
        msg = f"{c['id']}: rc {rc}\nstderr: {err[-3000:].decode(errors='replace')}"
        self.assertEqual(rc, exp["exit"], msg)
        hay = err.decode(errors="replace") + out.decode(errors="replace")
        if report is not None:
            hay += json.dumps(report)
        if "error" in exp:
            self.assertIn(f"file-processing: error: {exp['error']}:", err.decode(errors="replace"),
                          msg)
        if "finding" in exp:
            self.assertIsNotNone(report, f"{c['id']}: no report")
            self.assertIn(exp["finding"], report["findings"]["by_code"], msg)
            self.assertGreater(report["findings"]["by_code"][exp["finding"]], 0, msg)
        if "rows" in exp:
            self.assertEqual(report["table"]["rows"], exp["rows"], msg)
        for t in ([exp["text"]] if isinstance(exp.get("text"), str) else exp.get("text", [])):
            self.assertIn(t, hay, msg)
        # one event is one line: nothing from outside may start a line of its own
        for forged in exp.get("no_line_starts", []):
            for line in err.decode(errors="replace").splitlines():
                self.assertFalse(line.startswith(forged), f"{c['id']}: forged line {line!r}")

    def feed(self, c, casedir):
        """Prepares the case's input under casedir; returns argv (after the binary)."""
        f = c["feed"]
        report = os.path.join(casedir, "report.json")
        contract_args = []
        if "contract_text" in c:
            cpath = os.path.join(casedir, "contract.yaml")
            with open(cpath, "wb") as fh:
                fh.write(unescape(c["contract_text"]))
            contract_args = ["--contract", cpath]
        if f == "job":
            key = c.get("key", "in/data.csv")
            path = os.path.join(self.root, "demo-bucket", key)
            os.makedirs(os.path.dirname(path), exist_ok=True)
            if "symlink_to" in c:
                os.symlink(c["symlink_to"], path)
            elif "gen" in c and c["gen"]["kind"] in FILE_GENERATORS:
                FILE_GENERATORS[c["gen"]["kind"]](path, c["gen"])
            elif "data" in c:
                with open(path, "wb") as fh:
                    fh.write(unescape(c["data"]))
            obj = dict(c.get("object", {}))
            ev = json.dumps(s3_event_doc(c.get("event_key", key), **obj))
            return ["run", "s3_data_quality_job", "--event-json", ev, "--report",
                    c.get("report", report), *contract_args]
        if f == "events_file":
            path = os.path.join(casedir, "events.json")
            if "gen" in c and c["gen"]["kind"] in FILE_GENERATORS:
                FILE_GENERATORS[c["gen"]["kind"]](path, c["gen"])
            else:
                with open(path, "wb") as fh:
                    fh.write(case_text(c))
            return ["run", "s3_data_quality_job", "--events-file", path, "--report", report]
        data = os.path.join(casedir, "data.csv")
        if "gen" in c and c["gen"]["kind"] in FILE_GENERATORS:
            FILE_GENERATORS[c["gen"]["kind"]](data, c["gen"])
        else:
            with open(data, "wb") as fh:
                fh.write(unescape(c.get("data", DATA_CSV)))
        if f == "contract":
            cpath = os.path.join(casedir, "contract." + c.get("ext", "yaml"))
            with open(cpath, "wb") as fh:
                fh.write(case_text(c))
            return ["profile", data, "--contract", cpath, "--report", report]
        if f == "dotenv":
            with open(os.path.join(casedir, ".env"), "wb") as fh:
                fh.write(case_text(c))
            return ["profile", data, "--report", report, *contract_args]
        raise AssertionError(f"unknown feed {f}")

    def test_catalogue(self):
        cases = [c for c in CASES if c["feed"] in CLI_FEEDS]
        self.assertGreaterEqual(len(cases), 25)
        for i, c in enumerate(cases):
            with self.subTest(case=c["id"]):
                casedir = os.path.join(self.tmp, f"case{i}")
                os.makedirs(casedir)
                argv = self.feed(c, casedir)
                env = self.env(FP_CONTRACTS_DIR=os.path.join(casedir, "contracts"),
                               **c.get("env", {}))
                os.makedirs(env["FP_CONTRACTS_DIR"], exist_ok=True)
                exp = c["expect"]
                rc, out, err, secs, rss = run_measured([BIN, *argv], env, casedir,
                                                       exp.get("max_seconds", 120))
                rpath = os.path.join(casedir, "report.json")
                report = None
                if os.path.exists(rpath) and os.path.getsize(rpath):
                    with open(rpath) as fh:
                        report = json.load(fh)
                print(f"  {c['id']:<34} exit {rc}  {secs:6.2f} s  {rss:7.1f} MiB",
                      file=sys.stderr)
                self.check_outcome(c, rc, out, err, report)
                if "max_seconds" in exp:
                    self.assertLess(secs, exp["max_seconds"], c["id"])
                if "max_rss_mb" in exp and not SANITIZED:
                    self.assertLess(rss, exp["max_rss_mb"], c["id"])
                self.check_db(c)
                # big generated inputs go as soon as they are done with
                for name in os.listdir(casedir):
                    if os.path.getsize(os.path.join(casedir, name)) > (1 << 20):
                        os.unlink(os.path.join(casedir, name))
                for dirpath, _, files in os.walk(self.root):
                    for name in files:
                        full = os.path.join(dirpath, name)
                        if not os.path.islink(full) and os.path.getsize(full) > (1 << 20):
                            os.unlink(full)

    def check_db(self, c):
        """SQL metacharacters: the DB is intact and the values are stored verbatim."""
        db = c.get("db_verbatim")
        if not db:
            return
        for table in ("fp_jobs", "fp_runs", "fp_column_profiles", "fp_findings"):
            self.db_rows(f"SELECT count(*) FROM {table}")  # raises if the table is gone
        runs = self.db_rows("SELECT key, version_id, etag, id FROM fp_runs WHERE key = ?",
                            c["key"])
        self.assertEqual(len(runs), 1, f"{c['id']}: run for key {c['key']!r}")
        self.assertEqual(runs[0][1], c["object"]["versionId"])
        self.assertEqual(runs[0][2], c["object"]["eTag"])
        names = [r[0] for r in self.db_rows(
            "SELECT name FROM fp_column_profiles WHERE run_id = ? ORDER BY col_index", runs[0][3])]
        self.assertEqual(names, db["columns"])
        mins = [r[0] for r in self.db_rows(
            "SELECT min_value FROM fp_column_profiles WHERE run_id = ? ORDER BY col_index",
            runs[0][3])]
        self.assertEqual(mins, db["min_values"])


class HttpCatalogue(ListenerBase):
    """Cases fed to one running `file-processing serve` on 127.0.0.1."""

    REQUEST_TIMEOUT_S = 2

    def raw_exchange(self, p, data, timeout=10):
        """Sends raw bytes; returns the status of the answer (0 when closed without one)."""
        with socket.create_connection(("127.0.0.1", p.port), timeout=timeout) as s:
            s.sendall(data)
            buf = b""
            try:
                while b"\r\n" not in buf:
                    chunk = s.recv(4096)
                    if not chunk:
                        break
                    buf += chunk
            except ConnectionResetError:
                pass
        m = re.match(rb"HTTP/1\.[01] (\d{3})", buf)
        return (int(m.group(1)) if m else 0), buf

    def slowloris(self, p, c):
        """Trickles a request's headers a byte at a time: the server must close that
        connection after FP_HTTP_REQUEST_TIMEOUT_S while answering others at once."""
        req = b"POST / HTTP/1.1\r\nHost: x\r\nContent-Type: text/plain\r\n" + b"X-Pad: " + b"a" * 400
        s = socket.create_connection(("127.0.0.1", p.port), timeout=30)
        t0 = time.monotonic()
        closed_after = None
        other_ok = []
        try:
            for i in range(len(req)):
                try:
                    s.sendall(req[i:i + 1])
                    s.setblocking(False)
                    try:
                        if s.recv(1) == b"":
                            closed_after = time.monotonic() - t0
                            break
                    except BlockingIOError:
                        pass
                    finally:
                        s.setblocking(True)
                except (BrokenPipeError, ConnectionResetError):
                    closed_after = time.monotonic() - t0
                    break
                if i % 10 == 0:  # meanwhile, other clients are served at once
                    t1 = time.monotonic()
                    other_ok.append((self.get(p, "/healthz")[0], time.monotonic() - t1))
                time.sleep(0.05)
                if time.monotonic() - t0 > 20:
                    break
        finally:
            s.close()
        self.assertIsNotNone(closed_after, "slowloris connection was never closed")
        self.assertLess(closed_after, self.REQUEST_TIMEOUT_S + 3)
        self.assertTrue(other_ok and all(st == 200 and dt < 2 for st, dt in other_ok), other_ok)
        return 0, f"closed after {closed_after:.1f} s".encode()

    def many_connections(self, p, c):
        """Opens more idle connections than FP_HTTP_MAX_CONNECTIONS: the server stays up
        and serves a new client once the request timeout has reaped the idle ones."""
        socks = []
        try:
            for _ in range(c["connections"]):
                try:
                    socks.append(socket.create_connection(("127.0.0.1", p.port), timeout=5))
                except OSError:
                    break
            deadline = time.monotonic() + self.REQUEST_TIMEOUT_S + 5
            while True:
                try:
                    if self.get(p, "/healthz")[0] == 200:
                        break
                except OSError:
                    pass
                self.assertLess(time.monotonic(), deadline, "never served again")
                time.sleep(0.2)
        finally:
            for s in socks:
                s.close()
        return 200, b""

    def content_length_no_body(self, p, c):
        with socket.create_connection(("127.0.0.1", p.port), timeout=10) as s:
            s.sendall(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Type: text/plain\r\n"
                      b"Content-Length: " + c["content_length"].encode() + b"\r\n\r\n")
            t0 = time.monotonic()
            buf = s.recv(4096)
            self.assertLess(time.monotonic() - t0, 5, "answer waited for the body")
        m = re.match(rb"HTTP/1\.[01] (\d{3})", buf)
        return (int(m.group(1)) if m else 0), buf

    def sns_body(self, c):
        spec = c["sns"]
        if "raw" in spec:
            return unescape(spec["raw"]), None
        if "gen" in spec:
            return TEXT_GENERATORS[spec["gen"]["kind"]](spec["gen"]).encode(), None
        if spec.get("type", "Notification") == "Notification":
            if "message" in spec:
                message = spec["message"]
            elif "message_gen" in spec:
                message = TEXT_GENERATORS[spec["message_gen"]["kind"]](spec["message_gen"])
            else:
                message = json.dumps(s3_event_doc(spec.get("key", "in/data.csv"), bucket=BUCKET,
                                                  **spec.get("object", {})))
            m = notification(message)
        else:
            m = {"Type": spec["type"], "MessageId": f"11111111-0000-4000-8000-{c['id'][:12]:0>12}",
                 "Token": "abc123", "TopicArn": TOPIC, "Message": "You have chosen to subscribe",
                 "SubscribeURL": "https://sns.us-east-1.amazonaws.com/?Action=ConfirmSubscription"
                                 f"&TopicArn={TOPIC}&Token=abc123",
                 "Timestamp": "2024-05-01T12:00:00.000Z"}
        m.update(spec.get("fields", {}))
        if spec.get("sign", True):
            self.keys.sign(m)
        else:
            m.update({"SignatureVersion": "2", "Signature": "AAAA",
                      "SigningCertURL": m.get("SigningCertURL",
                                              "https://sns.us-east-1.amazonaws.com/" + CERT_NAME)})
        m.update(spec.get("after_sign", {}))
        return json.dumps(m).encode(), m

    def test_catalogue(self):
        cases = [c for c in CASES if c["feed"] in HTTP_FEEDS]
        self.assertGreaterEqual(len(cases), 15)
        self.put("in/data.csv", DATA_CSV, bucket=BUCKET)
        p = self.start(workers=1, FP_HTTP_REQUEST_TIMEOUT_S=str(self.REQUEST_TIMEOUT_S),
                       FP_HTTP_MAX_CONNECTIONS="64", FP_HTTP_THREADS="4",
                       FP_SNS_TOPIC_ARNS=TOPIC)
        for c in cases:
            with self.subTest(case=c["id"]):
                exp = c["expect"]
                logpos = os.path.getsize(p.logpath)
                t0 = time.monotonic()
                if c["feed"] == "sns":
                    body, _ = self.sns_body(c)
                    headers = {"Content-Type": "text/plain; charset=UTF-8"}
                    headers.update(c["sns"].get("headers", {}))
                    st, resp = self.request(p, "POST", "/", body=body, headers=headers)
                elif "action" in c:
                    st, resp = getattr(self, c["action"])(p, c)
                else:
                    st, resp = self.raw_exchange(p, unescape(c["raw"]))
                secs = time.monotonic() - t0
                print(f"  {c['id']:<34} HTTP {st}  {secs:6.2f} s", file=sys.stderr)
                msg = f"{c['id']}: {st} {resp[:600]!r}"
                self.assertEqual(st, exp["status"], msg)
                if "max_seconds" in exp:
                    self.assertLess(secs, exp["max_seconds"], msg)
                if "error_json" in exp:
                    self.assertEqual(json.loads(resp)["error"], exp["error_json"], msg)
                for t in ([exp["text"]] if isinstance(exp.get("text"), str)
                          else exp.get("text", [])):
                    self.assertIn(t.encode(), resp, msg)
                with open(p.logpath, "rb") as fh:
                    fh.seek(logpos)
                    log = fh.read().decode(errors="replace")
                for t in exp.get("log_text", []):
                    self.assertIn(t, log, f"{msg}\nlog: {log[-1500:]}")
                self.assertLess(log.count("\n"), 40, f"{c['id']}: log flooded: {log[-1500:]}")
                for forged in exp.get("no_line_starts", []):
                    for line in log.splitlines():
                        self.assertFalse(line.startswith(forged), f"{c['id']}: forged {line!r}")
                if "jobs_key" in exp:
                    rows = self.db_rows("SELECT key FROM fp_jobs WHERE key = ?", exp["jobs_key"])
                    self.assertEqual(rows, [(exp["jobs_key"],)], msg)
                # the promise: still running, still answering
                self.assertIsNone(p.poll(), f"{c['id']}: server died\n{self.log(p)[-3000:]}")
                self.assertEqual(self.get(p, "/healthz")[0], 200, c["id"])
        for table in ("fp_jobs", "fp_runs", "fp_column_profiles", "fp_findings"):
            self.db_rows(f"SELECT count(*) FROM {table}")
        self.assertEqual(self.stop(p), 0, self.log(p)[-3000:])


class CatalogueShape(unittest.TestCase):
    def test_every_case_is_complete_and_unique(self):
        ids = [c["id"] for c in CASES]
        self.assertEqual(len(ids), len(set(ids)), "duplicate case ids")
        self.assertGreaterEqual(len(CASES), 40)
        for c in CASES:
            self.assertTrue(c.get("desc"), c["id"])
            self.assertIn(c["feed"], CLI_FEEDS + HTTP_FEEDS, c["id"])
            exp = c["expect"]
            self.assertTrue("exit" in exp or "status" in exp, c["id"])
            self.assertTrue(set(exp) & {"error", "finding", "text", "error_json", "rows",
                                        "no_line_starts", "jobs_key", "log_text", "max_seconds"},
                            f"{c['id']}: no error/finding code expected")


if __name__ == "__main__":
    if not OPENSSL:
        print("SKIP: the openssl command line tool is missing", file=sys.stderr)
        sys.exit(77)
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    unittest.main(verbosity=2)
