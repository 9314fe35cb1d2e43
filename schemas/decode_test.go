package schemas

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"
	"unsafe"

	"github.com/google/go-cmp/cmp"
)

// member is one "key": value pair of a test record; a Raw of "-" removes
// the key from the base record.
type member struct{ Key, Raw string }

var (
	nativeBase = []member{
		{"id", `"e1"`}, {"tenant", `"acme"`}, {"meter", `"tokens"`},
		{"quantity", `"1.5"`}, {"time", `"2024-01-01T00:00:00Z"`},
	}
	cloudBase = []member{
		{"specversion", `"1.0"`}, {"id", `"e1"`}, {"source", `"/svc"`}, {"subject", `"acme"`},
		{"type", `"tokens"`}, {"time", `"2024-01-01T00:00:00Z"`}, {"datacontenttype", `"application/json"`},
		{"data", `{"quantity":"1.5"}`},
	}
)

// record builds a JSON object from base with the members in over replacing
// (or, with Raw "-", removing) those of the same key; new keys go last.
func record(base []member, over ...member) string {
	var b strings.Builder
	b.WriteByte('{')
	sep := ""
	write := func(m member) {
		if m.Raw == "-" {
			return
		}
		fmt.Fprintf(&b, "%s%q:%s", sep, m.Key, m.Raw)
		sep = ","
	}
	used := map[string]bool{}
	for _, m := range base {
		for _, o := range over {
			if o.Key == m.Key {
				m = o
				used[o.Key] = true
			}
		}
		write(m)
	}
	for _, o := range over {
		if !used[o.Key] {
			write(o)
		}
	}
	b.WriteByte('}')
	return b.String()
}

func native(over ...member) string { return record(nativeBase, over...) }
func cloud(over ...member) string  { return record(cloudBase, over...) }

// data returns a CloudEvents data member.
func data(raw string) member { return member{"data", raw} }

func m(k, raw string) member { return member{k, raw} }

func q(s string) string { return fmt.Sprintf("%q", s) }

var t2024 = time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)

// baseEvent is what nativeBase and cloudBase decode to.
func baseEvent() UsageEvent {
	return UsageEvent{ID: []byte("e1"), Tenant: "acme", Meter: "tokens", Quantity: 1_500_000, Time: t2024}
}

func TestDecodeUsageAccepts(t *testing.T) {
	t.Parallel()
	long := strings.Repeat("x", 128)
	with := func(f func(*UsageEvent)) UsageEvent {
		ev := baseEvent()
		f(&ev)
		return ev
	}
	qty := func(m Micros) UsageEvent { return with(func(e *UsageEvent) { e.Quantity = m }) }
	at := func(t time.Time) UsageEvent { return with(func(e *UsageEvent) { e.Time = t }) }
	tests := []struct {
		name string
		in   string
		want UsageEvent
	}{
		{"minimal native", native(), baseEvent()},
		{"model and properties", native(m("model", `"gpt-4o"`), m("properties", `{"region": "eu", "n":[1,{"x":null}]}`)),
			with(func(e *UsageEvent) { e.Model = "gpt-4o"; e.Properties = []byte(`{"region": "eu", "n":[1,{"x":null}]}`) })},
		{"null model and properties", native(m("model", "null"), m("properties", "null")), baseEvent()},
		{"empty model", native(m("model", `""`)), baseEvent()},
		{"whitespace everywhere", " \t\r\n{ \"id\" : \"e1\" , \"tenant\":\"acme\",\n\"meter\":\"tokens\",\"quantity\" :\"1.5\" ,\"time\":\"2024-01-01T00:00:00Z\" } \n", baseEvent()},
		{"unknown keys ignored, even repeated", native(m("extra", `[1,{"a":"b"}]`), m("data", `{"quantity":"x"}`), m("subject", "1"), m("extra2", "true")), baseEvent()},
		{"repeated unknown key", `{"x":1,"x":2,` + native()[1:], baseEvent()},
		{"key order does not matter", `{"time":"2024-01-01T00:00:00Z","quantity":"1.5","meter":"tokens","tenant":"acme","id":"e1"}`, baseEvent()},
		{"escaped key", `{"\u0069d":"e1",` + native(m("id", "-"))[1:], baseEvent()},

		{"id 128 bytes", native(m("id", q(long))), with(func(e *UsageEvent) { e.ID = []byte(long) })},
		{"id any characters", native(m("id", `" a/b\"c\\d\n\u00e9\ud83d\ude00"`)), with(func(e *UsageEvent) { e.ID = []byte(" a/b\"c\\d\né😀") })},
		{"id lone surrogates become U+FFFD", native(m("id", `"\ud800x\udc00\ud800\u0041"`)), with(func(e *UsageEvent) { e.ID = []byte("\uFFFDx\uFFFD\uFFFDA") })},
		{"id raw UTF-8", native(m("id", `"é😀"`)), with(func(e *UsageEvent) { e.ID = []byte("é😀") })},
		{"tenant 128 bytes", native(m("tenant", q(long))), with(func(e *UsageEvent) { e.Tenant = long })},
		{"tenant all characters", native(m("tenant", `"AZaz09._:-"`)), with(func(e *UsageEvent) { e.Tenant = "AZaz09._:-" })},
		{"tenant escaped", native(m("tenant", `"\u0061cme"`)), baseEvent()},
		{"meter 128 bytes any characters", native(m("meter", q("é "+long[3:]))), with(func(e *UsageEvent) { e.Meter = "é " + long[3:] })},
		{"model 128 bytes", native(m("model", q(long))), with(func(e *UsageEvent) { e.Model = long })},

		{"quantity integer number", native(m("quantity", "12")), qty(12_000_000)},
		{"quantity decimal number", native(m("quantity", "0.000001")), qty(1)},
		{"quantity zero", native(m("quantity", "0")), qty(0)},
		{"quantity negative zero", native(m("quantity", "-0.0")), qty(0)},
		{"quantity negative zero string", native(m("quantity", `"-0"`)), qty(0)},
		{"quantity exponent", native(m("quantity", "1.5e3")), qty(1_500_000_000)},
		{"quantity exponent negative", native(m("quantity", "1E-6")), qty(1)},
		{"quantity exponent plus", native(m("quantity", "25e+0")), qty(25_000_000)},
		{"quantity exponent with zeros", native(m("quantity", "0.00000000000000000000000000000000000000000000000001e50")), qty(1_000_000)},
		{"quantity exponent huge with zero mantissa", native(m("quantity", "0e999999999999999999999")), qty(0)},
		{"quantity 6 decimals", native(m("quantity", "0.123456")), qty(123_456)},
		{"quantity trailing zeros beyond 6", native(m("quantity", `"1.0000000"`)), qty(1_000_000)},
		{"quantity trailing zeros beyond 6 number", native(m("quantity", "2.50000000000000000000000")), qty(2_500_000)},
		{"quantity exactly 1e12", native(m("quantity", "1000000000000")), qty(MaxQuantity)},
		{"quantity exactly 1e12 exponent", native(m("quantity", "1e12")), qty(MaxQuantity)},
		{"quantity exactly 1e12 string", native(m("quantity", `"1000000000000.000000"`)), qty(MaxQuantity)},
		{"quantity just below 1e12", native(m("quantity", `"999999999999.999999"`)), qty(MaxQuantity - 1)},
		{"quantity string leading zeros", native(m("quantity", `"007.5"`)), qty(7_500_000)},
		{"quantity string escaped", native(m("quantity", `"\u0031"`)), qty(1_000_000)},

		{"time lower case t and z", native(m("time", `"2024-01-01t00:00:00z"`)), baseEvent()},
		{"time offset converts to UTC", native(m("time", `"2024-01-01T05:30:00+05:30"`)), baseEvent()},
		{"time negative offset crosses a day", native(m("time", `"2023-12-31T19:00:00-05:00"`)), baseEvent()},
		{"time -00:00", native(m("time", `"2024-01-01T00:00:00-00:00"`)), baseEvent()},
		{"time fraction", native(m("time", `"2024-01-01T00:00:00.5Z"`)), at(t2024.Add(500 * time.Millisecond))},
		{"time nanoseconds", native(m("time", `"2024-01-01T00:00:00.123456789Z"`)), at(t2024.Add(123456789))},
		{"time leap day", native(m("time", `"2024-02-29T12:00:00Z"`)), at(time.Date(2024, 2, 29, 12, 0, 0, 0, time.UTC))},
		{"time leap day 2000", native(m("time", `"2000-02-29T00:00:00Z"`)), at(time.Date(2000, 2, 29, 0, 0, 0, 0, time.UTC))},
		{"time end of day", native(m("time", `"2024-12-31T23:59:59.999999999Z"`)), at(time.Date(2024, 12, 31, 23, 59, 59, 999999999, time.UTC))},
		{"time offset 23:59", native(m("time", `"2024-01-02T23:59:00+23:59"`)), at(time.Date(2024, 1, 2, 0, 0, 0, 0, time.UTC))},
		{"time escaped but valid", native(m("time", `"2024-01-01\u005400:00:00\u005a"`)), baseEvent()},
		{"time year 0000", native(m("time", `"0000-01-01T00:00:00Z"`)), at(time.Date(0, 1, 1, 0, 0, 0, 0, time.UTC))},
		{"time year 9999", native(m("time", `"9999-12-31T23:59:59Z"`)), at(time.Date(9999, 12, 31, 23, 59, 59, 0, time.UTC))},

		{"cloudevent", cloud(), baseEvent()},
		{"cloudevent full data", cloud(data(`{"quantity":1.5e0,"model":"m1","properties":{"k":"v"},"other":1}`)),
			with(func(e *UsageEvent) { e.Model = "m1"; e.Properties = []byte(`{"k":"v"}`) })},
		{"cloudevent specversion last", record(cloudBase[1:], m("specversion", `"1.0"`)), baseEvent()},
		{"cloudevent ignores native keys", cloud(m("tenant", "1"), m("quantity", "true"), m("meter", "null")), baseEvent()},
		{"cloudevent null model and properties", cloud(data(`{"quantity":"1.5","model":null,"properties":null}`)), baseEvent()},
	}
	d := NewDecoder()
	for _, tt := range tests {
		var ev UsageEvent
		if err := d.DecodeUsage([]byte(tt.in), &ev); err != nil {
			t.Errorf("%s: DecodeUsage(%s) = %v", tt.name, tt.in, err)
			continue
		}
		if diff := eventsDiff(&ev, &tt.want); diff != "" {
			t.Errorf("%s: DecodeUsage(%s): %s", tt.name, tt.in, diff)
		}
		// The reference agrees.
		want, err := refDecodeUsage([]byte(tt.in))
		if err != nil {
			t.Errorf("%s: reference refuses %s: %v", tt.name, tt.in, err)
		} else if diff := eventsDiff(&ev, &want); diff != "" {
			t.Errorf("%s: reference differs on %s: %s", tt.name, tt.in, diff)
		}
	}
}

func TestDecodeUsageRefuses(t *testing.T) {
	t.Parallel()
	long := strings.Repeat("x", 129)
	deep := func(n int) string {
		return native(m("properties", `{"a":`+strings.Repeat("[", n-2)+strings.Repeat("]", n-2)+"}"))
	}
	const (
		malformed = ReasonMalformedJSON
		missing   = ReasonMissingField
		badField  = ReasonBadField
		badQty    = ReasonBadQuantity
		badTime   = ReasonBadTime
	)
	tests := []struct {
		name   string
		in     string
		reason Reason
		field  string
	}{
		{"empty", "", malformed, ""},
		{"only whitespace", " \n", malformed, ""},
		{"null", "null", malformed, ""},
		{"array", "[" + native() + "]", malformed, ""},
		{"string", `"x"`, malformed, ""},
		{"trailing garbage", native() + "x", malformed, ""},
		{"two objects", native() + native(), malformed, ""},
		{"unterminated", native()[:20], malformed, ""},
		{"trailing comma", native()[:len(native())-1] + ",}", malformed, ""},
		{"missing colon", `{"id" "e1"}`, malformed, ""},
		{"single quotes", `{'id':'e1'}`, malformed, ""},
		{"byte order mark", "\xEF\xBB\xBF" + native(), malformed, ""},
		{"invalid UTF-8 in a value", native(m("id", "\"e\xff\"")), malformed, ""},
		{"invalid UTF-8 in an unknown key", native(m("x\xc0\xafy", "1")), malformed, ""},
		{"UTF-8 surrogate encoded", native(m("meter", "\"\xed\xa0\x80\"")), malformed, ""},
		{"overlong UTF-8", native(m("meter", "\"\xe0\x80\xaf\"")), malformed, ""},
		{"truncated UTF-8", native(m("meter", "\"\xe2\x82\"")), malformed, ""},
		{"raw tab in string", native(m("id", "\"a\tb\"")), malformed, ""},
		{"raw newline in properties", native(m("properties", "{\"a\":\"x\ny\"}")), malformed, ""},
		{"bad escape", native(m("id", `"a\x"`)), malformed, ""},
		{"short unicode escape", native(m("id", `"\u12"`)), malformed, ""},
		{"bad hex in unicode escape", native(m("id", `"\u12g4"`)), malformed, ""},
		{"leading zero number", native(m("extra", "01")), malformed, ""},
		{"number without fraction digits", native(m("quantity", "1.")), malformed, ""},
		{"number without exponent digits", native(m("quantity", "1e")), malformed, ""},
		{"plus number", native(m("quantity", "+1")), malformed, ""},
		{"bare minus", native(m("quantity", "- ")), malformed, ""},
		{"NaN literal", native(m("quantity", "NaN")), malformed, ""},
		{"Infinity literal", native(m("quantity", "Infinity")), malformed, ""},
		{"hex number", native(m("quantity", "0x10")), malformed, ""},
		{"bad literal", native(m("model", "nul")), malformed, ""},
		{"nesting 10001 deep", deep(10001), malformed, ""},
		{"malformed beats missing fields", `{"x":1`, malformed, ""},
		{"malformed beats bad fields", native(m("id", "1")) + "]", malformed, ""},

		{"id missing", native(m("id", "-")), missing, "id"},
		{"id null", native(m("id", "null")), missing, "id"},
		{"id number", native(m("id", "7")), badField, "id"},
		{"id empty", native(m("id", `""`)), badField, "id"},
		{"id 129 bytes", native(m("id", q(long))), badField, "id"},
		{"id 129 bytes after unescaping", native(m("id", `"`+strings.Repeat("x", 127)+`\u00e9"`)), badField, "id"},
		{"id duplicate", `{"id":"e0",` + native()[1:], badField, "id"},
		{"tenant missing", native(m("tenant", "-")), missing, "tenant"},
		{"tenant object", native(m("tenant", "{}")), badField, "tenant"},
		{"tenant empty", native(m("tenant", `""`)), badField, "tenant"},
		{"tenant 129 bytes", native(m("tenant", q(long))), badField, "tenant"},
		{"tenant space", native(m("tenant", `"ac me"`)), badField, "tenant"},
		{"tenant slash", native(m("tenant", `"ac/me"`)), badField, "tenant"},
		{"tenant non-ASCII", native(m("tenant", `"acmé"`)), badField, "tenant"},
		{"meter missing", native(m("meter", "-")), missing, "meter"},
		{"meter null", native(m("meter", "null")), missing, "meter"},
		{"meter empty", native(m("meter", `""`)), badField, "meter"},
		{"meter array", native(m("meter", `["x"]`)), badField, "meter"},
		{"meter 129 bytes", native(m("meter", q(long))), badField, "meter"},
		{"model number", native(m("model", "4")), badField, "model"},
		{"model 129 bytes", native(m("model", q(long))), badField, "model"},
		{"model duplicate", native(m("model", `"a"`))[:len(native(m("model", `"a"`)))-1] + `,"model":"a"}`, badField, "model"},
		{"quantity missing", native(m("quantity", "-")), missing, "quantity"},
		{"quantity null", native(m("quantity", "null")), missing, "quantity"},
		{"quantity duplicate", native(m("x", "1"))[:len(native(m("x", "1")))-1] + `,"quantity":1}`, badField, "quantity"},
		{"quantity bool", native(m("quantity", "true")), badQty, "quantity"},
		{"quantity object", native(m("quantity", `{"v":1}`)), badQty, "quantity"},
		{"quantity negative", native(m("quantity", "-1")), badQty, "quantity"},
		{"quantity negative tiny", native(m("quantity", "-0.000001")), badQty, "quantity"},
		{"quantity negative string", native(m("quantity", `"-2.5"`)), badQty, "quantity"},
		{"quantity 7 decimals", native(m("quantity", "0.1234567")), badQty, "quantity"},
		{"quantity 7 decimals string", native(m("quantity", `"0.0000001"`)), badQty, "quantity"},
		{"quantity too small exponent", native(m("quantity", "1e-7")), badQty, "quantity"},
		{"quantity 1.5e-6", native(m("quantity", "1.5e-6")), badQty, "quantity"},
		{"quantity 1e12 + 0.000001", native(m("quantity", "1000000000000.000001")), badQty, "quantity"},
		{"quantity 1e12 + 0.000001 string", native(m("quantity", `"1000000000000.000001"`)), badQty, "quantity"},
		{"quantity 1e13", native(m("quantity", "1e13")), badQty, "quantity"},
		{"quantity huge exponent", native(m("quantity", "1e999999999999999999999")), badQty, "quantity"},
		{"quantity tiny exponent", native(m("quantity", "1e-999999999999999999999")), badQty, "quantity"},
		{"quantity 20 digits", native(m("quantity", "12345678901234567890")), badQty, "quantity"},
		{"quantity string exponent", native(m("quantity", `"1e3"`)), badQty, "quantity"},
		{"quantity string plus", native(m("quantity", `"+1"`)), badQty, "quantity"},
		{"quantity string space", native(m("quantity", `" 1"`)), badQty, "quantity"},
		{"quantity string empty", native(m("quantity", `""`)), badQty, "quantity"},
		{"quantity string dot", native(m("quantity", `"1."`)), badQty, "quantity"},
		{"quantity string leading dot", native(m("quantity", `".5"`)), badQty, "quantity"},
		{"quantity string NaN", native(m("quantity", `"NaN"`)), badQty, "quantity"},
		{"quantity string Infinity", native(m("quantity", `"Infinity"`)), badQty, "quantity"},
		{"quantity string comma", native(m("quantity", `"1,5"`)), badQty, "quantity"},
		{"time missing", native(m("time", "-")), missing, "time"},
		{"time null", native(m("time", "null")), missing, "time"},
		{"time number", native(m("time", "1704067200")), badTime, "time"},
		{"time no zone", native(m("time", `"2024-01-01T00:00:00"`)), badTime, "time"},
		{"time date only", native(m("time", `"2024-01-01"`)), badTime, "time"},
		{"time space separator", native(m("time", `"2024-01-01 00:00:00Z"`)), badTime, "time"},
		{"time 29 February common year", native(m("time", `"2023-02-29T00:00:00Z"`)), badTime, "time"},
		{"time 29 February 1900", native(m("time", `"1900-02-29T00:00:00Z"`)), badTime, "time"},
		{"time 31 April", native(m("time", `"2024-04-31T00:00:00Z"`)), badTime, "time"},
		{"time month 13", native(m("time", `"2024-13-01T00:00:00Z"`)), badTime, "time"},
		{"time month 0", native(m("time", `"2024-00-01T00:00:00Z"`)), badTime, "time"},
		{"time day 0", native(m("time", `"2024-01-00T00:00:00Z"`)), badTime, "time"},
		{"time hour 24", native(m("time", `"2024-01-01T24:00:00Z"`)), badTime, "time"},
		{"time minute 60", native(m("time", `"2024-01-01T00:60:00Z"`)), badTime, "time"},
		{"time leap second", native(m("time", `"2016-12-31T23:59:60Z"`)), badTime, "time"},
		{"time offset hour 24", native(m("time", `"2024-01-01T00:00:00+24:00"`)), badTime, "time"},
		{"time offset minute 60", native(m("time", `"2024-01-01T00:00:00+05:60"`)), badTime, "time"},
		{"time offset without colon", native(m("time", `"2024-01-01T00:00:00+0530"`)), badTime, "time"},
		{"time fraction 10 digits", native(m("time", `"2024-01-01T00:00:00.1234567890Z"`)), badTime, "time"},
		{"time empty fraction", native(m("time", `"2024-01-01T00:00:00.Z"`)), badTime, "time"},
		{"time comma fraction", native(m("time", `"2024-01-01T00:00:00,5Z"`)), badTime, "time"},
		{"time trailing space", native(m("time", `"2024-01-01T00:00:00Z "`)), badTime, "time"},
		{"time 5-digit year", native(m("time", `"12024-01-01T00:00:00Z"`)), badTime, "time"},
		{"time escaped vertical tab as offset sign", native(m("time", `"2024-01-01T00:00:00\u000b05:00"`)), badTime, "time"},
		{"time escaped carriage return as offset sign", native(m("time", `"2024-01-01T00:00:00\r05:00"`)), badTime, "time"},
		{"time before year 0 in UTC", native(m("time", `"0000-01-01T00:00:00+00:01"`)), badTime, "time"},
		{"time after year 9999 in UTC", native(m("time", `"9999-12-31T23:59:59-00:01"`)), badTime, "time"},
		{"properties string", native(m("properties", `"{}"`)), badField, "properties"},
		{"properties array", native(m("properties", `[]`)), badField, "properties"},
		{"properties duplicate", native(m("properties", "{}"))[:len(native(m("properties", "{}")))-1] + `,"properties":{}}`, badField, "properties"},

		{"order: id before tenant", native(m("id", "-"), m("tenant", "1")), missing, "id"},
		{"order: tenant before meter", native(m("tenant", `"a b"`), m("meter", "-")), badField, "tenant"},
		{"order: meter before model", native(m("meter", "1"), m("model", "1")), badField, "meter"},
		{"order: model before quantity", native(m("model", "1"), m("quantity", "-1")), badField, "model"},
		{"order: quantity before time", native(m("quantity", "-1"), m("time", "1")), badQty, "quantity"},
		{"order: time before properties", native(m("time", "1"), m("properties", "1")), badTime, "time"},
		{"order: missing before duplicate", `{"x":1}`, missing, "id"},

		{"cloudevent specversion 0.3", cloud(m("specversion", `"0.3"`)), badField, "specversion"},
		{"cloudevent specversion number", cloud(m("specversion", `1.0`)), badField, "specversion"},
		{"cloudevent specversion null", cloud(m("specversion", `null`)), badField, "specversion"},
		{"cloudevent specversion beats id", cloud(m("specversion", `"2.0"`), m("id", "-")), badField, "specversion"},
		{"cloudevent id missing", cloud(m("id", "-")), missing, "id"},
		{"cloudevent subject missing", cloud(m("subject", "-")), missing, "subject"},
		{"cloudevent subject with native tenant", cloud(m("subject", "-"), m("tenant", `"acme"`)), missing, "subject"},
		{"cloudevent subject bad", cloud(m("subject", `"a b"`)), badField, "subject"},
		{"cloudevent type missing", cloud(m("type", "-")), missing, "type"},
		{"cloudevent type empty", cloud(m("type", `""`)), badField, "type"},
		{"cloudevent data missing", cloud(data("-")), missing, "data.quantity"},
		{"cloudevent data null", cloud(data("null")), missing, "data.quantity"},
		{"cloudevent data string", cloud(data(`"{\"quantity\":1}"`)), badField, "data"},
		{"cloudevent data duplicate", cloud(m("x", "1"))[:len(cloud(m("x", "1")))-1] + `,"data":{}}`, badField, "data"},
		{"cloudevent data before time", cloud(data("[]"), m("time", "-")), badField, "data"},
		{"cloudevent data.quantity missing", cloud(data(`{"model":"m"}`)), missing, "data.quantity"},
		{"cloudevent data.quantity bad", cloud(data(`{"quantity":"1e3"}`)), badQty, "data.quantity"},
		{"cloudevent data.quantity duplicate", cloud(data(`{"quantity":1,"quantity":1}`)), badField, "data.quantity"},
		{"cloudevent data.model bad", cloud(data(`{"quantity":1,"model":2}`)), badField, "data.model"},
		{"cloudevent data.model before data.quantity", cloud(data(`{"quantity":-1,"model":2}`)), badField, "data.model"},
		{"cloudevent data.properties bad", cloud(data(`{"quantity":1,"properties":[]}`)), badField, "data.properties"},
		{"cloudevent time bad", cloud(m("time", `"yesterday"`)), badTime, "time"},
		{"cloudevent time before data.properties", cloud(m("time", `1`), data(`{"quantity":1,"properties":1}`)), badTime, "time"},
	}
	d := NewDecoder()
	for _, tt := range tests {
		var ev UsageEvent
		err := d.DecodeUsage([]byte(tt.in), &ev)
		var re *RecordError
		if !errors.As(err, &re) {
			t.Errorf("%s: DecodeUsage(%q) = %v, want a *RecordError", tt.name, tt.in, err)
			continue
		}
		if re.Reason != tt.reason || re.Field != tt.field || re.Detail == "" {
			t.Errorf("%s: DecodeUsage(%q) = %v, want field %q: %s (with a detail)", tt.name, tt.in, err, tt.field, tt.reason)
		}
		// The reference agrees.
		if _, rerr := refDecodeUsage([]byte(tt.in)); rerr == nil || rerr.Reason != tt.reason || rerr.Field != tt.field {
			t.Errorf("%s: reference on %q = %v, want field %q: %s", tt.name, tt.in, rerr, tt.field, tt.reason)
		}
	}
}

func TestDecodeUsageNesting(t *testing.T) {
	t.Parallel()
	// The top-level object is depth 1; 10000 is the deepest accepted.
	in := native(m("x", strings.Repeat("[", 9999)+strings.Repeat("]", 9999)))
	var ev UsageEvent
	if err := NewDecoder().DecodeUsage([]byte(in), &ev); err != nil {
		t.Fatalf("nesting 10000 deep: %v", err)
	}
	if _, err := refDecodeUsage([]byte(in)); err != nil {
		t.Fatalf("reference, nesting 10000 deep: %v", err)
	}
	in = native(m("x", strings.Repeat("[", 10000)+strings.Repeat("]", 10000)))
	if err := NewDecoder().DecodeUsage([]byte(in), &ev); err == nil || err.(*RecordError).Reason != ReasonMalformedJSON {
		t.Fatalf("nesting 10001 deep: %v, want malformed_json", err)
	}
}

func TestDecodeUsageMalformedDetail(t *testing.T) {
	t.Parallel()
	var ev UsageEvent
	err := NewDecoder().DecodeUsage([]byte(`{"id":"e1"} x`), &ev)
	want := &RecordError{Reason: ReasonMalformedJSON, Detail: "data after the JSON object at offset 12"}
	if diff := cmp.Diff(want, err); diff != "" {
		t.Errorf("error (-want +got):\n%s", diff)
	}
}

func TestDecodeUsageAliasing(t *testing.T) {
	t.Parallel()
	d := NewDecoder()
	in := []byte(native(m("properties", `{"a":1}`)))
	var ev UsageEvent
	if err := d.DecodeUsage(in, &ev); err != nil {
		t.Fatal(err)
	}
	within := func(s []byte) bool {
		p := uintptr(unsafe.Pointer(unsafe.SliceData(s)))
		base := uintptr(unsafe.Pointer(unsafe.SliceData(in)))
		return p >= base && p < base+uintptr(len(in))
	}
	if !within(ev.ID) || !within(ev.Properties) {
		t.Errorf("ID and Properties should alias the input when the id has no escapes")
	}
	kept := ev.Clone()

	// An escaped id is decoded into scratch, which the next call reuses.
	in2 := []byte(native(m("id", `"e\u0032"`), m("tenant", `"acme"`)))
	var ev2 UsageEvent
	if err := d.DecodeUsage(in2, &ev2); err != nil {
		t.Fatal(err)
	}
	if string(ev2.ID) != "e2" {
		t.Errorf("ID = %q, want e2", ev2.ID)
	}
	if diff := eventsDiff(&kept, &UsageEvent{ID: []byte("e1"), Tenant: "acme", Meter: "tokens", Quantity: 1_500_000, Time: t2024, Properties: []byte(`{"a":1}`)}); diff != "" {
		t.Errorf("Clone: %s", diff)
	}
	// Interned strings are shared between events.
	if unsafe.StringData(ev.Tenant) != unsafe.StringData(ev2.Tenant) || unsafe.StringData(ev.Meter) != unsafe.StringData(ev2.Meter) {
		t.Errorf("Tenant and Meter should be interned")
	}
}

func TestDecodeUsageInternLimit(t *testing.T) {
	t.Parallel()
	d := NewDecoder()
	var ev UsageEvent
	for i := range InternLimit + 10 {
		in := native(m("tenant", fmt.Sprintf(`"t%d"`, i)))
		if err := d.DecodeUsage([]byte(in), &ev); err != nil {
			t.Fatal(err)
		}
		if want := fmt.Sprintf("t%d", i); ev.Tenant != want {
			t.Fatalf("Tenant = %q, want %q", ev.Tenant, want)
		}
	}
	if len(d.interned) != InternLimit {
		t.Errorf("intern table has %d entries, want the limit %d", len(d.interned), InternLimit)
	}
	// Past the limit, values are still right, just not interned.
	if err := d.DecodeUsage([]byte(native(m("tenant", `"fresh"`))), &ev); err != nil || ev.Tenant != "fresh" {
		t.Errorf("past the limit: Tenant %q, err %v", ev.Tenant, err)
	}
}

func TestDecodeUsageNoAllocs(t *testing.T) {
	d := NewDecoder()
	records := [][]byte{
		[]byte(native(m("model", `"gpt-4o"`), m("properties", `{"region":"eu"}`))),
		[]byte(native(m("id", `"e\"1\u00e9"`), m("quantity", "1.5e3"), m("time", `"2024-01-01T05:30:00.25+05:30"`))),
		[]byte(cloud(data(`{"quantity":2,"model":"m"}`))),
	}
	var ev UsageEvent
	for _, r := range records { // warm the intern table and scratch
		if err := d.DecodeUsage(r, &ev); err != nil {
			t.Fatal(err)
		}
	}
	allocs := testing.AllocsPerRun(100, func() {
		for _, r := range records {
			if err := d.DecodeUsage(r, &ev); err != nil {
				t.Fatal(err)
			}
		}
	})
	if allocs != 0 {
		t.Errorf("DecodeUsage allocates %v times per run, want 0", allocs)
	}
}

func TestAppendUsageJSONRoundTrip(t *testing.T) {
	t.Parallel()
	events := []UsageEvent{
		baseEvent(),
		{ID: []byte("id \"with\" \\ escapes\n\x01é😀"), Tenant: "t.1:x_y-z", Meter: "m é", Model: "gpt\t4",
			Quantity: 123, Time: time.Date(2024, 2, 29, 23, 59, 59, 1, time.UTC), Properties: []byte(`{"a": [1, "b"]}`)},
		{ID: []byte("x"), Tenant: "t", Meter: "m", Quantity: MaxQuantity, Time: time.Date(2024, 7, 1, 12, 0, 0, 0, time.FixedZone("x", 3600))},
	}
	wantJSON := []string{
		`{"id":"e1","tenant":"acme","meter":"tokens","quantity":"1.5","time":"2024-01-01T00:00:00Z"}`,
		`{"id":"id \"with\" \\ escapes\n\u0001é😀","tenant":"t.1:x_y-z","meter":"m é","model":"gpt\t4","quantity":"0.000123","time":"2024-02-29T23:59:59.000000001Z","properties":{"a": [1, "b"]}}`,
		`{"id":"x","tenant":"t","meter":"m","quantity":"1000000000000","time":"2024-07-01T11:00:00Z"}`,
	}
	d := NewDecoder()
	for i, ev := range events {
		b := AppendUsageJSON(nil, &ev)
		if string(b) != wantJSON[i] {
			t.Errorf("AppendUsageJSON = %s, want %s", b, wantJSON[i])
		}
		var got UsageEvent
		if err := d.DecodeUsage(b, &got); err != nil {
			t.Errorf("DecodeUsage(%s) = %v", b, err)
			continue
		}
		if diff := eventsDiff(&got, &ev); diff != "" {
			t.Errorf("round trip of %s: %s", b, diff)
		}
	}
	// Invalid UTF-8 is replaced, so the output is still valid.
	b := AppendUsageJSON(nil, &UsageEvent{ID: []byte("a\xffb"), Tenant: "t", Meter: "m", Time: t2024})
	if want := `{"id":"a\ufffdb","tenant":"t","meter":"m","quantity":"0","time":"2024-01-01T00:00:00Z"}`; string(b) != want {
		t.Errorf("AppendUsageJSON = %s, want %s", b, want)
	}
}
