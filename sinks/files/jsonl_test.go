package files

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/creditflow/creditflow/schemas"
)

func TestAppendDeadLetter(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, record, want string
	}{
		{"plain", `{"id":1}`, `{"reason":"bad_time","record":"{\"id\":1}"}`},
		{"quotes and backslashes", `{"a":"x\"y\\z"}`, `{"reason":"bad_time","record":"{\"a\":\"x\\\"y\\\\z\"}"}`},
		{"control characters", "a\tb\r\n\x00\x1f\x7f", `{"reason":"bad_time","record":"a\tb\r\n\u0000\u001f` + "\x7f" + `"}`},
		{"non-ASCII kept verbatim", "crédits 🚀 \u2028 \ufffd", `{"reason":"bad_time","record":"crédits 🚀 ` + "\u2028" + ` �"}`},
		{"invalid UTF-8", "a\xffb\xc3", `{"reason":"bad_time","record":"a�b�","record_base64":"Yf9iww=="}`},
		{"surrogate half", "\xed\xa0\x80", `{"reason":"bad_time","record":"���","record_base64":"7aCA"}`},
		{"empty", "", `{"reason":"bad_time","record":""}`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got := AppendDeadLetter([]byte("prefix"), schemas.ReasonBadTime, []byte(tc.record))
			if !bytes.HasPrefix(got, []byte("prefix")) {
				t.Fatalf("prefix lost: %q", got)
			}
			got = got[len("prefix"):]
			if string(got) != tc.want+"\n" {
				t.Errorf("got  %s\nwant %s", got, tc.want)
			}
			var v struct {
				Reason       string `json:"reason"`
				Record       string `json:"record"`
				RecordBase64 []byte `json:"record_base64"`
			}
			if err := json.Unmarshal(got, &v); err != nil {
				t.Fatalf("not valid JSON: %v", err)
			}
			orig := v.Record
			if v.RecordBase64 != nil {
				orig = string(v.RecordBase64)
			}
			if v.Reason != "bad_time" || orig != tc.record {
				t.Errorf("decoded reason %q, record %q; want bad_time, %q", v.Reason, orig, tc.record)
			}
		})
	}
}

func TestAppendJSONStringRoundTrip(t *testing.T) {
	t.Parallel()
	for _, s := range []string{"", "abc", "\x00\x01\x08\x0c\x1f \"\\/", "é€😀", "tab\there", "\x7f", "<&>", "\u2028\u2029"} {
		got, valid := appendJSONString(nil, s)
		var back string
		if err := json.Unmarshal(got, &back); err != nil || back != s || !valid {
			t.Errorf("%q: got %s (valid %v), decodes to %q, %v", s, got, valid, back, err)
		}
	}
}

func TestAppendAlertJSON(t *testing.T) {
	t.Parallel()
	at := ts("2026-01-15T10:30:00.25Z")
	alerts := []schemas.Alert{
		{ID: "thr-1", Type: schemas.AlertThreshold, Tenant: "t1", PeriodStart: jan.In(time.FixedZone("X", 3600)), Time: at,
			Threshold: dec("80.00"), Consumed: micros("8000"), Available: micros("10000.5"),
			ProjectedExhaustion: ts("2026-01-20T00:00:00Z"), Entitlement: schemas.EntitlementActive},
		{ID: "thr-2", Type: schemas.AlertThreshold, Tenant: "t1", PeriodStart: jan, Time: ts("2026-01-16T00:00:00Z"),
			Threshold: dec("87.5"), Consumed: micros("8750"), Available: micros("10000")},
		{ID: "cap-1", Type: schemas.AlertCapReached, Tenant: "t\"2", PeriodStart: jan, Time: at,
			Consumed: micros("12000"), Available: micros("10000"), Entitlement: schemas.EntitlementCapped},
		{ID: "top-1", Type: schemas.AlertTopup, Tenant: "t3", PeriodStart: jan, Time: at,
			GrantID: "topup-t3-2026-01-1", Credits: micros("5000"), Price: dec("10.00")},
		{ID: "run-1", Type: schemas.AlertRunaway, Tenant: "t4", PeriodStart: jan, Time: at,
			RatePerMinute: micros("1200.5"), BaselinePerMinute: micros("100"),
			Drivers: []schemas.Driver{{Meter: "tokens", Model: "gpt", Credits: micros("3000")}, {Meter: "calls", Credits: micros("1.5")}}},
		{ID: "run-2", Type: schemas.AlertRunaway, Tenant: "t4", PeriodStart: jan, Time: at},
		{ID: "x-1", Type: "future_type", Tenant: "t5", PeriodStart: jan, Time: at, Consumed: 1},
	}
	var out []byte
	for _, a := range alerts {
		line := AppendAlertJSON(nil, a)
		if !json.Valid(line) {
			t.Errorf("%s: invalid JSON %s", a.ID, line)
		}
		out = append(out, line...)
	}
	checkGolden(t, "alerts.jsonl.golden", out)

	// Field order is fixed: decoding into an ordered form keeps it.
	dec := json.NewDecoder(bytes.NewReader(AppendAlertJSON(nil, alerts[0])))
	var keys []string
	depth := 0
	for {
		tok, err := dec.Token()
		if err != nil {
			break
		}
		switch v := tok.(type) {
		case json.Delim:
			if v == '{' || v == '[' {
				depth++
			} else {
				depth--
			}
		case string:
			if depth == 1 { // keys and values alternate: every value here is a string
				keys = append(keys, v)
			}
		}
	}
	var names []string
	for i := 0; i < len(keys); i += 2 {
		names = append(names, keys[i])
	}
	want := []string{"id", "type", "tenant", "period_start", "time", "threshold", "consumed", "available", "projected_exhaustion", "entitlement"}
	if diff := cmp.Diff(want, names); diff != "" {
		t.Errorf("field order (-want +got):\n%s", diff)
	}
}

func TestDeadLetterBase64IsStandard(t *testing.T) {
	t.Parallel()
	rec := []byte{0xff, 0xfe, 0xfd}
	line := AppendDeadLetter(nil, schemas.ReasonMalformedJSON, rec)
	want := base64.StdEncoding.EncodeToString(rec)
	if !bytes.Contains(line, []byte(`"record_base64":"`+want+`"`)) {
		t.Errorf("line %s lacks record_base64 %s", line, want)
	}
}
