"""The AWS credential chain end to end through tool_awscreds, with local peers on 127.0.0.1:
an STS endpoint speaking the real AssumeRoleWithWebIdentity / AssumeRole XML, a container
credentials endpoint and an IMDSv2 endpoint (Python http.server threads started and stopped
by each test), and profile files in a temporary HOME. Also region and endpoint resolution.
No output may ever contain a secret key, session token or web identity token."""
import datetime
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import types
import unittest
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from unittest import mock
from urllib.parse import parse_qs

TOOLS = os.environ.get("FP_TOOLS_DIR", "build/tools")
TOOL = os.path.join(TOOLS, "tool_awscreds")

STS_AK, STS_SK = "ASIASTSEXAMPLE000001", "stsSecret/Key+EXAMPLE0000000000000000000"
STS_TOKEN = "FwoGZXIvYXdzEXAMPLE//////////stsSessionToken+with/slashes=="
JWT = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJzeXN0ZW06c2VydmljZWFjY291bnQ6ZXRsOmZwIn0.c2lnbmF0dXJl"
ENV_SK = "envSecretKeyEXAMPLE/abcdefghijklmnopqrstu"
ENV_TOKEN = "envSessionTokenEXAMPLE+/="
PROFILE_SK = "profileSecretEXAMPLE/0123456789abcdefghij"
CONTAINER_SK, CONTAINER_TOKEN = "containerSecretEXAMPLE/xyz", "containerSessionTokenEXAMPLE"
CONTAINER_AUTH = "Bearer-pod-identity-auth-token-EXAMPLE"
IMDS_SK, IMDS_TOKEN = "imdsSecretEXAMPLE/abc", "imdsSessionTokenEXAMPLE"
SECRETS = [STS_SK, STS_TOKEN, JWT, ENV_SK, ENV_TOKEN, PROFILE_SK, CONTAINER_SK,
           CONTAINER_TOKEN, CONTAINER_AUTH, IMDS_SK, IMDS_TOKEN, "imds-session-token-value"]


def iso(ts):
    return datetime.datetime.fromtimestamp(int(ts), datetime.timezone.utc).strftime(
        "%Y-%m-%dT%H:%M:%SZ")


def sts_ok_xml(action, expires_in=3600, ak=STS_AK):
    exp = iso(time.time() + expires_in)
    return f"""<{action}Response xmlns="https://sts.amazonaws.com/doc/2011-06-15/">
  <{action}Result>
    <Audience>sts.amazonaws.com</Audience>
    <AssumedRoleUser>
      <AssumedRoleId>AROAEXAMPLE:fp-session</AssumedRoleId>
      <Arn>arn:aws-us-gov:sts::123456789012:assumed-role/etl-playground/fp-session</Arn>
    </AssumedRoleUser>
    <Provider>arn:aws-us-gov:iam::123456789012:oidc-provider/oidc.eks.us-gov-west-1.amazonaws.com/id/EXAMPLE</Provider>
    <Credentials>
      <AccessKeyId>{ak}</AccessKeyId>
      <SecretAccessKey>{STS_SK}</SecretAccessKey>
      <SessionToken>{STS_TOKEN}</SessionToken>
      <Expiration>{exp}</Expiration>
    </Credentials>
    <SubjectFromWebIdentityToken>system:serviceaccount:etl:file-processing</SubjectFromWebIdentityToken>
  </{action}Result>
  <ResponseMetadata><RequestId>c6104cbe-af31-11e0-8154-cbc7ccf896c7</RequestId></ResponseMetadata>
</{action}Response>""".encode(), int(time.time() + expires_in)


def sts_error_xml(code, message):
    return f"""<ErrorResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/">
  <Error><Type>Sender</Type><Code>{code}</Code><Message>{message}</Message></Error>
  <RequestId>c6104cbe-af31-11e0-8154-cbc7ccf896c7</RequestId>
</ErrorResponse>""".encode()


class LocalServer:
    """An HTTP server thread on 127.0.0.1; fn(request) -> (status, headers, body)."""

    def __init__(self, fn):
        self.fn, self.requests, self.lock = fn, [], threading.Lock()
        outer = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def handle_any(self):
                n = int(self.headers.get("Content-Length") or 0)
                req = {"method": self.command, "path": self.path,
                       "headers": {k.lower(): v for k, v in self.headers.items()},
                       "body": self.rfile.read(n) if n else b""}
                with outer.lock:
                    outer.requests.append(req)
                status, headers, body = outer.fn(req)
                self.send_response(status)
                for k, v in headers:
                    self.send_header(k, v)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                try:
                    self.wfile.write(body)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up (timeout tests)

            do_GET = do_POST = do_PUT = handle_any

            def log_message(self, *args):
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def stop(self):
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join(5)


class AwsCredsTest(unittest.TestCase):
    def setUp(self):
        if not os.access(TOOL, os.X_OK):
            self.fail(f"{TOOL} is not built (FP_TOOLS_DIR={TOOLS})")
        self.home = tempfile.mkdtemp(prefix="fp-awscreds-")
        os.makedirs(os.path.join(self.home, ".aws"))
        self.servers = []

    def tearDown(self):
        for s in self.servers:
            s.stop()
        shutil.rmtree(self.home, ignore_errors=True)

    def server(self, fn):
        s = LocalServer(fn)
        self.servers.append(s)
        return s

    def write(self, rel, text):
        path = os.path.join(self.home, rel)
        with open(path, "w") as f:
            f.write(text)
        return path

    def env(self, **extra):
        drop = ("AWS_", "FP_", "http_proxy", "https_proxy", "HTTP_PROXY", "HTTPS_PROXY",
                "ALL_PROXY", "all_proxy", "NO_PROXY", "no_proxy")
        e = {k: v for k, v in os.environ.items() if not k.startswith(drop)}
        e.update(HOME=self.home, AWS_EC2_METADATA_DISABLED="true", FP_LOG_LEVEL="debug")
        e.update({k: v for k, v in extra.items() if v is not None})
        for k in [k for k, v in extra.items() if v is None]:
            e.pop(k, None)
        return e

    def run_tool(self, *args, timeout=30, **env):
        t0 = time.monotonic()
        p = subprocess.run([TOOL, *args], env=self.env(**env), capture_output=True,
                           timeout=timeout)
        self.elapsed = time.monotonic() - t0
        out, err = p.stdout.decode(), p.stderr.decode()
        for s in SECRETS:
            self.assertNotIn(s, out, "a secret reached stdout")
            self.assertNotIn(s, err, "a secret reached stderr")
        self.stderr = err
        return p.returncode, [json.loads(line) for line in out.splitlines() if line.startswith("{")]

    def creds(self, *args, **env):
        return self.run_tool("creds", *args, **env)

    # ---- sources ---------------------------------------------------------------------------

    def test_env_keys(self):
        rc, out = self.creds(AWS_ACCESS_KEY_ID="AKIAENVEXAMPLE", AWS_SECRET_ACCESS_KEY=ENV_SK,
                             AWS_SESSION_TOKEN=ENV_TOKEN)
        self.assertEqual(rc, 0, out)
        self.assertEqual(out, [{"source": "env", "access_key_id": "AKIAENVEXAMPLE",
                                "has_token": True, "expiration": None}])
        rc, out = self.creds(AWS_ACCESS_KEY_ID="AKIAENVEXAMPLE", AWS_SECRET_ACCESS_KEY=ENV_SK)
        self.assertEqual(out[0]["has_token"], False)
        rc, out = self.creds(AWS_ACCESS_KEY_ID="AKIAENVEXAMPLE")
        self.assertEqual(rc, 2)
        self.assertEqual(out[0]["error"], "CONFIG")
        self.assertIn("AWS_SECRET_ACCESS_KEY", out[0]["message"])

    def sts(self, action="AssumeRoleWithWebIdentity", expires_in=3600, delay=0, fail=None):
        def fn(req):
            if delay:
                time.sleep(delay)
            if fail:
                status, code, msg = fail
                return status, [("Content-Type", "text/xml")], sts_error_xml(code, msg)
            form = parse_qs(req["body"].decode())
            act = form.get("Action", [""])[0]
            body, _ = sts_ok_xml(act or action, expires_in)
            return 200, [("Content-Type", "text/xml")], body
        return self.server(fn)

    def web_identity_env(self, sts, **extra):
        token_file = self.write("token.jwt", JWT + "\n")
        env = dict(AWS_ROLE_ARN="arn:aws-us-gov:iam::123456789012:role/etl-playground",
                   AWS_WEB_IDENTITY_TOKEN_FILE=token_file, AWS_ROLE_SESSION_NAME="fp-session",
                   AWS_ENDPOINT_URL_STS=sts.url)
        env.update(extra)
        return env

    def test_web_identity(self):
        sts = self.sts()
        rc, out = self.creds(**self.web_identity_env(sts))
        self.assertEqual(rc, 0, out)
        self.assertEqual(out[0]["source"], "web-identity")
        self.assertEqual(out[0]["access_key_id"], STS_AK)
        self.assertTrue(out[0]["has_token"])
        self.assertAlmostEqual(out[0]["expiration"], time.time() + 3600, delta=30)
        self.assertEqual(len(sts.requests), 1)
        req = sts.requests[0]
        self.assertEqual((req["method"], req["path"]), ("POST", "/"))
        self.assertTrue(req["headers"]["content-type"].startswith(
            "application/x-www-form-urlencoded"))
        self.assertNotIn("authorization", req["headers"], "web identity calls are unsigned")
        form = parse_qs(req["body"].decode(), keep_blank_values=True)
        self.assertEqual(form, {"Action": ["AssumeRoleWithWebIdentity"],
                                "Version": ["2011-06-15"],
                                "RoleArn": ["arn:aws-us-gov:iam::123456789012:role/etl-playground"],
                                "RoleSessionName": ["fp-session"], "WebIdentityToken": [JWT]})

    def test_env_keys_win_over_web_identity(self):
        sts = self.sts()
        rc, out = self.creds(AWS_ACCESS_KEY_ID="AKIAENVEXAMPLE", AWS_SECRET_ACCESS_KEY=ENV_SK,
                             **self.web_identity_env(sts))
        self.assertEqual(out[0]["source"], "env")
        self.assertEqual(sts.requests, [])

    def test_web_identity_errors(self):
        for status, code, want_err, want_rc in [
                (403, "AccessDenied", "FORBIDDEN", 2),
                (400, "InvalidIdentityToken", "FORBIDDEN", 2),
                (400, "ExpiredTokenException", "FORBIDDEN", 2),
                (503, "ServiceUnavailable", "TRANSIENT", 3),
                (400, "Throttling", "TRANSIENT", 3)]:
            with self.subTest(code=code):
                sts = self.sts(fail=(status, code, f"Not authorized to perform {code} &amp; co"))
                rc, out = self.creds(**self.web_identity_env(sts))
                self.assertEqual(rc, want_rc, out)
                self.assertEqual(out[0]["error"], want_err)
                msg = out[0]["message"]
                self.assertIn(code, msg)
                self.assertIn(sts.url, msg)
                self.assertIn("AssumeRoleWithWebIdentity", msg)
                self.assertIn("& co", msg)
                self.assertEqual(len(sts.requests), 3 if want_err == "TRANSIENT" else 1)

    def test_web_identity_unreachable_and_missing_token_file(self):
        sts = self.sts()
        url = sts.url
        sts.stop()
        self.servers.remove(sts)
        rc, out = self.creds(**self.web_identity_env(sts, AWS_ENDPOINT_URL_STS=url))
        self.assertEqual((rc, out[0]["error"]), (3, "TRANSIENT"))
        self.assertIn(url, out[0]["message"])
        rc, out = self.creds(**self.web_identity_env(
            sts, AWS_WEB_IDENTITY_TOKEN_FILE=os.path.join(self.home, "nope")))
        self.assertEqual((rc, out[0]["error"]), (2, "CONFIG"))
        self.assertIn("nope", out[0]["message"])

    def test_expiry_refresh(self):
        sts = self.sts(expires_in=60)  # inside the 5-minute refresh window: every get refetches
        rc, out = self.creds("--count", "2", **self.web_identity_env(sts))
        self.assertEqual(rc, 0, out)
        self.assertEqual([o["access_key_id"] for o in out], [STS_AK, STS_AK])
        self.assertEqual(len(sts.requests), 2)
        sts2 = self.sts(expires_in=3600)  # fresh: the second get is served from the cache
        rc, out = self.creds("--count", "3", **self.web_identity_env(sts2))
        self.assertEqual(len(out), 3)
        self.assertEqual(len(sts2.requests), 1)

    def test_concurrent_callers_do_not_stampede(self):
        sts = self.sts(delay=0.5)
        rc, out = self.creds("--threads", "12", **self.web_identity_env(sts))
        self.assertEqual(rc, 0, out)
        self.assertEqual(len(out), 12)
        self.assertTrue(all(o["access_key_id"] == STS_AK for o in out))
        self.assertEqual(len(sts.requests), 1)

    def test_profiles(self):
        self.write(".aws/credentials", f"""# shared credentials
[default]
aws_access_key_id = AKIADEFAULTEXAMPLE
aws_secret_access_key = {PROFILE_SK}

; another comment
[etl-playground]
aws_access_key_id=AKIAETLEXAMPLE
aws_secret_access_key={PROFILE_SK}
aws_session_token = {ENV_TOKEN}
""")
        self.write(".aws/config", f"""[default]
region = us-gov-east-1

[profile cfgonly]
region = cn-north-1
aws_access_key_id = AKIACFGONLYEXAMPLE
aws_secret_access_key = {PROFILE_SK}
s3 =
  max_concurrent_requests = 20

[notaprofile]
aws_access_key_id = AKIANOTAPROFILE
aws_secret_access_key = {PROFILE_SK}
""")
        cases = [({}, "AKIADEFAULTEXAMPLE", False), ({"AWS_PROFILE": "etl-playground"},
                                                     "AKIAETLEXAMPLE", True),
                 ({"AWS_PROFILE": "cfgonly"}, "AKIACFGONLYEXAMPLE", False)]
        for env, ak, tok in cases:
            with self.subTest(env=env):
                rc, out = self.creds(**env)
                self.assertEqual(rc, 0, out)
                self.assertEqual(out[0], {"source": "profile", "access_key_id": ak,
                                          "has_token": tok, "expiration": None})
        rc, out = self.creds(AWS_PROFILE="notaprofile")  # "[x]" in config is not a profile
        self.assertEqual((rc, out[0]["error"]), (2, "CONFIG"))
        self.assertIn("'notaprofile'", out[0]["message"])
        # explicit file locations
        alt = self.write("alt-credentials", f"[default]\naws_access_key_id=AKIAALTEXAMPLE\n"
                                            f"aws_secret_access_key={PROFILE_SK}\n")
        rc, out = self.creds(AWS_SHARED_CREDENTIALS_FILE=alt)
        self.assertEqual(out[0]["access_key_id"], "AKIAALTEXAMPLE")
        # region: AWS_REGION > AWS_DEFAULT_REGION > profile > us-gov-west-1
        self.assertEqual(self.region(), "us-gov-east-1")
        self.assertEqual(self.region(AWS_PROFILE="cfgonly"), "cn-north-1")
        self.assertEqual(self.region(AWS_DEFAULT_REGION="us-east-2"), "us-east-2")
        self.assertEqual(self.region(AWS_REGION="eu-west-1", AWS_DEFAULT_REGION="us-east-2"),
                         "eu-west-1")
        self.assertEqual(self.region(AWS_PROFILE="etl-playground"), "us-gov-west-1")
        os.remove(os.path.join(self.home, ".aws/config"))
        self.assertEqual(self.region(), "us-gov-west-1")

    def region(self, **env):
        p = subprocess.run([TOOL, "region"], env=self.env(**env), capture_output=True, timeout=30)
        return p.stdout.decode().strip()

    def test_profile_role_chaining_signs_assume_role(self):
        import_ok = True
        try:
            import botocore.auth  # noqa: F401
        except ImportError:
            import_ok = False
        sts = self.sts()
        self.write(".aws/credentials", f"[base]\naws_access_key_id = AKIABASEEXAMPLE\n"
                                       f"aws_secret_access_key = {PROFILE_SK}\n")
        self.write(".aws/config", "[profile etl-playground]\n"
                                  "role_arn = arn:aws-us-gov:iam::123456789012:role/etl\n"
                                  "source_profile = base\nrole_session_name = chained\n"
                                  "external_id = ext-123\nregion = us-gov-west-1\n")
        rc, out = self.creds(AWS_PROFILE="etl-playground", AWS_ENDPOINT_URL_STS=sts.url)
        self.assertEqual(rc, 0, out)
        self.assertEqual(out[0]["source"], "profile")
        self.assertEqual(out[0]["access_key_id"], STS_AK)
        self.assertEqual(len(sts.requests), 1)
        req = sts.requests[0]
        form = parse_qs(req["body"].decode())
        self.assertEqual(form, {"Action": ["AssumeRole"], "Version": ["2011-06-15"],
                                "RoleArn": ["arn:aws-us-gov:iam::123456789012:role/etl"],
                                "RoleSessionName": ["chained"], "ExternalId": ["ext-123"]})
        authz = req["headers"]["authorization"]
        self.assertIn("Credential=AKIABASEEXAMPLE/", authz)
        self.assertIn("/us-gov-west-1/sts/aws4_request", authz)
        if import_ok:
            self.assertEqual(authz, botocore_resign(req, sts.url, "AKIABASEEXAMPLE", PROFILE_SK))
        # a cycle is refused, not followed forever
        self.write(".aws/config", "[profile a]\nrole_arn = arn:x\nsource_profile = b\n"
                                  "[profile b]\nrole_arn = arn:y\nsource_profile = a\n")
        rc, out = self.creds(AWS_PROFILE="a", AWS_ENDPOINT_URL_STS=sts.url)
        self.assertEqual((rc, out[0]["error"]), (2, "CONFIG"))

    def container(self, status=200, expires_in=3600):
        def fn(req):
            if status != 200:
                return status, [], b'{"message":"denied"}'
            return 200, [("Content-Type", "application/json")], json.dumps({
                "AccessKeyId": "ASIACONTAINEREXAMPLE", "SecretAccessKey": CONTAINER_SK,
                "Token": CONTAINER_TOKEN, "Expiration": iso(time.time() + expires_in),
                "RoleArn": "arn:aws-us-gov:iam::123456789012:role/etl"}).encode()
        return self.server(fn)

    def test_container_credentials(self):
        c = self.container()
        rc, out = self.creds(AWS_CONTAINER_CREDENTIALS_FULL_URI=c.url + "/v1/credentials",
                             AWS_CONTAINER_AUTHORIZATION_TOKEN=CONTAINER_AUTH)
        self.assertEqual(rc, 0, out)
        self.assertEqual(out[0]["source"], "container")
        self.assertEqual(out[0]["access_key_id"], "ASIACONTAINEREXAMPLE")
        self.assertTrue(out[0]["has_token"])
        self.assertEqual(c.requests[0]["path"], "/v1/credentials")
        self.assertEqual(c.requests[0]["headers"]["authorization"], CONTAINER_AUTH)
        # _FILE wins over the variable (EKS Pod Identity mounts the token as a file)
        tf = self.write("pod-token", "file-" + CONTAINER_AUTH + "\n")
        rc, out = self.creds(AWS_CONTAINER_CREDENTIALS_FULL_URI=c.url + "/creds",
                             AWS_CONTAINER_AUTHORIZATION_TOKEN="ignored",
                             AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE=tf)
        self.assertEqual(rc, 0, out)
        self.assertEqual(c.requests[1]["headers"]["authorization"], "file-" + CONTAINER_AUTH)
        # refused by the endpoint, and a non-loopback plain-http host
        bad = self.container(status=403)
        rc, out = self.creds(AWS_CONTAINER_CREDENTIALS_FULL_URI=bad.url + "/creds")
        self.assertEqual((rc, out[0]["error"]), (2, "FORBIDDEN"))
        self.assertIn(bad.url, out[0]["message"])
        rc, out = self.creds(AWS_CONTAINER_CREDENTIALS_FULL_URI="http://192.0.2.10/creds")
        self.assertEqual((rc, out[0]["error"]), (2, "CONFIG"))
        self.assertIn("192.0.2.10", out[0]["message"])

    def test_container_oversized_answer_and_redirect(self):
        huge = self.server(lambda req: (200, [], b"{" + b" " * (2 << 20) + b"}"))
        rc, out = self.creds(AWS_CONTAINER_CREDENTIALS_FULL_URI=huge.url + "/creds")
        self.assertEqual((rc, out[0]["error"]), (2, "LIMIT"))
        target = self.container()
        hop = self.server(lambda req: (302, [("Location", target.url + "/creds")], b""))
        rc, out = self.creds(AWS_CONTAINER_CREDENTIALS_FULL_URI=hop.url + "/creds")
        self.assertEqual((rc, out[0]["error"]), (2, "FORBIDDEN"))
        self.assertIn("HTTP 302", out[0]["message"])
        self.assertEqual(target.requests, [], "credential endpoints must not follow redirects")

    def test_container_endpoint_that_stalls_times_out(self):
        c = self.server(lambda req: (time.sleep(4), (200, [], b"{}"))[1])
        rc, out = self.creds(AWS_CONTAINER_CREDENTIALS_FULL_URI=c.url + "/creds")
        self.assertEqual((rc, out[0]["error"]), (3, "TRANSIENT"))
        self.assertLess(self.elapsed, 8)  # 2 attempts x 2 s

    def test_no_credentials_anywhere(self):
        rc, out = self.creds()
        self.assertEqual(rc, 2)
        self.assertEqual(out[0]["error"], "FORBIDDEN")
        msg = out[0]["message"]
        for source in ("env", "web-identity", "profile 'default'", "container", "imds"):
            self.assertIn(source, msg)
        self.assertIn("AWS_EC2_METADATA_DISABLED", msg)
        self.assertLess(self.elapsed, 5)

    def imds(self):
        tok = "imds-session-token-value"

        def fn(req):
            p, h = req["path"], req["headers"]
            if req["method"] == "PUT" and p == "/latest/api/token":
                if h.get("x-aws-ec2-metadata-token-ttl-seconds") != "21600":
                    return 400, [], b""
                return 200, [], tok.encode()
            if h.get("x-aws-ec2-metadata-token") != tok:
                return 401, [], b""
            if p == "/latest/meta-data/iam/security-credentials/":
                return 200, [], b"etl-instance-role\n"
            if p == "/latest/meta-data/iam/security-credentials/etl-instance-role":
                return 200, [], json.dumps({
                    "Code": "Success", "LastUpdated": iso(time.time()), "Type": "AWS-HMAC",
                    "AccessKeyId": "ASIAIMDSEXAMPLE", "SecretAccessKey": IMDS_SK,
                    "Token": IMDS_TOKEN, "Expiration": iso(time.time() + 6 * 3600)}).encode()
            return 404, [], b""
        return self.server(fn)

    def test_imds(self):
        m = self.imds()
        rc, out = self.creds(AWS_EC2_METADATA_DISABLED=None, AWS_EC2_METADATA_SERVICE_ENDPOINT=m.url)
        self.assertEqual(rc, 0, out)
        self.assertEqual(out[0]["source"], "imds")
        self.assertEqual(out[0]["access_key_id"], "ASIAIMDSEXAMPLE")
        self.assertEqual([r["method"] for r in m.requests], ["PUT", "GET", "GET"])
        # nothing listening: the chain ends quickly with the list of what was tried
        dead = self.imds()
        url = dead.url
        dead.stop()
        self.servers.remove(dead)
        rc, out = self.creds(AWS_EC2_METADATA_DISABLED=None, AWS_EC2_METADATA_SERVICE_ENDPOINT=url)
        self.assertEqual((rc, out[0]["error"]), (2, "FORBIDDEN"))
        self.assertIn("imds (no answer at " + url, out[0]["message"])
        self.assertLess(self.elapsed, 5)

    def test_endpoints(self):
        def ep(service, region=None, **env):
            args = [TOOL, "endpoint", service] + ([region] if region else [])
            p = subprocess.run(args, env=self.env(**env), capture_output=True, timeout=30)
            return json.loads(p.stdout)
        self.assertEqual(ep("s3"), {"endpoint": "https://s3.us-gov-west-1.amazonaws.com",
                                    "custom": False, "partition": "aws-us-gov",
                                    "region": "us-gov-west-1"})
        self.assertEqual(ep("s3", "cn-north-1")["endpoint"], "https://s3.cn-north-1.amazonaws.com.cn")
        self.assertEqual(ep("s3", "cn-north-1")["partition"], "aws-cn")
        self.assertEqual(ep("sts", "us-east-1")["partition"], "aws")
        got = ep("s3", AWS_ENDPOINT_URL_S3="http://127.0.0.1:9000/", AWS_ENDPOINT_URL="http://x:1")
        self.assertEqual((got["endpoint"], got["custom"]), ("http://127.0.0.1:9000", True))
        self.assertEqual(ep("sts", AWS_ENDPOINT_URL_S3="http://a:1",
                            AWS_ENDPOINT_URL="http://127.0.0.1:4566")["endpoint"],
                         "http://127.0.0.1:4566")


def botocore_resign(req, url, ak, sk):
    """Recomputes the Authorization of a captured STS request with botocore at its time."""
    import botocore.auth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials
    h = req["headers"]
    when = datetime.datetime.strptime(h["x-amz-date"], "%Y%m%dT%H%M%SZ")
    signed = h["authorization"].split("SignedHeaders=")[1].split(",")[0].split(";")
    region = h["authorization"].split("/")[2]
    headers = {k: h[k] for k in signed if k not in ("x-amz-date", "x-amz-security-token")}

    class Fixed(datetime.datetime):
        @classmethod
        def utcnow(cls):
            return cls(when.year, when.month, when.day, when.hour, when.minute, when.second)

    breq = AWSRequest(method="POST", url=url + "/", headers=headers, data=req["body"])
    auth = botocore.auth.SigV4Auth(Credentials(ak, sk), "sts", region)
    with mock.patch.object(botocore.auth, "datetime",
                           types.SimpleNamespace(datetime=Fixed, timezone=datetime.timezone)):
        auth.add_auth(breq)
    return breq.headers["Authorization"]


if __name__ == "__main__":
    unittest.main(verbosity=2)
