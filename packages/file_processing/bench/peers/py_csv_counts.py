"""py_csv_counts.py FILE — per-column counts with Python's csv module: the approach of the
original implementation (rows, non-empty cells and the longest value per column), as the
baseline peer of `make bench`."""
import csv
import sys


def main():
    if len(sys.argv) != 2:
        print("usage: py_csv_counts.py FILE", file=sys.stderr)
        return 2
    with open(sys.argv[1], newline="", encoding="utf-8", errors="replace") as f:
        r = csv.reader(f)
        header = next(r, [])
        n = len(header)
        nonempty = [0] * n
        longest = [0] * n
        rows = 0
        for rec in r:
            rows += 1
            for i, v in enumerate(rec[:n]):
                if v:
                    nonempty[i] += 1
                    if len(v) > longest[i]:
                        longest[i] = len(v)
    print(f"{rows} rows, {n} columns")
    return 0


if __name__ == "__main__":
    sys.exit(main())
