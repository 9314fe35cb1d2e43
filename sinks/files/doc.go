// Package files writes creditflow's file outputs: the files of `creditflow
// replay` (SPEC 5: windows.csv, period_closes.csv, line_items.csv and
// .parquet, alerts.jsonl, deadletter.jsonl) and the files of a billing-ops
// close run (SPEC 4: line_items and period_closes as Parquet and CSV, with a
// manifest.json). It imports schemas and libraries only, never pipeline or
// jobs: callers hand it rows.
//
// # Formats
//
// Every output is deterministic: the same rows give byte-identical files,
// whatever order they were handed over in, and no wall clock is read.
//
//   - Instants are UTC in RFC 3339 with the fractional seconds that are
//     present and no trailing zeros (Go's time.RFC3339Nano): whole-second
//     instants such as window and period bounds print as
//     "2026-01-01T00:00:00Z"; an alert's "time" keeps sub-seconds when the
//     triggering event had them ("2026-01-01T00:00:00.25Z"). Nothing is
//     truncated.
//   - Decimals are plain strings, never exponents. Credits (schemas.Micros)
//     have exactly 6 decimals ("12.500000"); this includes line-item
//     quantities, so a subscription_fee line's quantity is "1.000000".
//   - Money (amounts, fees, revenue, overage amounts) has exactly
//     currency_decimals decimals, padded with zeros. Money must already be
//     rounded (SPEC 3.1): a value with more significant decimals is refused
//     with an error wrapping schemas.ErrPrecision, never rounded here.
//   - unit_price is exact: at least currency_decimals decimals and every
//     significant decimal it has (schemas.Decimal.StringFixed).
//   - CSV files have a header row, RFC 4180 quoting (encoding/csv) and "\n"
//     line endings. Rows are sorted by their leading columns, then by the
//     remaining columns, so that ties are ordered too.
//   - A file appears whole or not at all: it is written to a temporary file
//     in the same directory and renamed into place.
//
// # Parquet
//
// line_items.parquet and period_closes.parquet are written with arrow-go
// (pqarrow), one row group per 65,536 rows, Snappy compression, Parquet
// dictionary encoding where it applies (the string columns are read back as
// plain strings), the Arrow schema stored in the file metadata,
// and created_by fixed to "creditflow (parquet-go version …)", so that the
// bytes depend on the rows only. Column types:
//
//	tenant, plan, kind, description, currency  string (utf8, Parquet dictionary-encoded)
//	period_start, period_end                   timestamp[us, tz=UTC]
//	credits and quantity columns               decimal128(24, 6)
//	money columns (amount, fees, revenue)      decimal128(38, currency_decimals)
//	unit_price                                 decimal128(38, 18)
//	charged_at_purchase                        bool
//
// decimal128(38, 18) holds every schemas.Decimal exactly (an int64
// coefficient has at most 19 digits, scale at most 18); decimal128(38, n)
// likewise holds every money value; decimal128(24, 6) holds every Micros
// with room for sums. An instant that is not a whole number of
// microseconds is refused rather than truncated. No column is nullable.
//
// # JSON lines
//
// AppendAlertJSON and AppendDeadLetter build one JSON object per line with
// a fixed field order. Dead-letter records are usually valid UTF-8 and are
// then kept verbatim in "record" (only '"', '\\' and control characters are
// escaped). JSON strings cannot carry invalid UTF-8, so for a record that is
// not valid UTF-8 each invalid byte becomes U+FFFD in "record" (readable,
// like encoding/json) and the exact original bytes are added as standard
// base64 in an extra field "record_base64": nothing is lost.
//
// # Bounded memory
//
// WindowsWriter and Sorter sort outputs larger than memory: they hold up to a
// configured number of rows or bytes, spill sorted runs to temporary files
// in a compact binary form, and merge the runs at Close (64 runs at a time,
// in several passes when there are more). WindowsWriter sums the delta rows
// of each window while it sorts and merges, so windows.csv holds final
// totals; Sorter is stable, so records with equal keys keep the order in
// which they were added.
//
//	Write/Add ──▶ buffer ──full──▶ sort (+sum) ──▶ run file ─┐
//	                 │                                        ├──Close──▶ k-way merge (+sum) ──▶ output
//	                 └────────────── last sorted buffer ──────┘
package files
