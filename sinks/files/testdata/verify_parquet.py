#!/usr/bin/env python3
"""Independent check of a creditflow Parquet file with pyarrow.

Usage: python3 verify_parquet.py FILE.parquet [FILE.parquet ...]

Prints, for each file, one per line:
    file <path>
    rows <n>
    column <name> <arrow type>      (for every column, in order)
    sum <name> <exact decimal>      (for the columns amount and quantity, when present)

Sums are computed by pyarrow over the decimal columns and printed without
exponent. Needs pyarrow (pip install pyarrow).
"""
import sys

import pyarrow.compute as pc
import pyarrow.parquet as pq


def main(path):
    table = pq.read_table(path)
    print(f"file {path}")
    print(f"rows {table.num_rows}")
    for field in table.schema:
        print(f"column {field.name} {field.type}")
    for name in ("amount", "quantity"):
        if name not in table.column_names:
            continue
        total = pc.sum(table[name]).as_py()
        print(f"sum {name} {'null' if total is None else format(total, 'f')}")


if __name__ == "__main__":
    if len(sys.argv) < 2:
        sys.exit("usage: verify_parquet.py FILE.parquet [FILE.parquet ...]")
    for arg in sys.argv[1:]:
        main(arg)
