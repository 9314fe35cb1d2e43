package kafka

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/creditflow/creditflow/schemas"
)

var update = flag.Bool("update", false, "rewrite testdata/*.golden")

// TestRecordValuesGolden pins the value of every record kind, one per line,
// in testdata/values.golden (regenerate with go test -update).
func TestRecordValuesGolden(t *testing.T) {
	t.Parallel()
	var out bytes.Buffer
	line := func(name string, b []byte) {
		if !json.Valid(b) {
			t.Errorf("%s value is not JSON: %s", name, b)
		}
		out.WriteString(name + "\t")
		out.Write(b)
		out.WriteByte('\n')
	}
	for _, a := range testAlerts() {
		line("alert."+string(a.Type), appendAlert(nil, a))
	}
	line("entitlement", appendEntitlement(nil, schemas.EntitlementChange{Tenant: "acme", State: schemas.EntitlementOverage,
		PeriodStart: t0, PeriodEnd: t1, Time: time.Date(2026, 3, 9, 12, 30, 0, 250e6, time.FixedZone("CET", 3600))}))
	line("deadletter.utf8", appendDeadLetter(nil, schemas.DeadLetter{Reason: schemas.ReasonBadQuantity, Detail: "quantity -1 < 0",
		Record: []byte(`{"id":"e1","quantity":-1}`), Key: []byte("acme"), Topic: "usage.events", Partition: 4, Offset: 1234}))
	line("deadletter.binary", appendDeadLetter(nil, schemas.DeadLetter{Reason: schemas.ReasonMalformedJSON, Detail: "invalid \"UTF-8\"\n",
		Record: []byte{0xfe, 'a', 0x00}, Topic: "usage.events", Offset: 5}))
	line("grant", schemas.AppendGrantJSON(nil, schemas.Grant{ID: "g-1", Tenant: "acme", Credits: 1500_500000,
		Price: schemas.MustDecimal("12.50"), Kind: schemas.GrantBundle, Time: t0, ExpiresAfterPeriods: 2}))
	cs, ls := testCloses()
	line("close", appendClose(nil, cs[0], ls[:2]))
	out.WriteString("close.id\t" + string(closeID(nil, cs[0].Tenant, cs[0].PeriodStart)) + "\n")

	path := filepath.Join("testdata", "values.golden")
	if *update {
		if err := os.MkdirAll("testdata", 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, out.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if diff := cmp.Diff(string(want), out.String()); diff != "" {
		t.Errorf("record values differ from %s (-want +got):\n%s", path, diff)
	}
}

func TestDecodeEntitlement(t *testing.T) {
	t.Parallel()
	ok := schemas.EntitlementChange{Tenant: "acme", State: schemas.EntitlementCapped, PeriodStart: t0, PeriodEnd: t1,
		Time: time.Date(2026, 3, 2, 3, 4, 5, 6, time.UTC)}
	tests := []struct {
		name string
		in   string
		want []string // error substrings; none means ok
	}{
		{name: "ours", in: string(appendEntitlement(nil, ok))},
		{name: "offset times and unknown fields",
			in: `{"x":1,"tenant":"acme","state":"capped","period_start":"2026-03-01T01:00:00+01:00","period_end":"2026-04-01T00:00:00Z","time":"2026-03-02T03:04:05.000000006Z"}`},
		{name: "not json", in: `{"tenant":`, want: []string{"decode entitlement"}},
		{name: "all missing", in: `{}`, want: []string{`"tenant" is missing`, `"state" is missing`, `"period_start" is missing`, `"period_end" is missing`, `"time" is missing`}},
		{name: "bad state and time", in: `{"tenant":"","state":"paused","period_start":"yesterday","period_end":"2026-04-01T00:00:00Z","time":"2026-03-02T03:04:05Z"}`,
			want: []string{`"tenant" is empty`, `"paused" is not one of`, `"period_start"`}},
		{name: "wrong type", in: `{"tenant":1}`, want: []string{"cannot unmarshal number"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := DecodeEntitlement([]byte(tt.in))
			if len(tt.want) == 0 {
				if err != nil {
					t.Fatal(err)
				}
				if diff := cmp.Diff(ok, got); diff != "" {
					t.Errorf("DecodeEntitlement (-want +got):\n%s", diff)
				}
				return
			}
			if err == nil {
				t.Fatalf("nil error, got %+v", got)
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q lacks %q", err, w)
				}
			}
		})
	}
}

func TestAppendJSONString(t *testing.T) {
	t.Parallel()
	for _, s := range []string{"", "plain", `q"b\s`, "\x00\x01\x1f\t\n\r", "é中😀", "bad\xffutf8\xc3", "</script>&"} {
		b := appendJSONString(nil, s)
		var got string
		if err := json.Unmarshal(b, &got); err != nil {
			t.Errorf("%q → %s: %v", s, b, err)
			continue
		}
		want := strings.ToValidUTF8(s, "\uFFFD")
		// encoding/json replaces each invalid byte; ToValidUTF8 replaces runs.
		if s == "bad\xffutf8\xc3" {
			want = "bad\uFFFDutf8\uFFFD"
		}
		if got != want {
			t.Errorf("%q → %s decodes to %q, want %q", s, b, got, want)
		}
	}
}
