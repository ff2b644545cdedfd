#!/usr/bin/env python3
"""Integration test for fp-gen-officers, the deterministic Officer_Detail.csv generator.

CTest runs it with FP_GEN=<path to fp-gen-officers>. Python 3 stdlib only.
Checks: determinism, header, clean output (22 fields, unique ids, cents arithmetic, ISO
dates, minimal RFC 4180 quoting, LF line ends), each defect class at a high rate (every
defective record differs from the --clean record of the same slot by exactly one defect),
--bytes sizing, and argument errors (exit 2 with a message).
"""
import csv
import datetime
import io
import os
import re
import subprocess
import sys
import tempfile

COLUMNS = [
    "officer_id", "badge_number", "first_name", "last_name", "rank", "unit", "division",
    "hire_date", "separation_date", "birth_year", "sex", "race", "base_salary",
    "overtime_pay", "total_pay", "complaints_total", "complaints_sustained",
    "use_of_force_count", "email", "phone", "notes", "last_updated",
]
COL = {name: i for i, name in enumerate(COLUMNS)}
RANKS = {"Officer", "Senior Officer", "Detective", "Sergeant", "Lieutenant", "Captain",
         "Commander", "Deputy Chief", "Chief"}
DEFECT_CLASSES = ["missing-cell", "extra-cell", "blank-row", "duplicate-row", "bad-salary",
                  "us-date", "negative-overtime", "sustained-gt-total", "email-no-at",
                  "empty-officer-id", "duplicate-officer-id"]
MAX_RECORD = 2048  # no generated record is longer

MONEY = re.compile(r"-?\d+\.\d\d")
ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
US_DATE = re.compile(r"(\d{2})/(\d{2})/(\d{4})")
ISO_DATETIME = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z")
EMAIL = re.compile(r"[a-z-]+\.[a-z-]+\d?@cabq\.gov")
PHONE = re.compile(r"\(505\) 555-01\d\d")

FAILURES = []


def check(cond, msg):
    if not cond:
        FAILURES.append(msg)
    return cond


def gen_path():
    path = os.environ.get("FP_GEN")
    if not path:
        sys.exit("FAIL: FP_GEN is not set (CTest sets it to build/fp-gen-officers)")
    if not os.access(path, os.X_OK):
        sys.exit(f"FAIL: FP_GEN={path} is not an executable (build it first)")
    return path


GEN = gen_path()


def run(*args):
    p = subprocess.run([GEN, *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       timeout=300)
    return p.returncode, p.stdout, p.stderr.decode("utf-8", "replace")


def gen(*args):
    rc, out, err = run(*args)
    if rc != 0:
        sys.exit(f"FAIL: fp-gen-officers {' '.join(args)} exited {rc}: {err}")
    return out


def records(data):
    """All records after the header, parsed by Python's csv module (blank line -> [])."""
    text = data.decode("utf-8")
    rows = list(csv.reader(io.StringIO(text, newline=""), strict=True))
    return rows[0], rows[1:]


def cents(s):
    neg = s.startswith("-")
    whole, frac = s.lstrip("-").split(".")
    v = int(whole) * 100 + int(frac)
    return -v if neg else v


def iso_date(s):
    if not ISO_DATE.fullmatch(s):
        raise ValueError(s)
    return datetime.date.fromisoformat(s)


# ------------------------------------------------------------------------------------ tests

def test_determinism():
    a = gen("--rows", "3000", "--seed", "7", "--defects", "0.05")
    b = gen("--rows", "3000", "--seed", "7", "--defects", "0.05")
    c = gen("--rows", "3000", "--seed", "8", "--defects", "0.05")
    check(a == b, "same seed gave different bytes")
    check(a != c, "different seeds gave identical bytes")
    check(gen() == gen("--rows", "1000", "--seed", "42", "--defects", "0.002"),
          "defaults are not --rows 1000 --seed 42 --defects 0.002")
    check(gen("--rows", "500", "--defects", "0") == gen("--rows", "500", "--clean"),
          "--defects 0 differs from --clean")
    with tempfile.TemporaryDirectory() as d:
        path = os.path.join(d, "o.csv")
        rc, out, err = run("--rows", "3000", "--seed", "7", "--defects", "0.05", "-o", path)
        check(rc == 0 and out == b"", f"-o FILE: rc={rc} stdout={len(out)} bytes {err}")
        with open(path, "rb") as f:
            check(f.read() == a, "-o FILE content differs from stdout output")


def test_header():
    data = gen("--rows", "0")
    check(data == (",".join(COLUMNS) + "\n").encode(), f"unexpected header: {data!r}")


def check_clean_row(i, r, seen_ids):
    where = f"clean record {i + 1}"
    if not check(len(r) == 22, f"{where}: {len(r)} fields, want 22: {r}"):
        return
    v = dict(zip(COLUMNS, r))
    oid = v["officer_id"]
    check(oid.isdigit() and oid not in seen_ids, f"{where}: officer_id {oid!r} bad or repeated")
    seen_ids.add(oid)
    check(re.fullmatch(r"\d{4,5}", v["badge_number"]), f"{where}: badge {v['badge_number']!r}")
    check(v["rank"] in RANKS, f"{where}: rank {v['rank']!r}")
    check(v["sex"] in ("M", "F", "X"), f"{where}: sex {v['sex']!r}")
    for k in ("first_name", "last_name", "unit", "division", "race"):
        check(v[k] != "", f"{where}: empty {k}")
    try:
        hire = iso_date(v["hire_date"])
        check(datetime.date(1985, 1, 1) <= hire <= datetime.date(2026, 12, 31),
              f"{where}: hire_date {hire} out of range")
        if v["separation_date"]:
            check(iso_date(v["separation_date"]) > hire, f"{where}: separation before hire")
        by = int(v["birth_year"])
        check(1950 <= by <= 2003 and hire.year - by >= 21, f"{where}: birth_year {by}")
        check(ISO_DATETIME.fullmatch(v["last_updated"]) is not None,
              f"{where}: last_updated {v['last_updated']!r}")
        datetime.datetime.strptime(v["last_updated"], "%Y-%m-%dT%H:%M:%SZ")
    except ValueError as e:
        check(False, f"{where}: invalid date: {e}")
    money_ok = all(MONEY.fullmatch(v[k]) for k in ("base_salary", "overtime_pay", "total_pay"))
    if check(money_ok, f"{where}: money format {r[12:15]}"):
        base, ot, total = (cents(v[k]) for k in ("base_salary", "overtime_pay", "total_pay"))
        check(4500000 <= base <= 18000000, f"{where}: base_salary {base / 100}")
        check(0 <= ot <= 6000000, f"{where}: overtime_pay {ot / 100}")
        check(total == base + ot, f"{where}: total_pay {total} != {base} + {ot}")
    ints = [v[k] for k in ("complaints_total", "complaints_sustained", "use_of_force_count")]
    if check(all(x.isdigit() for x in ints), f"{where}: counts {ints}"):
        check(int(ints[1]) <= int(ints[0]), f"{where}: sustained {ints[1]} > total {ints[0]}")
    check(EMAIL.fullmatch(v["email"]) is not None, f"{where}: email {v['email']!r}")
    check(PHONE.fullmatch(v["phone"]) is not None, f"{where}: phone {v['phone']!r}")


def test_clean():
    n = 6000
    data = gen("--rows", str(n), "--seed", "11", "--clean")
    header, rows = records(data)
    check(header == COLUMNS, f"header {header}")
    check(len(rows) == n, f"--rows {n} gave {len(rows)} records")
    seen = set()
    for i, r in enumerate(rows):
        check_clean_row(i, r, seen)
        if len(FAILURES) > 20:
            return
    # Minimal quoting and LF line ends: csv.writer(QUOTE_MINIMAL) reproduces the bytes.
    out = io.StringIO(newline="")
    csv.writer(out, lineterminator="\n").writerows([header] + rows)
    check(out.getvalue().encode("utf-8") == data,
          "output is not minimal RFC 4180 quoting with LF record ends")
    notes = [r[COL["notes"]] for r in rows]
    empty = sum(1 for x in notes if x == "") / n
    check(0.6 < empty < 0.8, f"notes empty in {empty:.0%} of rows, want ~70%")
    for what, pred in (("a comma", lambda x: "," in x), ("a double quote", lambda x: '"' in x),
                       ("an LF", lambda x: "\n" in x.replace("\r\n", "")),
                       ("a CRLF", lambda x: "\r\n" in x)):
        check(any(pred(x) for x in notes), f"no notes field contains {what}")
    names = [r[COL["last_name"]] for r in rows] + [r[COL["first_name"]] for r in rows]
    for what, pred in (("an apostrophe", lambda x: "'" in x), ("a hyphen", lambda x: "-" in x),
                       ("non-ASCII", lambda x: not x.isascii())):
        check(any(pred(x) for x in names), f"no name contains {what}")
    seps = sum(1 for r in rows if r[COL["separation_date"]]) / n
    check(0.12 < seps < 0.28, f"separation_date set in {seps:.0%} of rows, want ~20%")


def classify(r, clean, prev, seen_ids):
    """Name the single defect that turns the clean record into r, or None."""
    if r == []:
        return "blank-row"
    if prev is not None and r == prev:
        return "duplicate-row"
    if len(r) == 21 and r == clean[:21]:
        return "missing-cell"
    if len(r) == 23 and r[:22] == clean and r[22] == "":
        return "extra-cell"
    if len(r) != 22:
        return None
    diff = {COLUMNS[i] for i in range(22) if r[i] != clean[i]}
    v = dict(zip(COLUMNS, r))
    if diff == {"officer_id"}:
        if v["officer_id"] == "":
            return "empty-officer-id"
        return "duplicate-officer-id" if v["officer_id"] in seen_ids else None
    if diff == {"base_salary"}:
        return None if MONEY.fullmatch(v["base_salary"]) else "bad-salary"
    if diff == {"hire_date"}:
        m = US_DATE.fullmatch(v["hire_date"])
        if m and f"{m[3]}-{m[1]}-{m[2]}" == clean[COL["hire_date"]]:
            return "us-date"
        return None
    if diff <= {"overtime_pay", "total_pay"} and v["overtime_pay"].startswith("-"):
        ok = cents(v["total_pay"]) == cents(v["base_salary"]) + cents(v["overtime_pay"])
        return "negative-overtime" if ok else None
    if diff == {"complaints_sustained"}:
        big = int(v["complaints_sustained"]) > int(v["complaints_total"])
        return "sustained-gt-total" if big else None
    if diff == {"email"}:
        return "email-no-at" if "@" not in v["email"] else None
    return None


def defect_counts(seed, n, rate):
    _, rows = records(gen("--rows", str(n), "--seed", seed, "--defects", rate))
    _, clean = records(gen("--rows", str(n), "--seed", seed, "--clean"))
    if not check(len(rows) == n, f"--defects {rate}: {len(rows)} records, want {n}"):
        return {}
    counts = {}
    prev, seen = None, set()
    for i, (r, c) in enumerate(zip(rows, clean)):
        if r != c:
            kind = classify(r, c, prev, seen)
            if not check(kind is not None, f"record {i + 1}: unexplained difference\n"
                                           f"  got   {r}\n  clean {c}"):
                return counts
            counts[kind] = counts.get(kind, 0) + 1
        if r:
            prev = r
            if len(r) >= 1 and r[0]:
                seen.add(r[0])
    return counts


def test_defects():
    counts = defect_counts("5", 5000, "0.5")
    for kind in DEFECT_CLASSES:
        check(counts.get(kind, 0) >= 1, f"defect class {kind} never appeared: {counts}")
    total = sum(counts.values())
    check(2000 < total < 3000, f"{total} defects in 5000 rows at rate 0.5")
    low = sum(defect_counts("9", 20000, "0.002").values())
    check(10 <= low <= 80, f"{low} defects in 20000 rows at the default rate 0.002, want ~40")


def test_bytes():
    for arg, size in (("100K", 100 * 1024), ("1M", 1 << 20), ("50000", 50000), ("2mib", 2 << 20)):
        data = gen("--bytes", arg, "--seed", "3")
        ok = size <= len(data) < size + MAX_RECORD and data.endswith(b"\n")
        check(ok, f"--bytes {arg}: wrote {len(data)} bytes, want just over {size}")
        _, rows = records(data)
        check(len(rows) > 0, f"--bytes {arg}: no records")
    hdr = gen("--bytes", "0")
    check(hdr == (",".join(COLUMNS) + "\n").encode(), "--bytes 0 is not the header alone")


def test_bad_args():
    cases = [["--rows", "abc"], ["--rows", "-5"], ["--rows"], ["--rows", ""],
             ["--bytes", "12X"], ["--bytes", "1T"], ["--defects", "1.5"],
             ["--defects", "abc"], ["--defects", "-0.1"], ["--seed", "-1"],
             ["--seed", "99999999999999999999999"], ["--bogus"], ["extra"],
             ["--rows", "10", "--bytes", "1K"], ["--clean", "--defects", "0.1"], ["-o"]]
    for args in cases:
        rc, out, err = run(*args)
        check(rc == 2 and "error" in err and out == b"",
              f"{args}: rc={rc}, stderr={err.strip()!r}, want exit 2 with a message")
    rc, out, _ = run("--help")
    check(rc == 0 and b"usage" in out and b"example" in out, f"--help: rc={rc}")
    rc, _, err = run("--rows", "5", "-o", "/nonexistent-dir/x.csv")
    check(rc == 1 and "cannot open" in err, f"unwritable -o: rc={rc} {err.strip()!r}")


def main():
    tests = [test_determinism, test_header, test_clean, test_defects, test_bytes, test_bad_args]
    for t in tests:
        before = len(FAILURES)
        t()
        status = "ok" if len(FAILURES) == before else "FAIL"
        print(f"{t.__name__}: {status}")
    if FAILURES:
        print(f"\n{len(FAILURES)} failure(s):", file=sys.stderr)
        for f in FAILURES[:50]:
            print("  - " + f, file=sys.stderr)
        return 1
    print("all fp-gen-officers checks passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
