package catalog

import (
	"cmp"
	"slices"
	"strconv"
	"strings"
)

// Problem is one finding about a catalog: where it is (file, path inside the
// document, 1-based line) and what is wrong. Parse reports fatal findings as
// Problems and non-fatal ones in Catalog.Warnings.
type Problem struct {
	File   string // file name as given to Parse or Load
	Path   string // e.g. "plans[1].overage.cap_amount"; empty for document-level findings
	Line   int    // 1-based; 0 when unknown
	Reason string // e.g. "must be a decimal ≥ 0"
}

// Error formats p as "file:line: path: reason", leaving out the parts that
// are empty, e.g. "catalog.yaml:12: plans[0].overage.price_per_credit: must
// be a decimal ≥ 0".
func (p Problem) Error() string {
	var b strings.Builder
	b.WriteString(p.File)
	if p.Line > 0 {
		b.WriteByte(':')
		b.WriteString(strconv.Itoa(p.Line))
	}
	if b.Len() > 0 {
		b.WriteString(": ")
	}
	if p.Path != "" {
		b.WriteString(p.Path)
		b.WriteString(": ")
	}
	b.WriteString(p.Reason)
	return b.String()
}

// Problems is every fatal finding of one Parse or Load, sorted by line and
// then path. It is the error those functions return for an invalid catalog;
// retrieve it with errors.As to inspect individual problems.
type Problems []Problem

// Error lists the problems one per line, sorted by line then path.
func (ps Problems) Error() string {
	sorted := slices.Clone(ps)
	sortProblems(sorted)
	lines := make([]string, len(sorted))
	for i, p := range sorted {
		lines[i] = p.Error()
	}
	return strings.Join(lines, "\n")
}

// sortProblems orders ps by file, line, path and reason, stably.
func sortProblems(ps []Problem) {
	slices.SortStableFunc(ps, func(a, b Problem) int {
		return cmp.Or(
			cmp.Compare(a.File, b.File),
			cmp.Compare(a.Line, b.Line),
			cmp.Compare(a.Path, b.Path),
			cmp.Compare(a.Reason, b.Reason),
		)
	})
}
