package files

import (
	"bytes"
	"crypto/sha256"
	"encoding/csv"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/big"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/apache/arrow-go/v18/parquet/file"

	"github.com/creditflow/creditflow/schemas"
)

// ManifestName is the file name of the manifest that WriteManifest writes.
const ManifestName = "manifest.json"

// Manifest is manifest.json: what a close run wrote (SPEC 4), so that billing
// ops can check that they received every file whole. It holds no timestamp;
// put one in Totals if one is wanted.
type Manifest struct {
	Files  []ManifestFile    `json:"files"`  // sorted by name
	Totals map[string]string `json:"totals"` // written with sorted keys
}

// ManifestFile describes one file of a Manifest.
type ManifestFile struct {
	Name   string `json:"name"`   // relative to the manifest's directory, '/'-separated
	Rows   int64  `json:"rows"`   // data rows: CSV records minus the header, JSONL lines, Parquet rows
	Bytes  int64  `json:"bytes"`  // file size
	SHA256 string `json:"sha256"` // lower-case hex of the file's SHA-256
}

// BuildManifest describes files, which are paths relative to dir ending in
// .csv, .jsonl or .parquet, and copies totals. A name outside dir, a
// duplicate or another extension is an error.
func BuildManifest(dir string, files []string, totals map[string]string) (Manifest, error) {
	m := Manifest{Files: make([]ManifestFile, 0, len(files)), Totals: make(map[string]string, len(totals))}
	for k, v := range totals {
		m.Totals[k] = v
	}
	seen := make(map[string]bool, len(files))
	var errs []error
	for _, name := range files {
		clean := filepath.ToSlash(filepath.Clean(name))
		switch {
		case !filepath.IsLocal(name):
			errs = append(errs, fmt.Errorf("manifest file %q: not a local path inside %s", name, dir))
			continue
		case seen[clean]:
			errs = append(errs, fmt.Errorf("manifest file %q: listed twice", name))
			continue
		case clean == ManifestName:
			errs = append(errs, fmt.Errorf("manifest file %q: the manifest cannot list itself", name))
			continue
		}
		seen[clean] = true
		mf, err := describeFile(filepath.Join(dir, filepath.FromSlash(clean)))
		if err != nil {
			errs = append(errs, err)
			continue
		}
		mf.Name = clean
		m.Files = append(m.Files, mf)
	}
	if err := errors.Join(errs...); err != nil {
		return Manifest{}, fmt.Errorf("build manifest of %s: %w", dir, err)
	}
	slices.SortFunc(m.Files, func(a, b ManifestFile) int { return strings.Compare(a.Name, b.Name) })
	return m, nil
}

// WriteManifest writes dir/manifest.json describing files (see
// BuildManifest) with totals (see ManifestTotals, or any string map). The
// JSON is indented, ends in a newline and depends on its inputs only.
func WriteManifest(dir string, files []string, totals map[string]string) error {
	m, err := BuildManifest(dir, files, totals)
	if err != nil {
		return err
	}
	data, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return fmt.Errorf("encode manifest: %w", err)
	}
	path := filepath.Join(dir, ManifestName)
	f, err := createAtomic(path)
	if err != nil {
		return err
	}
	defer f.Abort()
	if _, err := f.Write(append(data, '\n')); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return f.Commit()
}

// describeFile hashes path and counts its rows by its extension.
func describeFile(path string) (ManifestFile, error) {
	var mf ManifestFile
	ext := filepath.Ext(path)
	if ext != ".csv" && ext != ".jsonl" && ext != ".parquet" {
		return mf, fmt.Errorf("manifest file %s: cannot count rows of a %q file", path, ext)
	}
	f, err := os.Open(path)
	if err != nil {
		return mf, fmt.Errorf("manifest file: %w", err)
	}
	defer f.Close()
	h := sha256.New()
	cr := &countingReader{r: io.TeeReader(f, h)}
	switch ext {
	case ".csv":
		r := csv.NewReader(cr)
		r.ReuseRecord = true
		for {
			_, err := r.Read()
			if err == io.EOF {
				break
			}
			if err != nil {
				return mf, fmt.Errorf("manifest file %s: %w", path, err)
			}
			mf.Rows++
		}
		mf.Rows = max(0, mf.Rows-1) // the header
	case ".jsonl":
		cr.lines = true
	}
	if _, err := io.Copy(io.Discard, cr); err != nil {
		return mf, fmt.Errorf("manifest file %s: %w", path, err)
	}
	if ext == ".jsonl" {
		mf.Rows = cr.newlines
		if cr.n > 0 && cr.last != '\n' {
			mf.Rows++
		}
	}
	if ext == ".parquet" {
		pf, err := file.OpenParquetFile(path, false)
		if err != nil {
			return mf, fmt.Errorf("manifest file %s: %w", path, err)
		}
		mf.Rows = pf.NumRows()
		if err := pf.Close(); err != nil {
			return mf, fmt.Errorf("manifest file %s: %w", path, err)
		}
	}
	mf.Bytes = cr.n
	mf.SHA256 = hex.EncodeToString(h.Sum(nil))
	return mf, nil
}

// countingReader counts the bytes, and optionally the newlines, read
// through it.
type countingReader struct {
	r        io.Reader
	n        int64
	lines    bool
	newlines int64
	last     byte
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	if c.lines && n > 0 {
		c.newlines += int64(bytes.Count(p[:n], []byte{'\n'}))
		c.last = p[n-1]
	}
	return n, err
}

// ManifestTotals computes the totals of a close run for its manifest, with
// money at currencyDecimals decimals and credits at 6:
//
//	closes                                   number of closes
//	closes.consumed                          sum of consumed credits
//	closes.overage_amount.<currency>         sum of overage amounts
//	closes.recognized_revenue.<currency>     sum of recognized revenue
//	closes.deferred_revenue_end.<currency>   sum of deferred revenue at period end
//	line_items                               number of line items
//	line_items.amount.<currency>             sum of line item amounts
//	line_items.amount.<currency>.<kind>      the same per kind
//	line_items.quantity.<kind>               sum of quantities per kind (credits; fee lines count 1 each)
//
// Sums are exact (no overflow). Money with more significant decimals than
// currencyDecimals is an error.
func ManifestTotals(closes []schemas.PeriodClose, items []schemas.LineItem, currencyDecimals int) (map[string]string, error) {
	if err := checkDecimals(currencyDecimals); err != nil {
		return nil, fmt.Errorf("manifest totals: %w", err)
	}
	money := map[string]*big.Int{}
	credits := map[string]*big.Int{}
	add := func(sums map[string]*big.Int, key string, v int64) {
		s, ok := sums[key]
		if !ok {
			s = new(big.Int)
			sums[key] = s
		}
		s.Add(s, big.NewInt(v))
	}
	addMoney := func(key string, d schemas.Decimal) error {
		coef, pad, err := moneyDigits(d, currencyDecimals)
		if err != nil {
			return fmt.Errorf("%s: %w", key, err)
		}
		v := new(big.Int).Mul(big.NewInt(coef), new(big.Int).SetUint64(schemas.Pow10(pad)))
		s, ok := money[key]
		if !ok {
			s = new(big.Int)
			money[key] = s
		}
		s.Add(s, v)
		return nil
	}
	credits["closes.consumed"] = new(big.Int)
	var errs []error
	for _, c := range closes {
		add(credits, "closes.consumed", int64(c.Consumed))
		errs = append(errs,
			addMoney("closes.overage_amount."+c.Currency, c.OverageAmount),
			addMoney("closes.recognized_revenue."+c.Currency, c.RecognizedRevenue),
			addMoney("closes.deferred_revenue_end."+c.Currency, c.DeferredRevenueEnd))
	}
	for _, li := range items {
		add(credits, "line_items.quantity."+string(li.Kind), int64(li.Quantity))
		errs = append(errs,
			addMoney("line_items.amount."+li.Currency, li.Amount),
			addMoney("line_items.amount."+li.Currency+"."+string(li.Kind), li.Amount))
	}
	if err := errors.Join(errs...); err != nil {
		return nil, fmt.Errorf("manifest totals: %w", err)
	}
	totals := map[string]string{
		"closes":     strconv.Itoa(len(closes)),
		"line_items": strconv.Itoa(len(items)),
	}
	for k, v := range money {
		totals[k] = formatScaled(v, currencyDecimals)
	}
	for k, v := range credits {
		totals[k] = formatScaled(v, 6)
	}
	return totals, nil
}

// formatScaled formats v × 10^-scale with exactly scale decimals.
func formatScaled(v *big.Int, scale int) string {
	digits := new(big.Int).Abs(v).String()
	if len(digits) <= scale {
		digits = strings.Repeat("0", scale-len(digits)+1) + digits
	}
	var b strings.Builder
	if v.Sign() < 0 {
		b.WriteByte('-')
	}
	b.WriteString(digits[:len(digits)-scale])
	if scale > 0 {
		b.WriteByte('.')
		b.WriteString(digits[len(digits)-scale:])
	}
	return b.String()
}
