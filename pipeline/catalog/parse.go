package catalog

import (
	"bytes"
	"cmp"
	"errors"
	"fmt"
	"io"
	"os"
	"regexp"
	"slices"
	"strconv"
	"time"
	_ "time/tzdata" // time zones load on machines without zoneinfo

	"go.yaml.in/yaml/v3"
)

// Load reads the catalog file at path and parses it as Parse does. Problems
// carry path as their File.
func Load(path string) (*Catalog, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("load catalog: %w", err)
	}
	return Parse(path, data)
}

// Parse parses and validates a catalog written in YAML or JSON (JSON is
// YAML). file names the source in problems. When the catalog is invalid,
// Parse returns a nil Catalog and a Problems error that lists every problem
// found, not just the first.
func Parse(file string, data []byte) (*Catalog, error) {
	p := &parser{file: file, meterSrc: map[string]*object{}}
	root := p.document(data)
	var c *Catalog
	if root != nil {
		c = p.catalog(root)
	}
	sortProblems(p.problems)
	sortProblems(p.warnings)
	if len(p.problems) > 0 {
		return nil, Problems(p.problems)
	}
	c.Warnings = p.warnings
	return c, nil
}

var yamlErrLine = regexp.MustCompile(`^yaml: line (\d+): (.*)$`)

// document decodes data into a node tree and returns its root, or nil after
// reporting why there is none.
func (p *parser) document(data []byte) *yaml.Node {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			p.fail(nil, "", "empty catalog")
			return nil
		}
		p.syntax(err)
		return nil
	}
	var next yaml.Node
	if err := dec.Decode(&next); !errors.Is(err, io.EOF) {
		if err != nil {
			p.syntax(err)
		} else {
			p.fail(&next, "", "more than one YAML document; a catalog is a single document")
		}
	}
	if len(doc.Content) == 0 || isNull(doc.Content[0]) {
		p.fail(&doc, "", "empty catalog")
		return nil
	}
	return doc.Content[0]
}

func (p *parser) syntax(err error) {
	msg := err.Error()
	if m := yamlErrLine.FindStringSubmatch(msg); m != nil {
		line, _ := strconv.Atoi(m[1])
		p.problems = append(p.problems, Problem{File: p.file, Line: line, Reason: "invalid YAML: " + m[2]})
		return
	}
	p.problems = append(p.problems, Problem{File: p.file, Reason: "invalid YAML: " + msg})
}

// catalog walks the root mapping. The returned catalog is complete only when
// no problem was reported.
func (p *parser) catalog(root *yaml.Node) *Catalog {
	o := p.object(root, "", "currency", "currency_decimals", "meters", "rates", "plans", "tenants")
	if o == nil {
		return nil
	}
	c := &Catalog{
		CurrencyDecimals: 2,
		meters:           map[string]*Meter{},
		plans:            map[string]*Plan{},
		tenants:          map[string]*Tenant{},
		rates:            map[string]map[string]*rateSeries{},
	}
	if s, ok := p.text(o, "currency", true); ok {
		if !isCurrency(s) {
			p.fail(o.get("currency"), "currency", "must be an ISO 4217 code (three uppercase letters), got %q", s)
		}
		c.Currency = s
	}
	if d, ok := p.integer(o, "currency_decimals", 0, 6); ok {
		c.CurrencyDecimals = d
	}
	p.meters(c, o)
	p.rates(c, o)
	p.plans(c, o)
	p.tenants(c, o)
	return c
}

func isCurrency(s string) bool {
	if len(s) != 3 {
		return false
	}
	for i := range len(s) {
		if s[i] < 'A' || s[i] > 'Z' {
			return false
		}
	}
	return true
}

func (p *parser) meters(c *Catalog, root *object) {
	lines := map[string]int{}
	for i, n := range p.list(root, "meters") {
		o := p.object(n, index("meters", i), "name", "unit", "description")
		if o == nil {
			continue
		}
		name, ok := p.text(o, "name", true)
		if !ok {
			continue
		}
		if first, dup := lines[name]; dup {
			p.fail(o.get("name"), o.at("name"), "duplicate meter %q (first at line %d)", name, first)
			continue
		}
		lines[name] = o.get("name").Line
		p.meterSrc[name] = o
		m := &Meter{Name: name}
		m.Unit, _ = p.optionalString(o, "unit")
		m.Description, _ = p.optionalString(o, "description")
		c.meters[name] = m
		c.Meters = append(c.Meters, m)
	}
	slices.SortFunc(c.Meters, func(a, b *Meter) int { return cmp.Compare(a.Name, b.Name) })
}

// optionalString reads a string that may be empty.
func (p *parser) optionalString(o *object, key string) (string, bool) {
	if !o.has(key) {
		return "", false
	}
	return p.scalar(o, key, "a string")
}

func (p *parser) rates(c *Catalog, root *object) {
	type key struct {
		meter, model string
		from         int64
	}
	lines := map[key]int{}
	for i, n := range p.list(root, "rates") {
		o := p.object(n, index("rates", i), "meter", "model", "credits_per_unit", "effective_from")
		if o == nil {
			continue
		}
		r := &Rate{Model: AnyModel}
		ok := true
		if name, found := p.text(o, "meter", true); !found {
			ok = false
		} else if c.meters[name] == nil {
			p.fail(o.get("meter"), o.at("meter"), "unknown meter %q", name)
			ok = false
		} else {
			r.Meter = name
		}
		if o.has("model") {
			m, found := p.scalar(o, "model", "a string")
			switch {
			case !found:
				ok = false
			case m == "":
				p.fail(o.get("model"), o.at("model"), `must not be empty; omit it or write "*" for any model`)
				ok = false
			default:
				r.Model = m
			}
		}
		var found bool
		if r.CreditsPerUnit, found = p.decimal(o, "credits_per_unit", true, nonNegative); !found {
			ok = false
		}
		if r.EffectiveFrom, found = p.instant(o, "effective_from", true); !found {
			ok = false
		}
		if !ok {
			continue
		}
		k := key{r.Meter, r.Model, r.EffectiveFrom.UnixNano()}
		if first, dup := lines[k]; dup {
			p.fail(o.node, o.path, "duplicate rate for meter %q, model %q, effective_from %s (first at line %d)",
				r.Meter, r.Model, r.EffectiveFrom.Format(time.RFC3339Nano), first)
			continue
		}
		lines[k] = o.node.Line
		c.Rates = append(c.Rates, r)
	}
	slices.SortFunc(c.Rates, func(a, b *Rate) int {
		return cmp.Or(cmp.Compare(a.Meter, b.Meter), cmp.Compare(a.Model, b.Model), a.EffectiveFrom.Compare(b.EffectiveFrom))
	})
	for _, r := range c.Rates {
		models := c.rates[r.Meter]
		if models == nil {
			models = map[string]*rateSeries{}
			c.rates[r.Meter] = models
		}
		s := models[r.Model]
		if s == nil {
			s = &rateSeries{}
			models[r.Model] = s
		}
		s.from = append(s.from, r.EffectiveFrom.UnixNano())
		s.cpu = append(s.cpu, r.CreditsPerUnit)
	}
	for _, m := range c.Meters {
		if c.rates[m.Name] == nil {
			src := p.meterSrc[m.Name]
			p.warn(src.get("name"), src.at("name"), "meter has no rates: its events are dead-lettered as no_rate")
		}
	}
}
