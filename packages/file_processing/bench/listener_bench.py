#!/usr/bin/env python3
"""listener_bench.py BUILD_DIR — the SNS listener under load, next to its ceiling.

Starts `file-processing serve` (SQLite queue in a temp dir, no workers, test-mode SNS
verification with a key and certificate made here, no certificate fetches) and drives it
with wrk: 64 connections for FP_BENCH_LISTENER_SECONDS (default 10) posting 1000 distinct
signed S3 notifications in rotation (first pass enqueues, later passes are duplicates that
must create no job). Then the same wrk load against fp-bench-mhd-ok, a libmicrohttpd
server that only answers 200 with the same threading: the ceiling for this machine.
Prints req/s and p99 latency for both. Every server started here is stopped by PID.
"""
import base64
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request

BUILD = sys.argv[1] if len(sys.argv) > 1 else "build"
SECONDS = os.environ.get("FP_BENCH_LISTENER_SECONDS", "10")
CERT_NAME = "SimpleNotificationService-fpbench0123456789.pem"
CERT_URL = "https://sns.us-east-1.amazonaws.com/" + CERT_NAME
TOPIC = "arn:aws:sns:us-east-1:123456789012:fp-bench"
NMSG = 1000


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_ready(port, proc, timeout=15):
    t0 = time.time()
    while time.time() - t0 < timeout:
        if proc.poll() is not None:
            sys.exit(f"listener_bench: server exited with {proc.returncode}")
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=1):
                return
        except OSError:
            time.sleep(0.1)
    sys.exit("listener_bench: server did not become ready")


def signed_messages(tmp):
    key, pem = os.path.join(tmp, "sns.key"), os.path.join(tmp, "sns.pem")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-subj",
                    "/CN=sns.amazonaws.com", "-days", "2", "-keyout", key, "-out", pem],
                   check=True, capture_output=True)
    bodies = []
    for i in range(NMSG):
        event = {"Records": [{"eventVersion": "2.1", "eventSource": "aws:s3",
                              "eventName": "ObjectCreated:Put",
                              "s3": {"bucket": {"name": "bench"},
                                     "object": {"key": f"bench/{i:05d}.csv", "size": 10}}}]}
        m = {"Type": "Notification", "MessageId": f"00000000-0000-4000-8000-{i:012d}",
             "TopicArn": TOPIC, "Message": json.dumps(event),
             "Timestamp": "2026-01-01T00:00:00.000Z", "SignatureVersion": "2",
             "SigningCertURL": CERT_URL}
        sts = "".join(f"{k}\n{m[k]}\n" for k in
                      ("Message", "MessageId", "Timestamp", "TopicArn", "Type")).encode()
        sig = subprocess.run(["openssl", "dgst", "-sha256", "-sign", key], input=sts,
                             capture_output=True, check=True).stdout
        m["Signature"] = base64.b64encode(sig).decode()
        bodies.append(json.dumps(m))
    return pem, bodies


def lua_script(tmp, bodies):
    path = os.path.join(tmp, "post.lua")
    with open(path, "w") as f:
        f.write("local bodies = {\n")
        for b in bodies:
            f.write("  " + json.dumps(b) + ",\n")  # a JSON string is a valid Lua string here
        f.write("}\nlocal i = 0\nwrk.method = 'POST'\n"
                "wrk.headers['Content-Type'] = 'text/plain; charset=UTF-8'\n"
                "wrk.headers['x-amz-sns-message-type'] = 'Notification'\n"
                "request = function()\n  i = i % #bodies + 1\n"
                "  return wrk.format(nil, '/', nil, bodies[i])\nend\n"
                "done = function(summary, latency, requests)\n"
                "  io.write(string.format('non2xx %d\\n', summary.errors.status))\nend\n")
    return path


def run_wrk(port, script):
    out = subprocess.run(["wrk", "-t2", "-c64", f"-d{SECONDS}s", "--latency", "-s", script,
                          f"http://127.0.0.1:{port}/"], capture_output=True, text=True,
                         timeout=int(SECONDS) + 60).stdout
    rps = re.search(r"Requests/sec:\s+([\d.]+)", out)
    p99 = re.search(r"\s99%\s+([\d.]+)(us|ms|s)", out)
    bad = re.search(r"non2xx (\d+)", out)
    if not rps or not p99:
        sys.exit("listener_bench: could not read wrk output:\n" + out)
    scale = {"us": 0.001, "ms": 1.0, "s": 1000.0}[p99.group(2)]
    return float(rps.group(1)), float(p99.group(1)) * scale, int(bad.group(1)) if bad else -1


def stop(proc):
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def main():
    if not shutil.which("wrk") or not shutil.which("openssl"):
        print("listener bench: skipped (wrk or openssl missing; scripts/install-deps.sh installs them)")
        return 0
    fp = os.path.join(BUILD, "file-processing")
    ok = os.path.join(BUILD, "fp-bench-mhd-ok")
    tmp = tempfile.mkdtemp(prefix="fp-listener-bench-")
    procs = []
    try:
        pem, bodies = signed_messages(tmp)
        script = lua_script(tmp, bodies)
        os.makedirs(os.path.join(tmp, "data"))
        env = {k: v for k, v in os.environ.items() if not k.startswith(("FP_", "AWS_"))}
        port = free_port()
        env.update({"DATABASE_URL": f"sqlite:///{tmp}/bench.db", "LOCAL_S3_ROOT": f"{tmp}/data",
                    "FP_WORKERS": "0", "FP_QUEUE_MAX": "1000000", "FP_LOG_LEVEL": "warn",
                    "FP_SNS_TEST_MODE": "1", "FP_SNS_TEST_CERT_MAP": f"{CERT_NAME}={pem}",
                    "FP_SNS_TEST_CLOCK": str(int(time.time())), "FP_SNS_TEST_DISABLE_FETCH": "1",
                    "FP_SNS_TOPIC_ARNS": TOPIC})
        srv = subprocess.Popen([fp, "serve", "--bind", "127.0.0.1", "--port", str(port)],
                               env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        procs.append(srv)
        wait_ready(port, srv)
        l_rps, l_p99, l_bad = run_wrk(port, script)
        stop(srv)
        jobs = subprocess.run(["sqlite3", f"{tmp}/bench.db", "SELECT count(*) FROM fp_jobs"],
                              capture_output=True, text=True).stdout.strip()
        port2 = free_port()
        base = subprocess.Popen([ok, str(port2), "8"], stdout=subprocess.DEVNULL)
        procs.append(base)
        wait_ready(port2, base)
        b_rps, b_p99, _ = run_wrk(port2, script)
        stop(base)
        print(f"\nlistener: wrk -c64 -d{SECONDS}s, {NMSG} distinct signed notifications in rotation")
        print(f"{'server':<40} {'req/s':>10} {'p99 ms':>9} {'x ceiling':>10}")
        print(f"{'file-processing serve (verify+enqueue)':<40} {l_rps:>10.0f} {l_p99:>9.2f} "
              f"{l_rps / b_rps if b_rps else 0:>10.2f}")
        print(f"{'libmicrohttpd 200 OK (ceiling)':<40} {b_rps:>10.0f} {b_p99:>9.2f} {1.0:>10.2f}")
        print(f"jobs created: {jobs} (expected {NMSG}: duplicates create none); non-2xx answers: {l_bad}")
        if jobs != str(NMSG) or l_bad != 0:
            print("listener_bench: unexpected jobs count or error answers", file=sys.stderr)
            return 1
        return 0
    finally:
        for p in procs:
            stop(p)
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
