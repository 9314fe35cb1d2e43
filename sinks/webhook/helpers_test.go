package webhook

import (
	"bytes"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/creditflow/creditflow/schemas"
	"github.com/creditflow/creditflow/sinks/files"
)

var testSecret = []byte("0123456789abcdef-test-secret")

var jan = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

// alert returns a threshold alert with the given id.
func alert(id string) schemas.Alert {
	return schemas.Alert{
		ID:          id,
		Type:        schemas.AlertThreshold,
		Tenant:      "t1",
		PeriodStart: jan,
		Time:        jan.Add(36 * time.Hour),
		Threshold:   schemas.MustDecimal("80"),
		Consumed:    8000 * schemas.MicrosPerUnit,
		Available:   10000 * schemas.MicrosPerUnit,
		Entitlement: schemas.EntitlementActive,
	}
}

// alerts returns n threshold alerts a0, a1, ….
func alerts(n int) []schemas.Alert {
	as := make([]schemas.Alert, n)
	for i := range as {
		as[i] = alert("a" + strconv.Itoa(i))
	}
	return as
}

// wantBody is the request body for a: its alerts.jsonl line without "\n".
func wantBody(a schemas.Alert) []byte {
	return bytes.TrimSuffix(files.AppendAlertJSON(nil, a), []byte("\n"))
}

// received is one request as the receiver saw it.
type received struct {
	At     time.Time
	Method string
	Header http.Header
	Body   []byte
}

// recorder is a receiver that records requests and answers with respond
// (called with the 0-based request number).
type recorder struct {
	respond func(n int, w http.ResponseWriter)

	mu   sync.Mutex
	reqs []received
}

func (rc *recorder) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	rc.mu.Lock()
	n := len(rc.reqs)
	rc.reqs = append(rc.reqs, received{At: time.Now(), Method: r.Method, Header: r.Header.Clone(), Body: body})
	rc.mu.Unlock()
	if rc.respond == nil {
		w.WriteHeader(http.StatusNoContent)
		return
	}
	rc.respond(n, w)
}

func (rc *recorder) requests() []received {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return append([]received(nil), rc.reqs...)
}

func (rc *recorder) keys() []string {
	var ks []string
	for _, r := range rc.requests() {
		ks = append(ks, r.Header.Get(HeaderIdempotencyKey))
	}
	return ks
}

// handlerTransport answers requests by calling a handler in the calling
// goroutine: no sockets, so it works inside a synctest bubble.
type handlerTransport struct{ h http.Handler }

func (ht handlerTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	if err := req.Context().Err(); err != nil {
		return nil, err
	}
	rec := httptest.NewRecorder()
	ht.h.ServeHTTP(rec, req)
	if req.Body != nil {
		req.Body.Close()
	}
	resp := rec.Result()
	resp.Request = req
	return resp, nil
}

// inProcessClient is an http.Client served by h without sockets.
func inProcessClient(h http.Handler) *http.Client {
	return &http.Client{Transport: handlerTransport{h}}
}

// newTLS starts a TLS test server with h, closed at the end of the test.
func newTLS(t *testing.T, h http.Handler) *httptest.Server {
	t.Helper()
	srv := httptest.NewTLSServer(h)
	t.Cleanup(srv.Close)
	return srv
}

// waitFor polls cond until it holds, failing the test after 10s.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}

// syncBuffer is a bytes.Buffer safe for a logger in another goroutine.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// constSource is a rand.Source that always returns v: 0 draws the
// shortest backoff, ^uint64(0) the longest.
type constSource uint64

func (c constSource) Uint64() uint64 { return uint64(c) }
