package webhook

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Header names of a webhook request; see the package documentation.
const (
	HeaderIdempotencyKey = "Idempotency-Key"
	HeaderTimestamp      = "X-Creditflow-Timestamp"
	HeaderSignature      = "X-Creditflow-Signature"
)

// signatureVersion prefixes each signature entry in HeaderSignature.
const signatureVersion = "v1="

// DefaultTolerance is the replay window Verify uses when given a tolerance
// of zero or less.
const DefaultTolerance = 5 * time.Minute

// Errors returned by Verify, so a receiver can tell a stale request from a
// forged one (both should be rejected, typically with 401).
var (
	ErrBadTimestamp = errors.New("webhook: timestamp missing, malformed or outside the tolerance")
	ErrBadSignature = errors.New("webhook: no v1 signature matches")
)

// Sign returns the X-Creditflow-Signature value for a request with the
// given timestamp header value and body: "v1=" and the lower-case hex
// HMAC-SHA256 of timestamp + "." + body keyed with secret.
func Sign(secret []byte, timestamp string, body []byte) string {
	return signatureVersion + hex.EncodeToString(mac(secret, timestamp, body))
}

func mac(secret []byte, timestamp string, body []byte) []byte {
	m := hmac.New(sha256.New, secret)
	m.Write([]byte(timestamp))
	m.Write([]byte{'.'})
	m.Write(body)
	return m.Sum(nil)
}

// Verify checks a received request: timestamp and signature are the values
// of X-Creditflow-Timestamp and X-Creditflow-Signature, body the raw request
// body, now the receiver's clock. It returns an error wrapping
// ErrBadTimestamp when the timestamp is not decimal unix seconds or lies
// further than tolerance from now (tolerance ≤ 0 means DefaultTolerance),
// and one wrapping ErrBadSignature when no comma-separated "v1=" entry of
// signature equals the expected HMAC; comparison is constant-time. An empty
// secret is an error. Verify does not detect a replay inside the window:
// receivers drop repeats by Idempotency-Key.
func Verify(secret []byte, timestamp, signature string, body []byte, now time.Time, tolerance time.Duration) error {
	if len(secret) == 0 {
		return errors.New("webhook: verify: empty secret")
	}
	if tolerance <= 0 {
		tolerance = DefaultTolerance
	}
	ts, err := strconv.ParseInt(timestamp, 10, 64)
	if err != nil {
		return fmt.Errorf("verify timestamp %q: %w", timestamp, ErrBadTimestamp)
	}
	// Compare in whole seconds so extreme values cannot overflow a Duration.
	skew := now.Unix() - ts
	if skew < 0 {
		skew = -skew
	}
	if skew < 0 || skew > int64(tolerance/time.Second) {
		return fmt.Errorf("verify timestamp %d against %d±%s: %w", ts, now.Unix(), tolerance, ErrBadTimestamp)
	}
	want := mac(secret, timestamp, body)
	for entry := range strings.SplitSeq(signature, ",") {
		hexSig, ok := strings.CutPrefix(strings.TrimSpace(entry), signatureVersion)
		if !ok {
			continue
		}
		got, err := hex.DecodeString(hexSig)
		if err != nil {
			continue
		}
		if hmac.Equal(got, want) {
			return nil
		}
	}
	return fmt.Errorf("verify signature: %w", ErrBadSignature)
}
