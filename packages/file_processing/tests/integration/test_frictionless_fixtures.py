#!/usr/bin/env python3
"""Frictionless conformance: every case of ../shared/conformance/frictionless/fixtures.tsv
that applies to a single CSV must give exactly the asserted findings.

Each case runs `file-processing profile DATA --contract C --report -` (no contract for
"(inferred)" schemas: the structural checks come from the profiler) and the report's
findings are compared with the case's rows on the columns the frictionless-py test
asserted: (type, rowNumber, fieldNumber[, fieldName]) or just the type when the test
asserted (type, note). Validation options are emulated where they only select or cut the
error list (pick_errors, skip_errors, limit_errors: report order header first, then row by
row), or map onto contract features (resource.rows -> checks.rows on a drafted contract,
schema_sync -> fieldsMatch: partial, dialect.header=false -> --no-header). `duplicate-row`
is reported by the profiler as a warning on every file; Frictionless only with
checks=[duplicate-row], so it is compared for that case only.

Cases using what we deliberately do not support are skipped by name with the reason, and
must be listed in docs/contracts.md ("Frictionless fixtures we do not support").

Environment: FP_BIN (the binary), FP_CONFORMANCE_DIR (../shared/conformance; absent ->
skip with exit code 77), FP_PKG_DIR (for docs/contracts.md)."""
import csv
import json
import os
import shutil
import subprocess
import sys
import tempfile

SKIP = 77

# case -> why we do not support it (mirrored in docs/contracts.md)
UNSUPPORTED = {
    "hash-count": "resource.hash: checking a declared file hash is not a contract feature",
    "byte-count": "resource.bytes: checking a declared byte count is not a contract feature",
    "missing-file": "a missing local file is a usage error (exit 2, 'not found'), not a "
                    "scheme-error finding in a report",
    "foreign-key-self-reference": "foreignKeys are not supported (the loader refuses them)",
    "package-blank-row-primary-key": "data packages (several resources, foreign keys between "
                                     "them) are out of scope: one contract validates one CSV",
    "header-case-insensitive-valid": "dialect.header_case=false (case-insensitive label "
                                     "matching) is not supported: labels match field names "
                                     "exactly",
    "check-ascii-value": "custom check ascii-value is not implemented",
    "check-forbidden-value": "custom check forbidden-value is not implemented (use a "
                             "pattern or enum constraint)",
    "check-deviated-cell": "custom check deviated-cell is not implemented",
    "check-deviated-value": "custom check deviated-value is not implemented",
    "check-required-value": "custom check required-value is not implemented",
    "check-row-constraint": "custom check row-constraint (formulas) is not implemented",
    "check-sequential-value": "custom check sequential-value is not implemented",
    "check-truncated-value": "custom check truncated-value is not implemented",
    "check-table-dimensions-numrows42": "custom check table-dimensions is not implemented "
                                        "(checks.rows gives row-count instead)",
    "check-table-dimensions-minrows42": "custom check table-dimensions is not implemented",
    "check-table-dimensions-maxrows2": "custom check table-dimensions is not implemented",
    "check-table-dimensions-numfields42": "custom check table-dimensions is not implemented",
    "check-table-dimensions-minfields42": "custom check table-dimensions is not implemented",
    "check-table-dimensions-maxfields2": "custom check table-dimensions is not implemented",
    "check-table-dimensions-numfields3-numrows2": "custom check table-dimensions is not "
                                                  "implemented",
    "check-table-dimensions-minfields5-maxrows2": "custom check table-dimensions is not "
                                                  "implemented",
    "check-table-dimensions-numfields4-numrows3": "custom check table-dimensions is not "
                                                  "implemented",
}

# options text (fixtures.tsv column) -> how we run the case
OPTIONS = {
    "": {},
    "limit_errors=3 (report.tasks[0].warnings == ['reached error limit: 3'])": {"limit": 3},
    "limit_errors=3 (warning 'reached error limit: 3')": {"limit": 3},
    "checklist.skip_errors=['#header']": {"skip": ["#header"]},
    "checklist.pick_errors=['#row']; limit_errors=3": {"pick": ["#row"], "limit": 3},
    "checklist.pick_errors=['constraint-error'] (last row also has a missing-cell)":
        {"pick": ["constraint-error"]},
    "dialect.header=false (fields inferred as field1,field2)": {"no_header": True},
    "encoding=utf-8 (file is latin-1)": {},  # we read UTF-8 and report invalid bytes
    "resource.rows=3": {"rows": 3},
    "checks=[duplicate-row]": {"duplicate_row": True},
    "detector.schema_sync=true (deprecated; resolves to fieldsMatch=partial); "
    "dialect.header_case=true": {"fields_match": "partial"},
    "schema.fieldsMatch=exact": {},
    "schema.fieldsMatch=equal": {},
    "schema.fieldsMatch=subset": {},
    "schema.fieldsMatch=superset": {},
    "schema.fieldsMatch=partial": {},
}

HEADER_CODES = {"blank-header", "blank-label", "duplicate-label", "extra-label", "missing-label",
                "incorrect-label", "unmatched-header"}
ROW_CODES = {"blank-row", "primary-key", "foreign-key", "duplicate-row", "row-constraint",
             "extra-cell", "missing-cell", "type-error", "constraint-error", "unique-error",
             "ascii-value", "deviated-value", "forbidden-value", "sequential-value",
             "truncated-value"}
TAGS = {"#header": HEADER_CODES, "#row": ROW_CODES}

# Order of errors inside one row in a Frictionless report: the row's cell errors by
# field, then extra and missing cells, then unique and primary-key errors.
ROW_RANK = {"blank-row": 0, "type-error": 1, "constraint-error": 1, "extra-cell": 2,
            "missing-cell": 3, "unique-error": 4, "primary-key": 5}


def load_cases(path):
    cases = {}
    with open(path, newline="", encoding="utf-8") as f:
        rows = csv.reader(f, delimiter="\t", quoting=csv.QUOTE_NONE)
        head = next(rows)
        for r in rows:
            d = dict(zip(head, r))
            c = cases.setdefault(d["case"], {"name": d["case"], "data": d["data_file"],
                                              "schema": d["schema_file"],
                                              "options": d["options"],
                                              "asserted": d["asserted_columns"].split(","),
                                              "expected": []})
            if d["type"] != "VALID":
                c["expected"].append(d)
    return list(cases.values())


def code_matches(code, selectors):
    return any(code in TAGS[s] if s.startswith("#") else code == s for s in selectors)


def fl_order(f):
    """Sort key putting our findings in Frictionless report order."""
    code, row, field = f["type"], f["row"], f["field"]
    if code in HEADER_CODES:
        return (0, 0, 0, field or 0)
    if row is None:
        return (2, 0, 0, 0)
    return (1, row, ROW_RANK.get(code, 6), field or 0)


def run(args, cwd, env):
    return subprocess.run(args, cwd=cwd, env=env, capture_output=True, timeout=120)


class Runner:
    def __init__(self, fp_bin, fx_dir):
        self.bin = fp_bin
        self.dir = fx_dir
        self.tmp = tempfile.mkdtemp(prefix="fp-frictionless-")
        # a clean environment: no FP_*/AWS_* settings and no .env from the caller's cwd
        self.env = {k: v for k, v in os.environ.items() if not k.startswith(("FP_", "AWS_"))}
        self.env["DATABASE_URL"] = "sqlite:///" + os.path.join(self.tmp, "results.db")
        self.env["LOCAL_S3_ROOT"] = self.tmp

    def close(self):
        shutil.rmtree(self.tmp, ignore_errors=True)

    def contract_for(self, case, opts, data):
        path = os.path.join(self.tmp, case["name"] + ".contract.json")
        if case["schema"] == "(inferred)":
            if "rows" not in opts:
                return None
            # resource.rows: the schema Frictionless infers, plus checks.rows
            p = run([self.bin, "infer", data, "--delimiter", ",", "--header"], self.tmp,
                    self.env)
            if p.returncode != 0:
                raise RuntimeError("infer failed: " + p.stderr.decode(errors="replace"))
            yaml = p.stdout.decode()
            yaml += "checks:\n  rows: {min: %d, max: %d}\n" % (opts["rows"], opts["rows"])
            path = os.path.join(self.tmp, case["name"] + ".contract.yaml")
            with open(path, "w", encoding="utf-8") as f:
                f.write(yaml)
            return path
        with open(os.path.join(self.dir, case["schema"]), encoding="utf-8") as f:
            schema = json.load(f)
        if "fields_match" in opts:
            schema["fieldsMatch"] = opts["fields_match"]
        with open(path, "w", encoding="utf-8") as f:
            json.dump({"name": case["name"].replace("-", "_"), "schema": schema}, f)
        return path

    def findings(self, case, opts):
        data = os.path.join(self.dir, case["data"])
        args = [self.bin, "profile", data, "--report", "-", "--quiet", "--sample-cap",
                "1000000", "--delimiter", ","]
        args.append("--no-header" if opts.get("no_header") else "--header")
        contract = self.contract_for(case, opts, data)
        if contract:
            args += ["--contract", contract]
        p = run(args, self.tmp, self.env)
        if p.returncode not in (0, 1):
            raise RuntimeError("exit %d: %s" % (p.returncode, p.stderr.decode(errors="replace")))
        report = json.loads(p.stdout)
        out = []
        for g in report["findings"]["groups"]:
            if len(g["samples"]) != g["count"]:
                raise RuntimeError("samples capped for %s" % g["code"])
            for s in g["samples"]:
                row = s.get("row")
                if g["code"] in HEADER_CODES or not row:
                    row = None  # Frictionless: header and table errors have no row number
                out.append({"type": g["code"], "row": row, "field": s.get("field") or None,
                            "name": g.get("field_name") or ""})
        return out


def select(found, opts):
    if not opts.get("duplicate_row"):
        found = [f for f in found if f["type"] != "duplicate-row"]
    if "pick" in opts:
        found = [f for f in found if code_matches(f["type"], opts["pick"])]
    if "skip" in opts:
        found = [f for f in found if not code_matches(f["type"], opts["skip"])]
    if "limit" in opts:
        found = sorted(found, key=fl_order)[: opts["limit"]]
    return found


def key_of(item, asserted):
    """The asserted columns of one finding (ours or expected) as a comparable tuple."""
    k = [item["type"]]
    if "rowNumber" in asserted:
        k.append(item["row"])
    if "fieldNumber" in asserted:
        k.append(item["field"])
    if "fieldName" in asserted:
        k.append(item["name"])
    return tuple(k)


def expected_items(case):
    out = []
    for d in case["expected"]:
        out.append({"type": d["type"], "row": int(d["row"]) if d["row"] else None,
                    "field": int(d["field"]) if d["field"] else None,
                    "name": d["field_name"]})
    return out


def check_docs(pkg_dir):
    """Every unsupported case is listed in docs/contracts.md; returns problems."""
    path = os.path.join(pkg_dir, "docs", "contracts.md")
    if not os.path.exists(path):
        return ["docs/contracts.md is missing"]
    with open(path, encoding="utf-8") as f:
        text = f.read()
    marker = "Frictionless fixtures we do not support"
    if marker not in text:
        return ["docs/contracts.md has no section '%s'" % marker]
    section = text[text.index(marker):]
    return ["docs/contracts.md does not list unsupported case '%s'" % c
            for c in sorted(UNSUPPORTED) if "`%s`" % c not in section]


def main():
    conf = os.environ.get("FP_CONFORMANCE_DIR", "")
    fx_dir = os.path.join(conf, "frictionless")
    if not conf or not os.path.isfile(os.path.join(fx_dir, "fixtures.tsv")):
        print("SKIP: FP_CONFORMANCE_DIR/frictionless is absent; Frictionless conformance skipped")
        return SKIP
    fp_bin = os.path.abspath(os.environ.get("FP_BIN", "build/file-processing"))
    runner = Runner(fp_bin, fx_dir)
    passed, skipped, failures = 0, 0, []
    try:
        for case in load_cases(os.path.join(fx_dir, "fixtures.tsv")):
            name = case["name"]
            if name in UNSUPPORTED:
                skipped += 1
                print("skip %s: %s" % (name, UNSUPPORTED[name]))
                continue
            if case["options"] not in OPTIONS:
                failures.append("%s: options not understood (support them or list the case as "
                                "unsupported): %s" % (name, case["options"]))
                continue
            opts = OPTIONS[case["options"]]
            try:
                found = select(runner.findings(case, opts), opts)
            except (RuntimeError, ValueError) as e:
                failures.append("%s: %s" % (name, e))
                continue
            asserted = case["asserted"]
            got = sorted((key_of(f, asserted) for f in found), key=repr)
            want = sorted((key_of(f, asserted) for f in expected_items(case)), key=repr)
            if got == want:
                passed += 1
                print("ok   %s" % name)
            else:
                failures.append("%s:\n    want %s\n    got  %s" % (name, want, got))
        pkg = os.environ.get("FP_PKG_DIR")
        if pkg:
            failures += check_docs(pkg)
    finally:
        runner.close()
    for f in failures:
        print("FAIL " + f)
    print("frictionless fixtures: %d passed, %d skipped (unsupported)%s"
          % (passed, skipped, ", %d FAILED" % len(failures) if failures else ""))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
