package schemas

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

var grantBase = []member{
	{"id", `"g1"`}, {"tenant", `"acme"`}, {"credits", `"1000"`}, {"price", `"49.00"`},
	{"kind", `"bundle"`}, {"time", `"2024-01-01T00:00:00Z"`}, {"expires_after_periods", `3`},
}

func grantJSON(over ...member) string { return record(grantBase, over...) }

func baseGrant() Grant {
	return Grant{ID: "g1", Tenant: "acme", Credits: 1000 * MicrosPerUnit, Price: Decimal{Coef: 4900, Scale: 2},
		Kind: GrantBundle, Time: t2024, ExpiresAfterPeriods: 3}
}

func TestDecodeGrantAccepts(t *testing.T) {
	t.Parallel()
	with := func(f func(*Grant)) Grant {
		g := baseGrant()
		f(&g)
		return g
	}
	tests := []struct {
		name string
		in   string
		want Grant
	}{
		{"base", grantJSON(), baseGrant()},
		{"numbers", grantJSON(m("credits", "1e3"), m("price", "49.00")), baseGrant()},
		{"smallest credits", grantJSON(m("credits", "0.000001")), with(func(g *Grant) { g.Credits = 1 })},
		{"credits trailing zeros", grantJSON(m("credits", `"2.50000000"`)), with(func(g *Grant) { g.Credits = 2_500_000 })},
		{"free promo", grantJSON(m("price", "0"), m("kind", `"promo"`)), with(func(g *Grant) { g.Price = Decimal{}; g.Kind = GrantPromo })},
		{"price 18 decimals", grantJSON(m("price", `"0.000000000000000001"`)), with(func(g *Grant) { g.Price = Decimal{Coef: 1, Scale: 18} })},
		{"price zeros beyond 18 dropped", grantJSON(m("price", `"1.50000000000000000000"`)), with(func(g *Grant) { g.Price = Decimal{Coef: 15 * 1e17, Scale: 18} })},
		{"price trailing zeros kept unless they overflow", grantJSON(m("price", `"10.000000000000000000"`)), with(func(g *Grant) { g.Price = Decimal{Coef: 10} })},
		{"price exponent", grantJSON(m("price", `1.25e1`)), with(func(g *Grant) { g.Price = Decimal{Coef: 125, Scale: 1} })},
		{"topup", grantJSON(m("kind", `"topup"`)), with(func(g *Grant) { g.Kind = GrantTopup })},
		{"adjustment", grantJSON(m("kind", `"adjustment"`)), with(func(g *Grant) { g.Kind = GrantAdjustment })},
		{"expires absent", grantJSON(m("expires_after_periods", "-")), with(func(g *Grant) { g.ExpiresAfterPeriods = 0 })},
		{"expires null", grantJSON(m("expires_after_periods", "null")), with(func(g *Grant) { g.ExpiresAfterPeriods = 0 })},
		{"expires 2.0", grantJSON(m("expires_after_periods", "2.0")), with(func(g *Grant) { g.ExpiresAfterPeriods = 2 })},
		{"expires max", grantJSON(m("expires_after_periods", "2147483647")), with(func(g *Grant) { g.ExpiresAfterPeriods = 2147483647 })},
		{"time offset", grantJSON(m("time", `"2024-01-01T01:00:00+01:00"`)), baseGrant()},
		{"unknown keys", grantJSON(m("note", `{"by":"ops"}`)), baseGrant()},
		{"id escapes", grantJSON(m("id", `"g\u00e9"`)), with(func(g *Grant) { g.ID = "gé" })},
	}
	for _, tt := range tests {
		got, err := DecodeGrant([]byte(tt.in))
		if err != nil {
			t.Errorf("%s: DecodeGrant(%s) = %v", tt.name, tt.in, err)
			continue
		}
		if diff := cmp.Diff(tt.want, got); diff != "" {
			t.Errorf("%s: DecodeGrant(%s) (-want +got):\n%s", tt.name, tt.in, diff)
		}
	}
}

func TestDecodeGrantRefuses(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		in     string
		reason Reason
		field  string
	}{
		{"not JSON", "{", ReasonMalformedJSON, ""},
		{"trailing data", grantJSON() + "{}", ReasonMalformedJSON, ""},
		{"array", "[]", ReasonMalformedJSON, ""},
		{"id missing", grantJSON(m("id", "-")), ReasonMissingField, "id"},
		{"id number", grantJSON(m("id", "1")), ReasonBadField, "id"},
		{"id 129 bytes", grantJSON(m("id", q(strings.Repeat("g", 129)))), ReasonBadField, "id"},
		{"id duplicate", `{"id":"x",` + grantJSON()[1:], ReasonBadField, "id"},
		{"tenant missing", grantJSON(m("tenant", "null")), ReasonMissingField, "tenant"},
		{"tenant characters", grantJSON(m("tenant", `"a*b"`)), ReasonBadField, "tenant"},
		{"credits missing", grantJSON(m("credits", "-")), ReasonMissingField, "credits"},
		{"credits zero", grantJSON(m("credits", "0")), ReasonBadField, "credits"},
		{"credits negative", grantJSON(m("credits", `"-5"`)), ReasonBadField, "credits"},
		{"credits 7 decimals", grantJSON(m("credits", "0.0000001")), ReasonBadField, "credits"},
		{"credits bool", grantJSON(m("credits", "true")), ReasonBadField, "credits"},
		{"credits exponent string", grantJSON(m("credits", `"1e3"`)), ReasonBadField, "credits"},
		{"credits out of range", grantJSON(m("credits", "1e13")), ReasonBadField, "credits"},
		{"price missing", grantJSON(m("price", "-")), ReasonMissingField, "price"},
		{"price negative", grantJSON(m("price", "-0.01")), ReasonBadField, "price"},
		{"price 19 decimals", grantJSON(m("price", `"0.0000000000000000001"`)), ReasonBadField, "price"},
		{"price out of range", grantJSON(m("price", "1e19")), ReasonBadField, "price"},
		{"price string with spaces", grantJSON(m("price", `" 1"`)), ReasonBadField, "price"},
		{"kind missing", grantJSON(m("kind", "-")), ReasonMissingField, "kind"},
		{"kind unknown", grantJSON(m("kind", `"gift"`)), ReasonBadField, "kind"},
		{"kind wrong case", grantJSON(m("kind", `"Bundle"`)), ReasonBadField, "kind"},
		{"time missing", grantJSON(m("time", "-")), ReasonMissingField, "time"},
		{"time bad", grantJSON(m("time", `"2024-02-30T00:00:00Z"`)), ReasonBadTime, "time"},
		{"time number", grantJSON(m("time", `0`)), ReasonBadTime, "time"},
		{"expires negative", grantJSON(m("expires_after_periods", "-1")), ReasonBadField, "expires_after_periods"},
		{"expires fraction", grantJSON(m("expires_after_periods", "1.5")), ReasonBadField, "expires_after_periods"},
		{"expires string", grantJSON(m("expires_after_periods", `"1"`)), ReasonBadField, "expires_after_periods"},
		{"expires too big", grantJSON(m("expires_after_periods", "2147483648")), ReasonBadField, "expires_after_periods"},
		{"order: credits before kind", grantJSON(m("credits", "0"), m("kind", "1")), ReasonBadField, "credits"},
	}
	for _, tt := range tests {
		_, err := DecodeGrant([]byte(tt.in))
		var re *RecordError
		if !errors.As(err, &re) {
			t.Errorf("%s: DecodeGrant(%s) = %v, want a *RecordError", tt.name, tt.in, err)
			continue
		}
		if re.Reason != tt.reason || re.Field != tt.field || re.Detail == "" {
			t.Errorf("%s: DecodeGrant(%s) = %v, want field %q: %s", tt.name, tt.in, err, tt.field, tt.reason)
		}
	}
}

func TestAppendGrantJSONRoundTrip(t *testing.T) {
	t.Parallel()
	grants := []Grant{
		baseGrant(),
		{ID: "topup-acme-2024-01-\"1\"", Tenant: "acme", Credits: 1, Price: Decimal{}, Kind: GrantTopup,
			Time: time.Date(2024, 1, 31, 23, 59, 59, 999, time.UTC)},
		{ID: "p", Tenant: "t", Credits: 12_345_678, Price: MustDecimal("0.000000000000000001"), Kind: GrantPromo,
			Time: time.Date(2024, 6, 1, 8, 0, 0, 0, time.FixedZone("", -7*3600)), ExpiresAfterPeriods: 12},
	}
	wantJSON := []string{
		`{"id":"g1","tenant":"acme","credits":"1000","price":"49.00","kind":"bundle","time":"2024-01-01T00:00:00Z","expires_after_periods":3}`,
		`{"id":"topup-acme-2024-01-\"1\"","tenant":"acme","credits":"0.000001","price":"0","kind":"topup","time":"2024-01-31T23:59:59.000000999Z","expires_after_periods":0}`,
		`{"id":"p","tenant":"t","credits":"12.345678","price":"0.000000000000000001","kind":"promo","time":"2024-06-01T15:00:00Z","expires_after_periods":12}`,
	}
	for i, g := range grants {
		b := AppendGrantJSON(nil, g)
		if string(b) != wantJSON[i] {
			t.Errorf("AppendGrantJSON = %s, want %s", b, wantJSON[i])
		}
		got, err := DecodeGrant(b)
		if err != nil {
			t.Errorf("DecodeGrant(%s) = %v", b, err)
			continue
		}
		g.Time = g.Time.UTC()
		if diff := cmp.Diff(g, got); diff != "" {
			t.Errorf("round trip of %s (-want +got):\n%s", b, diff)
		}
	}
}

// FuzzDecodeGrant checks that DecodeGrant never panics, only returns
// *RecordError, and that every accepted grant survives AppendGrantJSON.
func FuzzDecodeGrant(f *testing.F) {
	f.Add([]byte(grantJSON()))
	f.Add([]byte(grantJSON(m("credits", "1.5e2"), m("price", `"0.10"`), m("expires_after_periods", "-"))))
	f.Add([]byte(grantJSON(m("kind", `"gift"`))))
	f.Fuzz(func(t *testing.T, b []byte) {
		g, err := DecodeGrant(b)
		if err != nil {
			if _, ok := err.(*RecordError); !ok {
				t.Fatalf("error %T %v, want *RecordError", err, err)
			}
			return
		}
		canon := AppendGrantJSON(nil, g)
		again, err := DecodeGrant(canon)
		if err != nil {
			t.Fatalf("DecodeGrant(AppendGrantJSON) of %s = %v", canon, err)
		}
		if diff := cmp.Diff(g, again); diff != "" {
			t.Fatalf("round trip through %s (-want +got):\n%s", canon, diff)
		}
	})
}
