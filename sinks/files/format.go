package files

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/creditflow/creditflow/schemas"
)

// appendTime appends t in UTC as RFC 3339 with the fractional seconds it has
// (none for whole seconds).
func appendTime(b []byte, t time.Time) []byte {
	return t.UTC().AppendFormat(b, time.RFC3339Nano)
}

func formatTime(t time.Time) string { return string(appendTime(nil, t)) }

// checkDecimals validates a currency_decimals argument.
func checkDecimals(n int) error {
	if n < 0 || n > schemas.MaxScale {
		return fmt.Errorf("currency decimals %d: want 0..%d", n, schemas.MaxScale)
	}
	return nil
}

// moneyDigits splits money d into a coefficient and a number of zeros to
// append so that the value has exactly n decimals. It drops trailing zero
// decimals beyond n and refuses significant ones: money is rounded by the
// ledger, not here.
func moneyDigits(d schemas.Decimal, n int) (coef int64, pad int, err error) {
	d = d.Normalize(n)
	if int(d.Scale) > n {
		return 0, 0, fmt.Errorf("money %s has more than %d decimals: %w", d, n, schemas.ErrPrecision)
	}
	return d.Coef, n - int(d.Scale), nil
}

// appendMoney appends d with exactly n decimals, padding with zeros; see
// moneyDigits for the refusal of unrounded values.
func appendMoney(b []byte, d schemas.Decimal, n int) ([]byte, error) {
	coef, pad, err := moneyDigits(d, n)
	if err != nil {
		return b, err
	}
	scale := n - pad
	b = schemas.Decimal{Coef: coef, Scale: uint8(scale)}.Append(b)
	if pad > 0 && scale == 0 {
		b = append(b, '.')
	}
	for range pad {
		b = append(b, '0')
	}
	return b, nil
}

// formatMoney is appendMoney to a string.
func formatMoney(d schemas.Decimal, n int) (string, error) {
	b, err := appendMoney(nil, d, n)
	return string(b), err
}

func formatBool(v bool) string { return strconv.FormatBool(v) }

// atomicFile is an output file written under a temporary name in the
// destination directory and renamed into place by Commit, so that readers
// never see a partial file.
type atomicFile struct {
	*os.File
	path string
	done bool
}

func createAtomic(path string) (*atomicFile, error) {
	dir, base := filepath.Split(path)
	if dir == "" {
		dir = "."
	}
	f, err := os.CreateTemp(dir, "."+base+".*.tmp")
	if err != nil {
		return nil, fmt.Errorf("create %s: %w", path, err)
	}
	return &atomicFile{File: f, path: path}, nil
}

// Commit syncs, closes and renames the file into place.
func (f *atomicFile) Commit() error {
	if f.done {
		return fmt.Errorf("commit %s: already done", f.path)
	}
	f.done = true
	err := errors.Join(f.Chmod(0o644), f.Sync())
	err = errors.Join(err, f.File.Close())
	if err == nil {
		err = os.Rename(f.Name(), f.path)
	}
	if err != nil {
		os.Remove(f.Name())
		return fmt.Errorf("write %s: %w", f.path, err)
	}
	return nil
}

// Abort closes and removes the temporary file; it does nothing after Commit.
func (f *atomicFile) Abort() {
	if f.done {
		return
	}
	f.done = true
	f.File.Close()
	os.Remove(f.Name())
}
