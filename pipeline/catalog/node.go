package catalog

import (
	"fmt"
	"strconv"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/creditflow/creditflow/schemas"
)

// parser collects problems and warnings while it walks a yaml.Node tree.
type parser struct {
	file     string
	problems []Problem
	warnings []Problem
	meterSrc map[string]*object // where each meter is declared
}

func (p *parser) fail(n *yaml.Node, path, format string, args ...any) {
	p.problems = append(p.problems, Problem{File: p.file, Path: path, Line: lineOf(n), Reason: fmt.Sprintf(format, args...)})
}

func (p *parser) warn(n *yaml.Node, path, format string, args ...any) {
	p.warnings = append(p.warnings, Problem{File: p.file, Path: path, Line: lineOf(n), Reason: fmt.Sprintf(format, args...)})
}

func lineOf(n *yaml.Node) int {
	if n == nil {
		return 0
	}
	return n.Line
}

// resolve follows aliases to the node they name.
func resolve(n *yaml.Node) *yaml.Node {
	for i := 0; n != nil && n.Kind == yaml.AliasNode && i < 100; i++ {
		n = n.Alias
	}
	return n
}

func isNull(n *yaml.Node) bool {
	n = resolve(n)
	return n == nil || (n.Kind == yaml.ScalarNode && n.Tag == "!!null")
}

// kindName describes n for a "must be X, got Y" reason.
func kindName(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a sequence"
	case yaml.ScalarNode:
		return fmt.Sprintf("%q", n.Value)
	}
	return "nothing"
}

func join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

func index(path string, i int) string { return path + "[" + strconv.Itoa(i) + "]" }

// object is one YAML mapping with known keys. Keys whose value is null are
// treated as absent.
type object struct {
	node *yaml.Node
	path string
	vals map[string]*yaml.Node
}

// object checks that n is a mapping, reports duplicate keys as problems and
// keys not in known as warnings, and applies YAML merge keys ("<<"), whose
// entries never override explicit ones. It returns nil when n is not a
// mapping.
func (p *parser) object(n *yaml.Node, path string, known ...string) *object {
	n = resolve(n)
	if n.Kind != yaml.MappingNode {
		p.fail(n, path, "must be a mapping, got %s", kindName(n))
		return nil
	}
	o := &object{node: n, path: path, vals: map[string]*yaml.Node{}}
	seen := map[string]*yaml.Node{}
	var merges []*yaml.Node
	add := func(k, v *yaml.Node, merged bool) {
		if k.Kind != yaml.ScalarNode {
			p.fail(k, path, "keys must be scalars, got %s", kindName(k))
			return
		}
		key := k.Value
		if first, dup := seen[key]; dup {
			if !merged {
				p.fail(k, join(path, key), "duplicate key (first at line %d)", first.Line)
			}
			return
		}
		seen[key] = k
		if !contains(known, key) {
			p.warn(k, join(path, key), "unknown key, ignored")
			return
		}
		if !isNull(v) {
			o.vals[key] = resolve(v)
		}
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := resolve(n.Content[i]), n.Content[i+1]
		if k.Kind == yaml.ScalarNode && k.Tag == "!!merge" {
			merges = append(merges, resolve(v))
			continue
		}
		add(k, v, false)
	}
	for _, m := range merges {
		var sources []*yaml.Node
		switch m.Kind {
		case yaml.MappingNode:
			sources = []*yaml.Node{m}
		case yaml.SequenceNode:
			for _, s := range m.Content {
				sources = append(sources, resolve(s))
			}
		}
		for _, s := range sources {
			if s.Kind != yaml.MappingNode {
				p.fail(s, join(path, "<<"), "merge key must name a mapping or a sequence of mappings, got %s", kindName(s))
				continue
			}
			for i := 0; i+1 < len(s.Content); i += 2 {
				add(resolve(s.Content[i]), s.Content[i+1], true)
			}
		}
	}
	return o
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// get returns the value of key, or nil when it is absent or null.
func (o *object) get(key string) *yaml.Node { return o.vals[key] }

func (o *object) has(key string) bool { return o.vals[key] != nil }

func (o *object) at(key string) string { return join(o.path, key) }

// missing reports a required key that is absent.
func (p *parser) missing(o *object, key string) {
	p.fail(o.node, o.at(key), "required")
}

// scalar returns the literal text of key's value, reporting a problem when
// the value is not a scalar. ok is false when absent or invalid.
func (p *parser) scalar(o *object, key, want string) (string, bool) {
	n := o.get(key)
	if n == nil {
		return "", false
	}
	if n.Kind != yaml.ScalarNode {
		p.fail(n, o.at(key), "must be %s, got %s", want, kindName(n))
		return "", false
	}
	return n.Value, true
}

// text reads a string. A required key that is absent, or an empty string,
// is a problem.
func (p *parser) text(o *object, key string, required bool) (string, bool) {
	if !o.has(key) {
		if required {
			p.missing(o, key)
		}
		return "", false
	}
	s, ok := p.scalar(o, key, "a string")
	if !ok {
		return "", false
	}
	if s == "" {
		p.fail(o.get(key), o.at(key), "must not be empty")
		return "", false
	}
	return s, true
}

// list reads a sequence; absent is an empty list.
func (p *parser) list(o *object, key string) []*yaml.Node {
	n := o.get(key)
	if n == nil {
		return nil
	}
	if n.Kind != yaml.SequenceNode {
		p.fail(n, o.at(key), "must be a sequence, got %s", kindName(n))
		return nil
	}
	items := make([]*yaml.Node, len(n.Content))
	for i, c := range n.Content {
		items[i] = resolve(c)
	}
	return items
}

// decimalRule is a range check for decimals, with its description.
type decimalRule struct {
	want string // e.g. "a decimal ≥ 0"
	ok   func(schemas.Decimal) bool
}

var (
	zero          = schemas.Decimal{}
	hundred       = schemas.Decimal{Coef: 100}
	thousand      = schemas.Decimal{Coef: 1000}
	nonNegative   = decimalRule{"a decimal ≥ 0", func(d schemas.Decimal) bool { return d.Sign() >= 0 }}
	positive      = decimalRule{"a decimal > 0", func(d schemas.Decimal) bool { return d.Sign() > 0 }}
	thresholdRule = decimalRule{"a percentage in (0, 1000]", func(d schemas.Decimal) bool {
		return d.Sign() > 0 && d.Cmp(thousand) <= 0
	}}
	percentRule = decimalRule{"a percentage in [0, 100]", func(d schemas.Decimal) bool {
		return d.Sign() >= 0 && d.Cmp(hundred) <= 0
	}}
)

// decimalNode parses n's literal text as a decimal satisfying rule; YAML
// strings and numbers are both accepted, so 0.1 stays exactly 0.1.
func (p *parser) decimalNode(n *yaml.Node, path string, rule decimalRule) (schemas.Decimal, bool) {
	if n.Kind != yaml.ScalarNode {
		p.fail(n, path, "must be %s, got %s", rule.want, kindName(n))
		return zero, false
	}
	d, err := schemas.ParseDecimal(n.Value)
	if err != nil {
		p.fail(n, path, "must be %s, got %q (%v)", rule.want, n.Value, err)
		return zero, false
	}
	if !rule.ok(d) {
		p.fail(n, path, "must be %s, got %q", rule.want, n.Value)
		return zero, false
	}
	return d, true
}

// decimal reads key as a decimal; absent is a problem only when required.
func (p *parser) decimal(o *object, key string, required bool, rule decimalRule) (schemas.Decimal, bool) {
	n := o.get(key)
	if n == nil {
		if required {
			p.missing(o, key)
		}
		return zero, false
	}
	return p.decimalNode(n, o.at(key), rule)
}

// money reads a money amount ≥ 0 with at most decimals fractional digits and
// returns it with exactly that scale.
func (p *parser) money(o *object, key string, required bool, decimals int) (schemas.Decimal, bool) {
	d, ok := p.decimal(o, key, required, nonNegative)
	if !ok {
		return zero, false
	}
	r, err := d.Rescale(decimals)
	if err != nil {
		p.fail(o.get(key), o.at(key), "must have at most %d fractional digits (currency_decimals), got %q", decimals, o.get(key).Value)
		return zero, false
	}
	return r, true
}

// credits reads a credit amount: a decimal with at most six fractional
// digits, ≥ 0 (or > 0 when positive is set).
func (p *parser) credits(o *object, key string, required, positive bool) (schemas.Micros, bool) {
	n := o.get(key)
	if n == nil {
		if required {
			p.missing(o, key)
		}
		return 0, false
	}
	want := "a decimal ≥ 0 with at most 6 fractional digits"
	if positive {
		want = "a decimal > 0 with at most 6 fractional digits"
	}
	if n.Kind != yaml.ScalarNode {
		p.fail(n, o.at(key), "must be %s, got %s", want, kindName(n))
		return 0, false
	}
	m, err := schemas.ParseMicros(n.Value)
	if err != nil {
		p.fail(n, o.at(key), "must be %s, got %q (%v)", want, n.Value, err)
		return 0, false
	}
	if m < 0 || (positive && m == 0) {
		p.fail(n, o.at(key), "must be %s, got %q", want, n.Value)
		return 0, false
	}
	return m, true
}

// integer reads a decimal integer in [lo, hi] (a YAML number or a string of
// digits).
func (p *parser) integer(o *object, key string, lo, hi int) (int, bool) {
	n := o.get(key)
	if n == nil {
		return 0, false
	}
	want := fmt.Sprintf("an integer in %d–%d", lo, hi)
	if hi == maxInt {
		want = fmt.Sprintf("an integer ≥ %d", lo)
	}
	if n.Kind != yaml.ScalarNode {
		p.fail(n, o.at(key), "must be %s, got %s", want, kindName(n))
		return 0, false
	}
	v, err := strconv.Atoi(n.Value)
	if err != nil || v < lo || v > hi {
		p.fail(n, o.at(key), "must be %s, got %q", want, n.Value)
		return 0, false
	}
	return v, true
}

const maxInt = int(^uint(0) >> 1)

// instant reads an RFC 3339 timestamp and returns it in UTC. Instants
// outside 1678–2261 are refused so that they fit Unix nanoseconds.
func (p *parser) instant(o *object, key string, required bool) (time.Time, bool) {
	n := o.get(key)
	if n == nil {
		if required {
			p.missing(o, key)
		}
		return time.Time{}, false
	}
	const want = "an RFC 3339 timestamp such as 2026-01-01T00:00:00Z"
	if n.Kind != yaml.ScalarNode {
		p.fail(n, o.at(key), "must be %s, got %s", want, kindName(n))
		return time.Time{}, false
	}
	t, err := time.Parse(time.RFC3339Nano, n.Value)
	if err != nil {
		p.fail(n, o.at(key), "must be %s, got %q", want, n.Value)
		return time.Time{}, false
	}
	if t.Year() < 1678 || t.Year() > 2261 {
		p.fail(n, o.at(key), "must be between the years 1678 and 2261, got %q", n.Value)
		return time.Time{}, false
	}
	return t.UTC(), true
}
