"""The fault catalogue: small bad files, each with the exception and the words its message
must hold when it goes through ``crm run`` (and, for :data:`BAD_FILES_23`, ``crm init``).

The next fault is one entry here; the tests that feed them are in
``tests/runner/test_faults.py``, and the README's troubleshooting table lists every case
(``tests/faults/test_catalogue_documented.py`` keeps the two in step).
"""

from __future__ import annotations

from typing import Any

HEADER = "booking_id,customer_id,booking_date,amount,status,destination\n"


def bookings_csv(n: int = 60, *, status: str = "completed") -> str:
    """``n`` valid bookings of 12 customers in 2024 (a few repeat customers)."""
    rows = [f"B{i},C{i % 12},2024-{1 + i % 12:02d}-{1 + i % 27:02d},{50 + i},{status},Paris\n"
            for i in range(n)]
    return HEADER + "".join(rows)


BAD_FILES: dict[str, tuple[bytes, dict[str, Any], str, tuple[str, ...]]] = {
    # name: (file bytes, table options, exception, words the message must hold)
    "empty": (b"", {}, "DataSourceError", ("empty", "bookings.csv")),
    "semicolons": (bookings_csv().replace(",", ";").encode(), {}, "DataSourceError",
                   ("single column", "delimiter: ';'")),
    "missing_amount": (b"customer_id,booking_date\nC1,2024-01-01\n", {},
                       "DataValidationError", ("mandatory column 'amount'", "columns.amount")),
    "duplicated_rows": ((bookings_csv() + bookings_csv().split("\n", 1)[1]).encode(), {},
                        "DataValidationError", ("repeat a booking_id", "exact copies", "data_quality.max_reject_share")),
    "gbk_not_declared": ((HEADER + "B1,C1,2024-03-01,120,completed,杭州西湖\n"
                          "B2,C1,2024-06-01,80,completed,北京\n").encode("gbk"), {},
                         "DataSourceError", ("cannot decode", "encoding: gbk")),
}


def dates_csv(kind: str) -> bytes:
    """60 bookings whose dates are written ``kind``: ``mixed`` (ISO, with 5 day-first and 5
    month-first rows), ``ambiguous`` (every date ``DD/MM/YYYY`` with the day at most 12)."""
    rows = []
    for i in range(60):
        day, month = 1 + i % 12, 1 + (i * 5) % 12
        if kind == "ambiguous":
            when = f"{day:02d}/{month:02d}/2024"
        elif i % 12 == 0:
            when = f"{13 + i % 15:02d}/{month:02d}/2024"   # day-first, proven
        elif i % 12 == 6:
            when = f"{month:02d}/{13 + i % 15:02d}/2024"   # month-first, proven
        else:
            when = f"2024-{month:02d}-{day:02d}"
        rows.append(f"B{i},C{i % 12},{when},{50 + i},completed,Paris\n")
    return (HEADER + "".join(rows)).encode()


def _truncated_gz() -> bytes:
    import gzip

    whole = gzip.compress(bookings_csv(2000).encode())
    return whole[: len(whole) // 2]


# issue 23: name: (file name, bytes, table options, exception, words of the message)
BAD_FILES_23: dict[str, tuple[str, bytes, dict[str, Any], str, tuple[str, ...]]] = {
    "truncated_gz": ("bookings.csv.gz", _truncated_gz(), {}, "DataSourceError",
                     ("bookings.csv.gz is truncated or corrupt", "bytes on disk",
                      "copy or download the file again")),
    "corrupt_parquet": ("bookings.parquet", b"PAR1 not a parquet file PAR1", {},
                        "DataSourceError", ("cannot read bookings.parquet as Parquet",)),
    "header_only": ("bookings.csv", HEADER.encode(), {}, "DataSourceError",
                    ("bookings.csv has a header and no data rows",)),
    "mixed_date_orders": ("bookings.csv", dates_csv("mixed"), {}, "DataValidationError",
                          ("both day-first (5 values", "month-first (5 with it second)",
                           "ISO (2024-01-31): 50", "tables.bookings.date_format")),
    "ambiguous_dates": ("bookings.csv", dates_csv("ambiguous"), {}, "DataValidationError",
                        ("every one of the 60 dates reads both day-first and month-first",
                         "tables.bookings.date_format", "dayfirst: true")),
}
