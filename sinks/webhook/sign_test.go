package webhook

import (
	"errors"
	"strconv"
	"testing"
	"time"
)

func TestSignKnownVector(t *testing.T) {
	t.Parallel()
	// HMAC-SHA256("key", "1767225600.{}"), computed independently with
	// `printf '1767225600.{}' | openssl dgst -sha256 -hmac key`.
	got := Sign([]byte("key"), "1767225600", []byte("{}"))
	want := "v1=" + knownHMAC
	if got != want {
		t.Fatalf("Sign = %s, want %s", got, want)
	}
}

func TestVerify(t *testing.T) {
	t.Parallel()
	now := time.Unix(1767225600, 0)
	body := []byte(`{"id":"a1"}`)
	ts := strconv.FormatInt(now.Unix(), 10)
	good := Sign(testSecret, ts, body)
	tests := []struct {
		name      string
		secret    []byte
		timestamp string
		signature string
		body      []byte
		now       time.Time
		tolerance time.Duration
		want      error // nil, ErrBadTimestamp, ErrBadSignature or errAny
	}{
		{name: "valid", secret: testSecret, timestamp: ts, signature: good, body: body, now: now},
		{name: "valid at edge of tolerance", secret: testSecret, timestamp: ts, signature: good, body: body, now: now.Add(30 * time.Second), tolerance: 30 * time.Second},
		{name: "valid within default tolerance", secret: testSecret, timestamp: ts, signature: good, body: body, now: now.Add(-DefaultTolerance)},
		{name: "one of several entries", secret: testSecret, timestamp: ts, signature: "v0=abc, v1=00ff," + good + " ,v1=zz", body: body, now: now},
		{name: "too old", secret: testSecret, timestamp: ts, signature: good, body: body, now: now.Add(31 * time.Second), tolerance: 30 * time.Second, want: ErrBadTimestamp},
		{name: "in the future", secret: testSecret, timestamp: ts, signature: good, body: body, now: now.Add(-DefaultTolerance - time.Second), want: ErrBadTimestamp},
		{name: "malformed timestamp", secret: testSecret, timestamp: "12x", signature: good, body: body, now: now, want: ErrBadTimestamp},
		{name: "empty timestamp", secret: testSecret, timestamp: "", signature: good, body: body, now: now, want: ErrBadTimestamp},
		{name: "extreme timestamp", secret: testSecret, timestamp: "-9223372036854775808", signature: good, body: body, now: now, want: ErrBadTimestamp},
		{name: "tampered body", secret: testSecret, timestamp: ts, signature: good, body: []byte(`{"id":"a2"}`), now: now, want: ErrBadSignature},
		{name: "timestamp swapped", secret: testSecret, timestamp: strconv.FormatInt(now.Unix()+1, 10), signature: good, body: body, now: now, want: ErrBadSignature},
		{name: "wrong secret", secret: []byte("another-secret-of-16+"), timestamp: ts, signature: good, body: body, now: now, want: ErrBadSignature},
		{name: "no version prefix", secret: testSecret, timestamp: ts, signature: good[3:], body: body, now: now, want: ErrBadSignature},
		{name: "not hex", secret: testSecret, timestamp: ts, signature: "v1=xyz", body: body, now: now, want: ErrBadSignature},
		{name: "empty signature", secret: testSecret, timestamp: ts, signature: "", body: body, now: now, want: ErrBadSignature},
		{name: "empty secret", timestamp: ts, signature: good, body: body, now: now, want: errAny},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			err := Verify(tt.secret, tt.timestamp, tt.signature, tt.body, tt.now, tt.tolerance)
			switch {
			case tt.want == nil && err != nil:
				t.Fatalf("Verify: %v", err)
			case tt.want == errAny && err == nil:
				t.Fatal("Verify succeeded, want an error")
			case tt.want != nil && tt.want != errAny && !errors.Is(err, tt.want):
				t.Fatalf("Verify = %v, want %v", err, tt.want)
			}
		})
	}
}

var errAny = errors.New("any error")

const knownHMAC = "df344de429b8ee672e1863e0008fdbd0080000536fbccdf0e4f89846acbbe872"
