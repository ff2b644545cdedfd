"""Offline validation of the infrastructure: Dockerfile, Terraform, Kubernetes manifests,
docker-compose and the operator scripts under infra/ (AWS, Docker Hub and LocalStack cannot
be reached here, so each artifact is checked by the strongest tool that runs offline).

- yamllint (the repository's .yamllint) on every YAML file.
- shellcheck on every script; each script is executable, uses `set -euo pipefail` and
  answers --help.
- Terraform: every .tf parsed with @cdktf/hcl2json (npm); tests/infra/tf_check.js checks
  that every var.X is declared (and used), every local/module/data/resource reference
  resolves, providers are pinned, and no IAM statement gives S3 actions a "*" resource;
  plus checks of what the README promises (tags, GovCloud partition, IRSA, probes).
- Kubernetes: tests/infra/k8s_check.js validates every manifest with kubernetes-models
  (JSON Schema) and rejects unknown fields; plus the Job's podFailurePolicy per DESIGN.md.
- Dockerfile: dockerfilelint (npm) plus structure checks.
- Scripts' behaviour with stub aws/terraform/kubectl/docker/curl on PATH that record their
  arguments; sns_probe_listener.sh against the real listener.

Exits 77 (skipped, with the reason) when node/npm are missing or the npm packages cannot
be installed.
"""
import json
import os
import re
import shutil
import socket
import stat
import subprocess
import sys
import tempfile
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from fp_itest import BIN, PKG  # noqa: E402

PKG_DIR = os.path.abspath(PKG)
REPO = os.path.abspath(os.path.join(PKG_DIR, "..", ".."))
INFRA = os.path.join(REPO, "infra")
HELPERS = os.path.join(PKG_DIR, "tests", "infra")
NODE_DIR = os.path.join(PKG_DIR, "tests", "node")
NEEDED = ["@cdktf/hcl2json", "kubernetes-models", "yaml", "dockerfilelint"]
FP_SCRIPTS = os.path.join(INFRA, "file_processing", "scripts")
TF_FP = os.path.join(INFRA, "file_processing", "terraform")
TF_NET = os.path.join(INFRA, "foundation_network", "terraform")
K8S = os.path.join(INFRA, "file_processing", "k8s")
DOCKERFILE = os.path.join(PKG_DIR, "file-processing.Dockerfile")

NODE = shutil.which("node")
NODE_MODULES = None  # set by ensure_node_modules()


def _have_all(nm):
    return all(os.path.exists(os.path.join(nm, p, "package.json")) for p in NEEDED)


def ensure_node_modules():
    """node_modules holding NEEDED, or (None, why). The shared tests/node/node_modules is
    used when it already has them; otherwise a private copy is installed with `npm ci` next
    to the build (never touching the shared one, which other tests use concurrently)."""
    npm = shutil.which("npm")
    if not NODE or not npm:
        return None, "node and npm are needed (apt-get install nodejs npm)"
    shared = os.path.join(NODE_DIR, "node_modules")
    if _have_all(shared):
        return shared, None
    private = os.environ.get("FP_INFRA_NODE_DIR") or os.path.join(
        os.path.dirname(os.path.abspath(BIN)), "infra-node")
    nm = os.path.join(private, "node_modules")
    if _have_all(nm):
        return nm, None
    os.makedirs(private, exist_ok=True)
    for f in ("package.json", "package-lock.json"):
        shutil.copy(os.path.join(NODE_DIR, f), os.path.join(private, f))
    cmd = [npm, "ci", "--prefix", private, "--no-audit", "--no-fund"]
    try:
        r = subprocess.run(cmd, capture_output=True, timeout=600, stdin=subprocess.DEVNULL)
    except subprocess.TimeoutExpired:
        return None, "`%s` timed out" % " ".join(cmd)
    if r.returncode != 0 or not _have_all(nm):
        tail = (r.stderr or r.stdout).decode(errors="replace").strip().splitlines()[-5:]
        return None, "`%s` failed: %s" % (" ".join(cmd), " | ".join(tail))
    return nm, None


def node(script, *args, check=False):
    env = dict(os.environ, NODE_PATH=NODE_MODULES)
    r = subprocess.run([NODE, os.path.join(HELPERS, script), *args], capture_output=True,
                       text=True, env=env, timeout=300, stdin=subprocess.DEVNULL)
    if check and r.returncode != 0:
        raise AssertionError("%s %s failed:\n%s%s" % (script, args, r.stdout, r.stderr))
    return r


_HCL = {}


def hcl(path):
    """One .tf/.tfvars file as hcl2json's JSON (all of infra/ parsed by one node run)."""
    if not _HCL:
        files = [os.path.join(d, f) for d in (TF_FP, TF_NET) for f in sorted(os.listdir(d))
                 if f.endswith((".tf", ".tfvars.example"))]
        _HCL.update(json.loads(node("tf_check.js", "--json", *files, check=True).stdout))
    return _HCL[path]


def yaml_docs(path):
    return json.loads(node("k8s_check.js", "--json", path, check=True).stdout)


def read(path):
    with open(path, encoding="utf-8") as f:
        return f.read()


def all_scripts():
    out = []
    for base in (INFRA, os.path.join(PKG_DIR, "scripts"), os.path.join(PKG_DIR, "tests", "image")):
        for d, _, files in os.walk(base):
            out += [os.path.join(d, f) for f in files if f.endswith(".sh")]
    return sorted(out)


class StaticChecks(unittest.TestCase):
    def test_shellcheck(self):
        sc = shutil.which("shellcheck")
        if not sc:
            self.skipTest("shellcheck missing (scripts/install-deps.sh installs it)")
        scripts = all_scripts()
        self.assertGreaterEqual(len(scripts), 12)
        r = subprocess.run([sc, "-x", "-P", "SCRIPTDIR", *scripts], capture_output=True,
                           text=True, cwd=REPO)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)

    def test_yamllint(self):
        yl = shutil.which("yamllint")
        if not yl:
            self.skipTest("yamllint missing (scripts/install-deps.sh installs it)")
        files = []
        for base in (INFRA, PKG_DIR):
            for d, dirs, names in os.walk(base):
                # fuzz corpora are malformed on purpose
                dirs[:] = [x for x in dirs if x not in ("node_modules", "corpus")]
                files += [os.path.join(d, f) for f in names if f.endswith((".yaml", ".yml"))]
        self.assertGreaterEqual(len(files), 9, files)
        # The repository's .yamllint is the configuration (found from cwd).
        r = subprocess.run([yl, "-s", "-f", "parsable", *sorted(files)], capture_output=True,
                           text=True, cwd=REPO)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)

    def test_yamllint_catches_mistakes(self):
        yl = shutil.which("yamllint")
        if not yl:
            self.skipTest("yamllint missing (scripts/install-deps.sh installs it)")
        with tempfile.TemporaryDirectory() as tmp:
            bad = os.path.join(tmp, "bad.yaml")
            with open(bad, "w") as f:
                f.write("a: 1\na: 2\nb:   [1,2]\n")  # duplicate key, bad spacing
            r = subprocess.run([yl, "-c", os.path.join(REPO, ".yamllint"), "-f", "parsable", bad],
                               capture_output=True, text=True)
            self.assertNotEqual(r.returncode, 0)
            self.assertIn("key-duplicates", r.stdout)

    def test_scripts_strict_executable_and_help(self):
        for s in all_scripts():
            with self.subTest(script=os.path.relpath(s, REPO)):
                text = read(s)
                if os.path.basename(s) == "lib.sh":
                    continue
                self.assertIn("set -euo pipefail", text)
                self.assertTrue(os.stat(s).st_mode & stat.S_IXUSR, "not executable")
                r = subprocess.run(["bash", s, "--help"], capture_output=True, text=True,
                                   timeout=30, stdin=subprocess.DEVNULL)
                self.assertEqual(r.returncode, 0, r.stderr)
                self.assertIn("Usage:", r.stdout)

    def test_terraform_references(self):
        r = node("tf_check.js", TF_NET, TF_FP)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertEqual(r.stdout.count("\nok ") + r.stdout.startswith("ok "), 2, r.stdout)

    def test_terraform_checker_catches_mistakes(self):
        with tempfile.TemporaryDirectory() as d:
            with open(os.path.join(d, "main.tf"), "w") as f:
                f.write('''terraform {
  required_providers {
    aws = { source = "hashicorp/aws", version = "~> 5.0" }
  }
}
locals { x = var.undeclared }
resource "aws_s3_bucket" "b" { bucket = "${local.x}-${local.nope}" }
data "aws_iam_policy_document" "d" {
  statement {
    actions   = ["s3:GetObject"]
    resources = ["*"]
  }
}
resource "aws_iam_policy" "p" {
  name   = aws_s3_bucket.missing.id
  policy = data.aws_iam_policy_document.nope.json
}
''')
            r = node("tf_check.js", d)
            self.assertEqual(r.returncode, 1, r.stdout)
            for want in ("var.undeclared is not declared", "local.nope is not defined",
                         "resource aws_s3_bucket.missing is not declared",
                         "data.aws_iam_policy_document.nope is not declared",
                         'S3 actions ["s3:GetObject"] on resource "*"'):
                self.assertIn(want, r.stdout)
            with open(os.path.join(d, "bad.tf"), "w") as f:
                f.write('resource "aws_vpc" "v" { cidr_block = "x"\n')
            self.assertIn("HCL parse error", node("tf_check.js", d).stdout)

    def test_terraform_terraform_fmt(self):
        tf = shutil.which("terraform")
        if not tf:
            self.skipTest("terraform not installed (optional: fmt check)")
        r = subprocess.run([tf, "fmt", "-check", "-recursive", INFRA], capture_output=True,
                           text=True)
        self.assertEqual(r.returncode, 0, "terraform fmt would change: " + r.stdout)

    def test_foundation_network_contract(self):
        main = hcl(os.path.join(TF_NET, "main.tf"))
        var = hcl(os.path.join(TF_NET, "variables.tf"))["variable"]
        self.assertEqual(var["prefix"][0]["default"], "etl-platform")
        res = main["resource"]
        self.assertEqual(res["aws_vpc"]["this"][0]["tags"]["Name"], "${var.prefix}-vpc")
        self.assertTrue(res["aws_subnet"]["private"][0]["tags"]["Name"].startswith(
            "${var.prefix}-private-"))
        for t in ("aws_internet_gateway", "aws_nat_gateway", "aws_route_table",
                  "aws_route_table_association", "aws_eip"):
            self.assertIn(t, res)
        self.assertEqual(res["aws_subnet"]["public"][0]["count"], "${var.az_count}")

    def test_file_processing_contract(self):
        tf = {}
        for f in sorted(os.listdir(TF_FP)):
            if f.endswith(".tf"):
                for k, v in hcl(os.path.join(TF_FP, f)).items():
                    if isinstance(v, dict):
                        for t, body in v.items():
                            tf.setdefault(k, {}).setdefault(t, {}).update(
                                body if k in ("resource", "data") else {"_": body})
                    else:
                        tf.setdefault(k, []).extend(v)
        res, data = tf["resource"], tf["data"]
        variables = tf["variable"]
        self.assertTrue(os.path.exists(os.path.join(TF_FP, "irsa.tf")))
        for v in ("vpc_id", "create_s3_notifications", "bucket_name", "sns_endpoint_url",
                  "oidc_thumbprint", "image", "region", "aws_profile"):
            self.assertIn(v, variables)
        self.assertIn("aws_partition", data)
        # VPC by tag, or vpc_id
        vpc = data["aws_vpc"]["selected"][0]
        self.assertIn("var.vpc_id", vpc["id"])
        self.assertIn("${var.prefix}-vpc", json.dumps(vpc["tags"]))
        for t in ("aws_eks_cluster", "aws_eks_node_group", "aws_sns_topic",
                  "aws_sns_topic_policy", "aws_s3_bucket_notification", "aws_sqs_queue",
                  "aws_iam_openid_connect_provider", "kubernetes_namespace_v1",
                  "kubernetes_service_account_v1", "kubernetes_config_map_v1",
                  "kubernetes_deployment_v1", "kubernetes_service_v1"):
            self.assertIn(t, res)
        self.assertIn("var.create_s3_notifications", res["aws_s3_bucket_notification"]["to_sns"][0]["count"])
        self.assertIn("var.sns_endpoint_url", res["aws_sns_topic_subscription"]["http"][0]["count"])
        self.assertEqual(res["aws_sns_topic_subscription"]["sqs"][0]["protocol"], "sqs")
        self.assertIn("deadLetterTargetArn", res["aws_sqs_queue"]["events"][0]["redrive_policy"])
        oidc = res["aws_iam_openid_connect_provider"]["eks"][0]
        self.assertIn("var.oidc_thumbprint", json.dumps(oidc["thumbprint_list"]))
        sa = res["kubernetes_service_account_v1"]["this"][0]["metadata"][0]
        self.assertEqual(sa["annotations"]["eks.amazonaws.com/role-arn"], "${aws_iam_role.service.arn}")
        # S3 policy scoped to the bucket and prefix
        stmts = data["aws_iam_policy_document"]["service"][0]["statement"]
        s3 = [s for s in stmts if any(a.startswith("s3:") for a in s["actions"])]
        self.assertTrue(s3)
        for s in s3:
            for r in s["resources"]:
                self.assertRegex(r, r"local\.(bucket_arn|read_objects|write_objects)", s)
        locs = {}
        for block in tf["locals"]:
            locs.update(block)
        self.assertEqual(locs["read_objects"], "${local.bucket_arn}/${var.s3_prefix}*")
        self.assertEqual(locs["bucket_arn"], "arn:${local.partition}:s3:::${var.bucket_name}")
        # the listener Deployment
        dep = res["kubernetes_deployment_v1"]["listener"][0]
        self.assertEqual(dep["metadata"][0]["name"], "file-processing-sns")
        pod = dep["spec"][0]["template"][0]["spec"][0]
        c = pod["container"][0]
        self.assertEqual(c["liveness_probe"][0]["http_get"][0]["path"], "/healthz")
        self.assertEqual(c["readiness_probe"][0]["http_get"][0]["path"], "/readyz")
        self.assertIn("requests", c["resources"][0])
        self.assertTrue(c["security_context"][0]["read_only_root_filesystem"])
        self.assertTrue(pod["security_context"][0]["run_as_non_root"])
        self.assertIn("/tmp", [m["mount_path"] for m in c["volume_mount"]])
        self.assertEqual(res["kubernetes_service_v1"]["listener"][0]["spec"][0]["type"], "LoadBalancer")
        worker = res["kubernetes_deployment_v1"]["sqs_worker"][0]
        wc = worker["spec"][0]["template"][0]["spec"][0]["container"][0]
        self.assertEqual(wc["args"][:2], ["worker", "--sqs-queue-url"])

    def test_no_hardcoded_partition(self):
        for d in (TF_FP, TF_NET):
            for f in os.listdir(d):
                if f.endswith(".tf"):
                    text = read(os.path.join(d, f))
                    self.assertNotRegex(text, r'"arn:aws:', f)

    def test_tfvars_examples(self):
        for d in (TF_FP, TF_NET):
            ex = hcl(os.path.join(d, "terraform.tfvars.example"))
            declared = {}
            for f in os.listdir(d):
                if f.endswith(".tf"):
                    declared.update(hcl(os.path.join(d, f)).get("variable", {}))
            self.assertEqual(ex.get("aws_profile"), "etl-playground")
            self.assertEqual(ex.get("region"), "us-gov-west-1")
            for k in ex:
                self.assertIn(k, declared, "%s sets undeclared variable %s" % (d, k))
            for k, v in declared.items():
                if "default" not in v[0]:
                    self.assertIn(k, ex, "required variable %s missing from the example" % k)
        img = read(os.path.join(TF_FP, "container_image.txt")).strip()
        self.assertRegex(img, r"^[\w.-]+(:\d+)?/[\w./-]+:[\w.-]+$")

    def test_k8s_manifests_validate(self):
        files = sorted(os.path.join(K8S, f) for f in os.listdir(K8S) if f.endswith(".yaml"))
        self.assertGreaterEqual(len(files), 5)
        r = node("k8s_check.js", *files)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)

    def test_k8s_checker_catches_mistakes(self):
        with tempfile.NamedTemporaryFile("w", suffix=".yaml") as f:
            f.write("""apiVersion: apps/v1
kind: Deployment
metadata: {name: x}
spec:
  selector: {matchLabels: {a: b}}
  template:
    metadata: {labels: {a: b}}
    spec:
      containers:
        - {name: c, image: i, readinessprobe: {}}
---
apiVersion: batch/v1
kind: Job
metadata: {name: j}
spec:
  podFailurePolicy: {rules: [{action: Explode, onExitCodes: {operator: In, values: [1]}}]}
  template: {spec: {restartPolicy: Never, containers: [{name: c, image: i}]}}
""")
            f.flush()
            r = node("k8s_check.js", f.name)
        self.assertEqual(r.returncode, 1)
        self.assertIn("readinessprobe: unknown field", r.stdout)
        self.assertIn("action must be equal to one of the allowed values", r.stdout)

    def test_k8s_job_contract(self):
        (job,) = yaml_docs(os.path.join(K8S, "job-s3-data-quality.yaml"))
        spec = job["spec"]
        pod = spec["template"]["spec"]
        self.assertEqual(pod["restartPolicy"], "Never")
        rules = {}
        for rule in spec["podFailurePolicy"]["rules"]:
            if "onExitCodes" in rule:
                for code in rule["onExitCodes"]["values"]:
                    rules[code] = rule["action"]
        self.assertEqual(rules, {1: "FailJob", 2: "FailJob", 3: "Count"})
        self.assertGreater(spec["backoffLimit"], 0)
        c = pod["containers"][0]
        argv = c["command"] + c["args"]
        self.assertEqual(argv[:3], ["file-processing", "run", "s3_data_quality_job"])
        ev = json.loads(argv[argv.index("--event-json") + 1])
        self.assertIn("key", ev["Records"][0]["s3"]["object"])
        self.assertTrue(c["securityContext"]["readOnlyRootFilesystem"])

    def test_k8s_listener_contract(self):
        (dep,) = yaml_docs(os.path.join(K8S, "deployment-file-processing-sns.yaml"))
        (svc,) = yaml_docs(os.path.join(K8S, "service-file-processing-sns.yaml"))
        (sa,) = yaml_docs(os.path.join(K8S, "serviceaccount.yaml"))
        (cm,) = yaml_docs(os.path.join(K8S, "configmap.yaml"))
        (sec,) = yaml_docs(os.path.join(K8S, "secret-database-url.template.yaml"))
        self.assertEqual(dep["metadata"]["name"], "file-processing-sns")
        pod = dep["spec"]["template"]["spec"]
        c = pod["containers"][0]
        self.assertEqual(c["livenessProbe"]["httpGet"]["path"], "/healthz")
        self.assertEqual(c["readinessProbe"]["httpGet"]["path"], "/readyz")
        self.assertTrue(pod["securityContext"]["runAsNonRoot"])
        self.assertTrue(c["securityContext"]["readOnlyRootFilesystem"])
        vols = {v["name"]: v for v in pod["volumes"]}
        mounts = {m["mountPath"]: m["name"] for m in c["volumeMounts"]}
        self.assertIn("emptyDir", vols[mounts["/tmp"]])
        self.assertEqual(pod["serviceAccountName"], sa["metadata"]["name"])
        self.assertIn("eks.amazonaws.com/role-arn", sa["metadata"]["annotations"])
        self.assertEqual(svc["spec"]["type"], "LoadBalancer")
        self.assertEqual(svc["spec"]["selector"], dep["spec"]["selector"]["matchLabels"])
        self.assertEqual(svc["spec"]["ports"][0]["targetPort"], c["ports"][0]["name"])
        refs = [e.get("configMapRef", e.get("secretRef"))["name"] for e in c["envFrom"]]
        self.assertEqual(refs, [cm["metadata"]["name"], sec["metadata"]["name"]])
        self.assertIn("DATABASE_URL", sec["stringData"])
        img = read(os.path.join(TF_FP, "container_image.txt")).strip()
        self.assertEqual(c["image"], img)
        # every setting in the ConfigMap is one the program documents
        helptext = "".join(subprocess.run([BIN, cmd, "--help"], capture_output=True, text=True).stdout
                           for cmd in ("serve", "run", "worker")) if os.path.exists(BIN) else ""
        if helptext:
            for k in cm["data"]:
                self.assertIn(k, helptext, "ConfigMap key %s is not a documented setting" % k)

    def test_readme_deploying_paths_exist(self):
        text = read(os.path.join(REPO, "README.md"))
        self.assertIn("\n## Deploying\n", text)
        section = text.split("\n## Deploying\n", 1)[1].split("\n## ", 1)[0]
        paths = set(re.findall(r"\b((?:infra|packages)/[\w./-]*[\w])", section))
        self.assertGreater(len(paths), 15)
        for p in paths:
            if p.endswith("terraform.tfvars"):
                continue  # made by the operator from terraform.tfvars.example
            self.assertTrue(os.path.exists(os.path.join(REPO, p)), "README names missing " + p)
        for cmd in re.findall(r"^(infra/\S+\.sh) (\S+)", section, re.M):
            if cmd[0].endswith("manage.sh"):
                self.assertIn(cmd[1], read(os.path.join(REPO, cmd[0])), cmd)

    def test_compose(self):
        (doc,) = yaml_docs(os.path.join(INFRA, "local", "docker-compose.yml"))
        svcs = doc["services"]
        self.assertIn("localstack", svcs["localstack"]["image"])
        self.assertRegex(svcs["postgres"]["image"], r"^postgres:15")
        self.assertIn("127.0.0.1:4566:4566", svcs["localstack"]["ports"])
        for s in svcs.values():
            self.assertIn("healthcheck", s)

    def test_dockerfile(self):
        r = subprocess.run([NODE, os.path.join(NODE_MODULES, "dockerfilelint", "bin", "dockerfilelint"),
                            DOCKERFILE], capture_output=True, text=True)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        text = read(DOCKERFILE)
        self.assertEqual(re.findall(r"^FROM (\S+)", text, re.M), ["debian:bookworm-slim"] * 2)
        build, runtime = text.split("\nFROM ", 2)[1:]
        self.assertIn("-DCMAKE_BUILD_TYPE=Release", build)
        # the build stage has every -dev package the programs build with; the tests' own
        # (cmocka, the fuzzing runtime) stay out since the image builds without tests
        self.assertIn("-DFP_BUILD_TESTS=OFF", build)
        deps = read(os.path.join(REPO, "scripts", "install-deps.sh"))
        test_only = {"libcmocka-dev", "libclang-rt-14-dev"}
        for dev in re.findall(r"\b(lib[\w.+-]+-dev)\b", deps):
            if dev in test_only:
                self.assertNotIn(dev, build)
            else:
                self.assertIn(dev, build)
        self.assertNotRegex(runtime, r"-dev\b")
        for lib in ("libcurl4", "libssl3", "libmicrohttpd12", "libjansson4", "libyaml-0-2",
                    "libpcre2-8-0", "libxxhash0", "libsqlite3-0", "libpq5", "zlib1g",
                    "libzstd1", "ca-certificates"):
            self.assertIn(lib, runtime)
        self.assertRegex(runtime, r"\nUSER (?!root|0\b)\S+")
        self.assertIn("EXPOSE 8080", runtime)
        self.assertIn("HEALTHCHECK", runtime)
        self.assertIn("FP_CONTRACTS_DIR=", runtime)
        self.assertIn("/usr/local/bin/", runtime)
        self.assertRegex(runtime, r'\nCMD \["file-processing-sns"\]')
        ign = read(os.path.join(REPO, ".dockerignore"))
        self.assertIn("!packages/file_processing/", ign)


STUB = r"""#!/usr/bin/env bash
# stub: record the call (tool, then args, tab-separated), answer like the real tool would.
# (newlines inside an argument become spaces, so that one call stays one line)
{ printf '%s' "$(basename "$0")"; printf '\t%s' "${@//$'\n'/ }"; printf '\n'; } >>"$STUB_LOG"
tool="$(basename "$0")"
case "$tool $*" in
  "aws "*"sts get-caller-identity"*)
    [ "${STUB_AWS_NO_CREDS:-0}" = 1 ] && { echo "Unable to locate credentials" >&2; exit 255; }
    echo 123456789012 ;;
  "aws "*"ecr describe-repositories"*) exit 254 ;;
  "aws "*"s3api head-bucket"*) exit 254 ;;
  "aws "*"ecr get-login-password"*) echo stub-password ;;
  "aws "*"sns create-topic"*) echo "arn:aws:sns:us-east-1:000000000000:${*: -5:1}" ;;
  "aws "*"sns publish"*) echo 11111111-2222-3333-4444-555555555555 ;;
  "terraform "*"state list"*) [ -n "${STUB_TF_STATE:-}" ] && echo "$STUB_TF_STATE" ;;
  "terraform "*"output -raw cluster_name"*) echo etl-platform-file-processing ;;
  "docker "*"login"*) cat >/dev/null ;;
  "curl "*) exit "${STUB_CURL_RC:-7}" ;;
esac
exit 0
"""


class ScriptBehaviour(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="fp-infra-")
        self.stubs = os.path.join(self.tmp, "bin")
        os.makedirs(self.stubs)
        for tool in ("aws", "terraform", "kubectl", "docker", "curl"):
            p = os.path.join(self.stubs, tool)
            with open(p, "w") as f:
                f.write(STUB)
            os.chmod(p, 0o755)
        # a copy of infra/ and the Dockerfile: scripts write container_image.txt
        self.root = os.path.join(self.tmp, "repo")
        shutil.copytree(INFRA, os.path.join(self.root, "infra"))
        os.makedirs(os.path.join(self.root, "packages", "file_processing"))
        shutil.copy(DOCKERFILE, os.path.join(self.root, "packages", "file_processing"))
        self.log = os.path.join(self.tmp, "calls.log")

    def tearDown(self):
        shutil.rmtree(self.tmp, ignore_errors=True)

    def run_script(self, rel, *args, env=None, without=()):
        for tool in without:
            os.unlink(os.path.join(self.stubs, tool))
        e = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "FP_", "TF_"))}
        e.update(PATH=self.stubs + ":/usr/bin:/bin", STUB_LOG=self.log, HOME=self.tmp)
        e.update(env or {})
        r = subprocess.run(["bash", os.path.join(self.root, rel), *args], capture_output=True,
                           text=True, env=e, timeout=60, stdin=subprocess.DEVNULL)
        return r

    def calls(self, tool=None):
        if not os.path.exists(self.log):
            return []
        out = [line.split("\t") for line in read(self.log).splitlines()]
        return [c for c in out if tool is None or c[0] == tool]

    def test_update_image_pushes_then_applies_that_uri(self):
        r = self.run_script("infra/file_processing/scripts/manage.sh", "update-image", "v1.2.3",
                            "--auto-approve")
        self.assertEqual(r.returncode, 0, r.stderr)
        uri = "123456789012.dkr.ecr.us-gov-west-1.amazonaws.com/file-processing:v1.2.3"
        img_file = os.path.join(self.root, "infra/file_processing/terraform/container_image.txt")
        self.assertEqual(read(img_file).strip(), uri)
        seq = [c for c in self.calls() if c[0] in ("docker", "terraform")]
        tf_dir = os.path.join(self.root, "infra/file_processing/terraform")
        self.assertEqual(seq[0][:5], ["docker", "build", "-f",
                                      os.path.join(self.root, "packages/file_processing/file-processing.Dockerfile"),
                                      "-t"])
        self.assertEqual(seq[1][:2], ["docker", "login"])
        self.assertEqual(seq[2], ["docker", "tag", "file-processing:local", uri])
        self.assertEqual(seq[3], ["docker", "push", uri])
        self.assertEqual(seq[4], ["terraform", "-chdir=" + tf_dir, "apply", "-input=false",
                                  "-auto-approve", "-var", "image=" + uri])
        aws = [c for c in self.calls("aws")]
        self.assertTrue(any("create-repository" in c for c in aws))
        for c in aws:
            self.assertEqual(c[1:5], ["--profile", "etl-playground", "--region", "us-gov-west-1"])

    def test_apply_creates_cluster_first_then_everything(self):
        r = self.run_script("infra/file_processing/scripts/manage.sh", "apply")
        self.assertEqual(r.returncode, 0, r.stderr)
        applies = [c for c in self.calls("terraform") if "apply" in c]
        self.assertEqual(len(applies), 2)
        self.assertIn("-target=aws_eks_cluster.this", applies[0])
        self.assertFalse(any(a.startswith("-target") for a in applies[1]))
        open(self.log, "w").close()
        r = self.run_script("infra/file_processing/scripts/manage.sh", "apply",
                            env={"STUB_TF_STATE": "aws_eks_cluster.this"})
        self.assertEqual(len([c for c in self.calls("terraform") if "apply" in c]), 1)

    def test_tfvars_used_when_present(self):
        open(os.path.join(self.root, "infra/file_processing/terraform/terraform.tfvars"), "w").close()
        r = self.run_script("infra/file_processing/scripts/manage.sh", "plan")
        self.assertEqual(r.returncode, 0, r.stderr)
        (plan,) = [c for c in self.calls("terraform") if "plan" in c]
        self.assertIn("-var-file=terraform.tfvars", plan)

    def test_missing_tools_and_credentials_fail_fast(self):
        r = self.run_script("infra/file_processing/scripts/manage.sh", "plan",
                            env={"STUB_AWS_NO_CREDS": "1"})
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("AWS credentials are missing", r.stderr)
        self.assertFalse([c for c in self.calls("terraform") if "plan" in c])
        if not shutil.which("terraform", path="/usr/bin:/bin"):
            r = self.run_script("infra/foundation_network/scripts/manage.sh", "init",
                                without=("terraform",))
            self.assertNotEqual(r.returncode, 0)
            self.assertIn("'terraform' is required but was not found", r.stderr)
        if not shutil.which("docker", path="/usr/bin:/bin"):
            r = self.run_script("infra/file_processing/scripts/ecr_put.sh", without=("docker",))
            self.assertNotEqual(r.returncode, 0)
            self.assertIn("'docker' is required", r.stderr)
        r = self.run_script("infra/file_processing/scripts/manage.sh", "bogus")
        self.assertEqual(r.returncode, 2)

    def test_foundation_network_and_legacy_wrapper(self):
        r = self.run_script("infra/foundation_network/scripts/manage.sh", "apply", "--auto-approve")
        self.assertEqual(r.returncode, 0, r.stderr)
        tf = self.calls("terraform")
        self.assertEqual(tf[-1], ["terraform", "-chdir=" + os.path.join(
            self.root, "infra/foundation_network/terraform"), "apply", "-input=false", "-auto-approve"])
        open(self.log, "w").close()
        r = self.run_script("infra/file_processing/scripts/manage_cluster.sh", "kubeconfig")
        self.assertEqual(r.returncode, 0, r.stderr)
        aws = self.calls("aws")[-1]
        self.assertEqual(aws[-4:], ["eks", "update-kubeconfig", "--name", "etl-platform-file-processing"])
        self.assertEqual(self.calls("kubectl")[-1], ["kubectl", "get", "nodes"])

    def test_notifications_policy_subscription(self):
        topic = "arn:aws-us-gov:sns:us-gov-west-1:123456789012:t"
        r = self.run_script("infra/file_processing/scripts/sns_set_topic_policy.sh", topic, "bkt")
        self.assertEqual(r.returncode, 0, r.stderr)
        c = self.calls("aws")[-1]
        pol = json.loads(c[c.index("--attribute-value") + 1])
        s3 = [s for s in pol["Statement"] if s["Principal"].get("Service") == "s3.amazonaws.com"][0]
        self.assertEqual(s3["Condition"]["ArnLike"]["aws:SourceArn"], "arn:aws-us-gov:s3:::bkt")
        self.assertEqual(s3["Resource"], topic)
        r = self.run_script("infra/file_processing/scripts/s3_configure_notifications.sh", "bkt",
                            topic, "--suffix", ".csv")
        self.assertEqual(r.returncode, 0, r.stderr)
        c = self.calls("aws")[-1]
        cfg = json.loads(c[c.index("--notification-configuration") + 1])
        tc = cfg["TopicConfigurations"][0]
        self.assertEqual(tc["TopicArn"], topic)
        self.assertEqual(tc["Filter"]["Key"]["FilterRules"],
                         [{"Name": "prefix", "Value": "from_client/"}, {"Name": "suffix", "Value": ".csv"}])
        for ep, proto in (("https://x.example/", "https"), ("http://h:1/", "http"),
                          ("arn:aws-us-gov:sqs:us-gov-west-1:123456789012:q", "sqs")):
            r = self.run_script("infra/file_processing/scripts/sns_subscribe.sh", topic, ep)
            self.assertEqual(r.returncode, 0, r.stderr)
            c = self.calls("aws")[-1]
            self.assertEqual(c[c.index("--protocol") + 1], proto)
            self.assertEqual(c[c.index("--notification-endpoint") + 1], ep)
        r = self.run_script("infra/file_processing/scripts/sns_subscribe.sh", topic, "ftp://x")
        self.assertEqual(r.returncode, 2)
        r = self.run_script("infra/file_processing/scripts/sns_test_topic.sh", topic, "bkt", "a b/c.csv")
        self.assertEqual(r.returncode, 0, r.stderr)
        c = self.calls("aws")[-1]
        msg = json.loads(c[c.index("--message") + 1])
        self.assertEqual(msg["Records"][0]["s3"]["object"]["key"], "a b/c.csv")

    def test_setup_localstack(self):
        r = self.run_script("infra/local/scripts/setup_localstack.sh", "client-a", "host.docker.internal", "9999")
        self.assertEqual(r.returncode, 0, r.stderr)
        aws = self.calls("aws")
        for c in aws:
            self.assertIn("--endpoint-url", c)
            self.assertEqual(c[c.index("--endpoint-url") + 1], "http://localhost:4566")
            self.assertNotIn("--no-verify-ssl", c)
            self.assertNotIn("--profile", c)
        flat = [" ".join(c) for c in aws]
        self.assertTrue(any("create-bucket --bucket etl-client-a-client-etl" in c for c in flat))
        self.assertTrue(any("create-topic --name client-a-topic" in c for c in flat))
        self.assertTrue(any("put-bucket-notification-configuration --bucket etl-client-a-client-etl" in c for c in flat))
        sub = [c for c in aws if "subscribe" in c][0]
        self.assertEqual(sub[sub.index("--notification-endpoint") + 1], "http://host.docker.internal:9999/")
        self.assertEqual(sub[sub.index("--protocol") + 1], "http")
        # https auto-detection: LocalStack answers on https -> --no-verify-ssl everywhere
        open(self.log, "w").close()
        r = self.run_script("infra/data_pipeline/setup_localstack.sh", env={"STUB_CURL_RC": "0"})
        self.assertEqual(r.returncode, 0, r.stderr)
        aws = self.calls("aws")
        for c in aws:
            self.assertEqual(c[c.index("--endpoint-url") + 1], "https://localhost:4566")
            self.assertIn("--no-verify-ssl", c)
        self.assertTrue(any("etl-data-pipeline-client-etl" in c for c in aws))
        # the file_processing wrapper's defaults
        open(self.log, "w").close()
        r = self.run_script("infra/file_processing/scripts/setup_localstack.sh")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertTrue(any("file-processing-topic" in c for c in self.calls("aws")))
        r = self.run_script("infra/local/scripts/setup_localstack.sh", "Bad_Name", "h", "1")
        self.assertEqual(r.returncode, 2)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class ProbeRealListener(unittest.TestCase):
    def test_probe_against_listener(self):
        if not os.path.exists(BIN) or not shutil.which("curl"):
            self.skipTest("needs the built binary and curl")
        tmp = tempfile.mkdtemp(prefix="fp-probe-")
        port = free_port()
        env = {k: v for k, v in os.environ.items() if not k.startswith(("FP_", "AWS_"))}
        env.update(FP_SNS_VERIFY="0", LOCAL_S3_ROOT=os.path.join(PKG_DIR, "data"),
                   DATABASE_URL="sqlite:///" + os.path.join(tmp, "r.db"))
        p = subprocess.Popen([os.path.abspath(BIN), "serve", "--bind", "127.0.0.1", "--port", str(port),
                              "--workers", "1"], env=env, cwd=tmp, stdout=subprocess.DEVNULL,
                             stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL)
        try:
            deadline = time.monotonic() + 20
            while time.monotonic() < deadline:
                try:
                    socket.create_connection(("127.0.0.1", port), 0.2).close()
                    break
                except OSError:
                    time.sleep(0.1)
            r = subprocess.run(["bash", os.path.join(FP_SCRIPTS, "sns_probe_listener.sh"),
                                "http://127.0.0.1:%d/" % port, "--notify", "demo-bucket",
                                "from_client/nm_albuquerque/Officer_Detail.csv"],
                               capture_output=True, text=True, timeout=60)
            self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
            self.assertEqual(r.stdout.count("ok "), 5, r.stdout)
        finally:
            p.terminate()
            p.wait(timeout=40)
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    NODE_MODULES, why = ensure_node_modules()
    if NODE_MODULES is None:
        print("SKIP test_infra: %s" % why)
        sys.exit(77)
    unittest.main(verbosity=2)
