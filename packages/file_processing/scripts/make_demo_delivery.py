#!/usr/bin/env python3
"""Writes the demo's second monthly delivery of the Albuquerque officer roster.

    python3 packages/file_processing/scripts/make_demo_delivery.py build/fp-gen-officers \
        packages/file_processing/data/from_client/nm_albuquerque/Officer_Detail_2026-11.csv

A month later the client's HR export has a little drift against the first delivery
(data/from_client/nm_albuquerque/Officer_Detail.csv): 5% more officers, a 6% pay raise
(base_salary, and total_pay with it), phone numbers left out for about 12% of officers,
and a new sex code "U" (not stated) on about 7% of records. Everything else comes from
fp-gen-officers with another seed, defects included. Deterministic: the same generator
gives the same bytes. Python 3 standard library only.
"""
import csv
import io
import subprocess
import sys


def cents(text):
    """'64180.00' -> 6418000; None for the generator's defective salaries."""
    whole, _, frac = text.partition(".")
    if not whole.lstrip("-").isdigit() or len(frac) != 2 or not frac.isdigit():
        return None
    value = int(whole.lstrip("-")) * 100 + int(frac)
    return -value if whole.startswith("-") else value


def money(c):
    sign = "-" if c < 0 else ""
    return f"{sign}{abs(c) // 100}.{abs(c) % 100:02d}"


def main(gen, out_path):
    raw = subprocess.run([gen, "--rows", "2100", "--seed", "47", "--defects", "0.005"],
                         capture_output=True, check=True).stdout.decode("utf-8")
    rows = list(csv.reader(io.StringIO(raw, newline="")))
    header, data = rows[0], rows[1:]
    col = {name: i for i, name in enumerate(header)}
    for i, r in enumerate(data):
        if len(r) != len(header):
            continue  # the generator's missing-cell / extra-cell defects stay as they are
        base, over = cents(r[col["base_salary"]]), cents(r[col["overtime_pay"]])
        if base is not None:
            base = base * 106 // 100
            r[col["base_salary"]] = money(base)
            if over is not None:
                r[col["total_pay"]] = money(base + over)
        if i % 25 in (3, 11, 19):
            r[col["phone"]] = ""
        if i % 14 == 5:
            r[col["sex"]] = "U"
    with open(out_path, "w", encoding="utf-8", newline="") as f:
        # minimal quoting and LF line ends, like the generator
        csv.writer(f, lineterminator="\n").writerows([header] + data)


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    main(sys.argv[1], sys.argv[2])
