package webhook

import (
	"context"
	"errors"
	"math/bits"
	"math/rand/v2"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/rs/zerolog"

	"github.com/creditflow/creditflow/schemas"
)

func mustNew(t testing.TB, cfg Config) *Sender {
	t.Helper()
	s, err := New(cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return s
}

// startRun runs s.Run in a goroutine; the returned stop cancels it and
// checks it returned nil.
func startRun(t *testing.T, s *Sender) (stop func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() { errc <- s.Run(ctx) }()
	var once sync.Once
	stop = func() {
		once.Do(func() {
			cancel()
			if err := <-errc; err != nil {
				t.Errorf("Run: %v", err)
			}
		})
	}
	t.Cleanup(stop)
	return stop
}

func TestNewValidation(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		cfg  Config
		want []string // fragments of the joined error; none means valid
		hide []string // must not appear in the error
	}{
		{name: "valid https", cfg: Config{URL: "https://hooks.example/x", Secret: testSecret}},
		{name: "http allowed", cfg: Config{URL: "http://127.0.0.1:9/x", Secret: testSecret, AllowHTTP: true}},
		{
			name: "everything wrong at once",
			cfg: Config{URL: "http://hooks.example/x", Secret: []byte("short"), Timeout: -1,
				MaxAttempts: -1, BackoffMin: -1, QueueSize: -1},
			want: []string{"must be https", "secret must be at least 16 bytes, got 5", "timeout -1ns is negative",
				"max attempts -1 is negative", "backoff [-1ns, 0s] is negative", "queue size -1 is negative"},
		},
		{name: "missing url and secret", cfg: Config{}, want: []string{"url is required", "got 0"}},
		{name: "other scheme", cfg: Config{URL: "ftp://user:hunter2@hooks.example/x", Secret: testSecret},
			want: []string{`scheme "ftp" is not https`}, hide: []string{"hunter2"}},
		{name: "http credentials hidden", cfg: Config{URL: "http://user:hunter2@hooks.example/x?token=t0k", Secret: testSecret},
			want: []string{"http://hooks.example must be https"}, hide: []string{"hunter2", "t0k"}},
		{name: "unparsable", cfg: Config{URL: "https://hooks.example/%zz?token=t0k", Secret: testSecret},
			want: []string{"does not parse"}, hide: []string{"t0k"}},
		{name: "no host", cfg: Config{URL: "https:///x", Secret: testSecret}, want: []string{"no host"}},
		{name: "min above max", cfg: Config{URL: "https://h/x", Secret: testSecret, BackoffMin: 2 * time.Minute},
			want: []string{"backoff min 2m0s exceeds max 1m0s"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := New(tt.cfg)
			if len(tt.want) == 0 {
				if err != nil {
					t.Fatalf("New: %v", err)
				}
				return
			}
			if err == nil {
				t.Fatal("New succeeded, want an error")
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q lacks %q", err, w)
				}
			}
			for _, h := range tt.hide {
				if strings.Contains(err.Error(), h) {
					t.Errorf("error %q reveals %q", err, h)
				}
			}
			if strings.Contains(err.Error(), string(tt.cfg.Secret)) && len(tt.cfg.Secret) > 0 {
				t.Errorf("error %q reveals the secret", err)
			}
		})
	}
}

func TestNewDefaults(t *testing.T) {
	t.Parallel()
	secret := append([]byte(nil), testSecret...)
	s := mustNew(t, Config{URL: "https://hooks.example/x", Secret: secret})
	secret[0] = 'X' // New must have copied it
	got := s.cfg
	if got.Timeout != 5*time.Second || got.MaxAttempts != 8 || got.BackoffMin != 500*time.Millisecond ||
		got.BackoffMax != time.Minute || got.QueueSize != 10000 || got.Now == nil || got.Rand == nil {
		t.Errorf("defaults = timeout %s, attempts %d, backoff [%s, %s], queue %d", got.Timeout, got.MaxAttempts,
			got.BackoffMin, got.BackoffMax, got.QueueSize)
	}
	if string(got.Secret) != string(testSecret) {
		t.Error("New did not copy the secret")
	}
	if s.client.CheckRedirect == nil {
		t.Error("default client follows redirects")
	}
}

func TestDeliversSignedRequest(t *testing.T) {
	t.Parallel()
	rc := &recorder{}
	srv := newTLS(t, rc)
	now := time.Unix(1767225600, 0)
	s := mustNew(t, Config{URL: srv.URL + "/hooks/alerts", Secret: testSecret, Client: srv.Client(),
		Now: func() time.Time { return now }})
	runaway := schemas.Alert{
		ID: "run-1", Type: schemas.AlertRunaway, Tenant: "t\"2", PeriodStart: jan, Time: jan.Add(time.Hour),
		RatePerMinute: 50 * schemas.MicrosPerUnit, BaselinePerMinute: 5 * schemas.MicrosPerUnit,
		Drivers: []schemas.Driver{{Meter: "tokens", Model: "m1", Credits: 40 * schemas.MicrosPerUnit}},
	}
	sent := []schemas.Alert{alert("thr-1"), runaway}
	s.Enqueue(sent...)
	runaway.Drivers[0].Meter = "changed after Enqueue" // Enqueue copied it
	startRun(t, s)
	waitFor(t, "two deliveries", func() bool { return s.Stats().Delivered == 2 })

	reqs := rc.requests()
	if len(reqs) != 2 {
		t.Fatalf("%d requests, want 2", len(reqs))
	}
	sent[1].Drivers = []schemas.Driver{{Meter: "tokens", Model: "m1", Credits: 40 * schemas.MicrosPerUnit}}
	for i, r := range reqs {
		a := sent[i]
		if r.Method != http.MethodPost {
			t.Errorf("method %s, want POST", r.Method)
		}
		if ct := r.Header.Get("Content-Type"); ct != "application/json" {
			t.Errorf("Content-Type %q", ct)
		}
		if k := r.Header.Get(HeaderIdempotencyKey); k != a.ID {
			t.Errorf("Idempotency-Key %q, want the alert id %q", k, a.ID)
		}
		ts := r.Header.Get(HeaderTimestamp)
		if ts != "1767225600" {
			t.Errorf("timestamp %q, want 1767225600", ts)
		}
		if diff := cmp.Diff(string(wantBody(a)), string(r.Body)); diff != "" {
			t.Errorf("body of %s (-want +got):\n%s", a.ID, diff)
		}
		sig := r.Header.Get(HeaderSignature)
		if err := Verify(testSecret, ts, sig, r.Body, now.Add(time.Minute), 0); err != nil {
			t.Errorf("Verify(%s): %v", a.ID, err)
		}
		if err := Verify([]byte("not-the-secret-at-all"), ts, sig, r.Body, now, 0); !errors.Is(err, ErrBadSignature) {
			t.Errorf("Verify with another secret = %v, want ErrBadSignature", err)
		}
	}
	if st := s.Stats(); st != (Stats{Delivered: 2}) {
		t.Errorf("Stats = %+v", st)
	}
}

func TestRetriesAfter500ThenSucceeds(t *testing.T) {
	t.Parallel()
	rc := &recorder{respond: func(n int, w http.ResponseWriter) {
		if n < 2 {
			http.Error(w, "boom", http.StatusInternalServerError)
			return
		}
		w.WriteHeader(http.StatusOK)
	}}
	srv := newTLS(t, rc)
	s := mustNew(t, Config{URL: srv.URL, Secret: testSecret, Client: srv.Client(),
		BackoffMin: time.Millisecond, BackoffMax: 2 * time.Millisecond})
	s.Enqueue(alert("a1"))
	startRun(t, s)
	waitFor(t, "delivery", func() bool { return s.Stats().Delivered == 1 })
	if st := s.Stats(); st != (Stats{Delivered: 1, Retries: 2}) {
		t.Errorf("Stats = %+v, want 1 delivered after 2 retries", st)
	}
	for _, r := range rc.requests() {
		if err := Verify(testSecret, r.Header.Get(HeaderTimestamp), r.Header.Get(HeaderSignature), r.Body, time.Now(), 0); err != nil {
			t.Errorf("retry not signed afresh: %v", err)
		}
	}
	if diff := cmp.Diff([]string{"a1", "a1", "a1"}, rc.keys()); diff != "" {
		t.Errorf("idempotency keys (-want +got):\n%s", diff)
	}
}

func TestIdempotencyKeyIsAlertID(t *testing.T) {
	t.Parallel()
	rc := &recorder{respond: func(n int, w http.ResponseWriter) {
		if n == 0 {
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		w.WriteHeader(http.StatusAccepted)
	}}
	srv := newTLS(t, rc)
	s := mustNew(t, Config{URL: srv.URL, Secret: testSecret, Client: srv.Client(), BackoffMin: time.Millisecond,
		BackoffMax: time.Millisecond})
	s.Enqueue(alerts(3)...)
	startRun(t, s)
	waitFor(t, "deliveries", func() bool { return s.Stats().Delivered == 3 })
	if diff := cmp.Diff([]string{"a0", "a0", "a1", "a2"}, rc.keys()); diff != "" {
		t.Errorf("idempotency keys (-want +got):\n%s", diff)
	}
}

func TestPermanent400NotRetried(t *testing.T) {
	t.Parallel()
	rc := &recorder{respond: func(n int, w http.ResponseWriter) {
		if n == 0 {
			http.Error(w, `{"error":"unknown tenant"}`, http.StatusBadRequest)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	}}
	srv := newTLS(t, rc)
	var logs syncBuffer
	s := mustNew(t, Config{URL: srv.URL + "/path-token", Secret: testSecret, Client: srv.Client(),
		BackoffMin: time.Millisecond, BackoffMax: time.Millisecond, Log: zerolog.New(&logs)})
	s.Enqueue(alert("a1"), alert("a2"))
	startRun(t, s)
	waitFor(t, "outcomes", func() bool { st := s.Stats(); return st.Delivered+st.Failed == 2 })
	if st := s.Stats(); st != (Stats{Delivered: 1, Failed: 1}) {
		t.Errorf("Stats = %+v, want a1 failed once and a2 delivered", st)
	}
	if diff := cmp.Diff([]string{"a1", "a2"}, rc.keys()); diff != "" {
		t.Errorf("requests (-want +got):\n%s", diff)
	}
	out := logs.String()
	for _, want := range []string{`"level":"error"`, `"status":400`, `"alert":"a1"`, `unknown tenant`, `"component":"webhook"`} {
		if !strings.Contains(out, want) {
			t.Errorf("log lacks %s:\n%s", want, out)
		}
	}
	for _, hide := range []string{string(testSecret), "path-token"} {
		if strings.Contains(out, hide) {
			t.Errorf("log reveals %q:\n%s", hide, out)
		}
	}
}

// TestStatusClasses runs each status against a receiver that always
// answers it, in a synctest bubble so backoffs take no real time.
func TestStatusClasses(t *testing.T) {
	t.Parallel()
	tests := []struct {
		status int
		want   Stats
		reqs   int
	}{
		{200, Stats{Delivered: 1}, 1},
		{204, Stats{Delivered: 1}, 1},
		{299, Stats{Delivered: 1}, 1},
		{301, Stats{Failed: 1}, 1}, // the default client does not follow redirects
		{400, Stats{Failed: 1}, 1},
		{401, Stats{Failed: 1}, 1},
		{404, Stats{Failed: 1}, 1},
		{410, Stats{Failed: 1}, 1},
		{422, Stats{Failed: 1}, 1},
		{408, Stats{Failed: 1, Retries: 2}, 3},
		{429, Stats{Failed: 1, Retries: 2}, 3},
		{500, Stats{Failed: 1, Retries: 2}, 3},
		{502, Stats{Failed: 1, Retries: 2}, 3},
		{503, Stats{Failed: 1, Retries: 2}, 3},
	}
	for _, tt := range tests {
		t.Run(strconv.Itoa(tt.status), func(t *testing.T) {
			t.Parallel()
			synctest.Test(t, func(t *testing.T) {
				rc := &recorder{respond: func(_ int, w http.ResponseWriter) {
					if tt.status == 301 {
						w.Header().Set("Location", "https://elsewhere.example/")
					}
					w.WriteHeader(tt.status)
				}}
				s := mustNew(t, Config{URL: "https://hooks.example/x", Secret: testSecret, Client: s301(rc, tt.status),
					MaxAttempts: 3})
				s.Enqueue(alert("a1"))
				stop := startRun(t, s)
				time.Sleep(time.Hour)
				stop()
				if got := s.Stats(); got != tt.want {
					t.Errorf("Stats = %+v, want %+v", got, tt.want)
				}
				if n := len(rc.requests()); n != tt.reqs {
					t.Errorf("%d requests, want %d", n, tt.reqs)
				}
			})
		})
	}
}

// s301 returns an in-process client for rc; for 301 it keeps the default
// client's no-redirect policy, which an in-process client must set itself.
func s301(rc *recorder, status int) *http.Client {
	c := inProcessClient(rc)
	if status == 301 {
		c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	}
	return c
}

func TestRetryAfter(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		status int
		after  func(now time.Time) string
		want   time.Duration
	}{
		{"429 seconds", http.StatusTooManyRequests, func(time.Time) string { return "7" }, 7 * time.Second},
		{"429 zero", http.StatusTooManyRequests, func(time.Time) string { return "0" }, 0},
		{"503 http date", http.StatusServiceUnavailable,
			func(now time.Time) string { return now.Add(9 * time.Second).UTC().Format(http.TimeFormat) }, 9 * time.Second},
		{"408 past date", http.StatusRequestTimeout,
			func(now time.Time) string { return now.Add(-time.Hour).UTC().Format(http.TimeFormat) }, 0},
		{"429 capped at BackoffMax", http.StatusTooManyRequests, func(time.Time) string { return "3600" }, time.Minute},
		{"429 huge", http.StatusTooManyRequests, func(time.Time) string { return "99999999999999999999" }, 0}, // unparsable: jitter (0 here)
		{"429 garbage", http.StatusTooManyRequests, func(time.Time) string { return "soon" }, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			synctest.Test(t, func(t *testing.T) {
				rc := &recorder{respond: func(n int, w http.ResponseWriter) {
					if n == 0 {
						w.Header().Set("Retry-After", tt.after(time.Now()))
						w.WriteHeader(tt.status)
						return
					}
					w.WriteHeader(http.StatusOK)
				}}
				// Jitter always draws 0, so any wait comes from Retry-After.
				s := mustNew(t, Config{URL: "https://hooks.example/x", Secret: testSecret, Client: inProcessClient(rc),
					Rand: constSource(0)})
				s.Enqueue(alert("a1"))
				stop := startRun(t, s)
				time.Sleep(2 * time.Hour)
				stop()
				reqs := rc.requests()
				if len(reqs) != 2 {
					t.Fatalf("%d requests, want 2", len(reqs))
				}
				if gap := reqs[1].At.Sub(reqs[0].At); gap != tt.want {
					t.Errorf("retried after %s, want %s", gap, tt.want)
				}
				if st := s.Stats(); st != (Stats{Delivered: 1, Retries: 1}) {
					t.Errorf("Stats = %+v", st)
				}
			})
		})
	}
}

func TestBackoffFullJitter(t *testing.T) {
	t.Parallel()
	const minB, maxB = time.Second, 5 * time.Second
	ceilings := []time.Duration{minB, 2 * minB, 4 * minB, maxB, maxB}
	pcgWaits := func() []time.Duration {
		// The documented draw: the high word of a uniform uint64 times
		// ceiling+1.
		r := rand.NewPCG(7, 11)
		var ws []time.Duration
		for _, c := range ceilings {
			hi, _ := bits.Mul64(r.Uint64(), uint64(c)+1)
			ws = append(ws, time.Duration(hi))
		}
		return ws
	}
	tests := []struct {
		name string
		src  func() rand.Source
		want []time.Duration
	}{
		{"longest draws are the exponential ceilings", func() rand.Source { return constSource(^uint64(0)) }, ceilings},
		{"shortest draws are zero", func() rand.Source { return constSource(0) }, make([]time.Duration, len(ceilings))},
		{"seeded draws", func() rand.Source { return rand.NewPCG(7, 11) }, pcgWaits()},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			synctest.Test(t, func(t *testing.T) {
				rc := &recorder{respond: func(_ int, w http.ResponseWriter) { w.WriteHeader(http.StatusBadGateway) }}
				s := mustNew(t, Config{URL: "https://hooks.example/x", Secret: testSecret, Client: inProcessClient(rc),
					MaxAttempts: len(ceilings) + 1, BackoffMin: minB, BackoffMax: maxB, Rand: tt.src()})
				s.Enqueue(alert("a1"))
				stop := startRun(t, s)
				time.Sleep(time.Hour)
				stop()
				reqs := rc.requests()
				var gaps []time.Duration
				for i := 1; i < len(reqs); i++ {
					gaps = append(gaps, reqs[i].At.Sub(reqs[i-1].At))
				}
				if diff := cmp.Diff(tt.want, gaps); diff != "" {
					t.Errorf("waits between attempts (-want +got):\n%s", diff)
				}
				want := Stats{Failed: 1, Retries: uint64(len(ceilings))}
				if st := s.Stats(); st != want {
					t.Errorf("Stats = %+v, want %+v", st, want)
				}
			})
		})
	}
}

func TestBackoffCeilingSaturates(t *testing.T) {
	t.Parallel()
	s := mustNew(t, Config{URL: "https://h/x", Secret: testSecret, Rand: constSource(^uint64(0))})
	for n, want := range map[int]time.Duration{1: 500 * time.Millisecond, 2: time.Second, 7: 32 * time.Second,
		8: time.Minute, 200: time.Minute} {
		if got := s.backoff(n, result{}); got != want {
			t.Errorf("backoff after %d attempts = %s, want %s", n, got, want)
		}
	}
}

func TestNetworkErrorsAndTimeoutsAreRetried(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		var calls int
		var deliveredAt time.Time
		var logs syncBuffer
		hang := &recorder{respond: func(_ int, w http.ResponseWriter) { w.WriteHeader(http.StatusOK) }}
		client := &http.Client{Transport: roundTripFunc(func(r *http.Request) (*http.Response, error) {
			calls++
			switch calls {
			case 1:
				return nil, errors.New("connection refused")
			case 2: // hang until the attempt times out
				<-r.Context().Done()
				return nil, r.Context().Err()
			}
			deliveredAt = time.Now()
			return handlerTransport{hang}.RoundTrip(r)
		})}
		s := mustNew(t, Config{URL: "https://hooks.example/hook-token?key=k3y", Secret: testSecret, Client: client,
			Timeout: 2 * time.Second, Rand: constSource(0), Log: zerolog.New(&logs)})
		start := time.Now()
		s.Enqueue(alert("a1"))
		stop := startRun(t, s)
		time.Sleep(time.Hour)
		stop()
		if elapsed := deliveredAt.Sub(start); elapsed != 2*time.Second {
			t.Errorf("delivered after %s, want the 2s attempt timeout", elapsed)
		}
		if st := s.Stats(); st != (Stats{Delivered: 1, Retries: 2}) {
			t.Errorf("Stats = %+v", st)
		}
		out := logs.String()
		if !strings.Contains(out, "connection refused") || !strings.Contains(out, "deadline exceeded") {
			t.Errorf("log lacks the causes:\n%s", out)
		}
		if strings.Contains(out, "hook-token") || strings.Contains(out, "k3y") {
			t.Errorf("log reveals the URL path or query:\n%s", out)
		}
	})
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

func TestQueueOverflowDropsOldest(t *testing.T) {
	t.Parallel()
	rc := &recorder{}
	srv := newTLS(t, rc)
	var logs syncBuffer
	s := mustNew(t, Config{URL: srv.URL, Secret: testSecret, Client: srv.Client(), QueueSize: 3, Log: zerolog.New(&logs)})
	s.Enqueue(alerts(5)...)
	if st := s.Stats(); st != (Stats{Dropped: 2, Queued: 3}) {
		t.Fatalf("Stats after overflow = %+v, want 2 dropped and 3 queued", st)
	}
	startRun(t, s)
	waitFor(t, "deliveries", func() bool { return s.Stats().Delivered == 3 })
	if diff := cmp.Diff([]string{"a2", "a3", "a4"}, rc.keys()); diff != "" {
		t.Errorf("delivered (-want +got): the oldest should be dropped\n%s", diff)
	}
	if st := s.Stats(); st != (Stats{Delivered: 3, Dropped: 2}) {
		t.Errorf("Stats = %+v", st)
	}
	if out := logs.String(); !strings.Contains(out, `"dropped":2`) || !strings.Contains(out, "queue full") {
		t.Errorf("drop not logged:\n%s", out)
	}
}

func TestEnqueueNeverBlocksOnHangingServer(t *testing.T) {
	t.Parallel()
	arrived := make(chan struct{}, 1)
	release := make(chan struct{})
	srv := newTLS(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case arrived <- struct{}{}:
		default:
		}
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	t.Cleanup(func() { close(release) }) // before srv.Close: cleanups run last-in first-out
	// The receiver holds the first request until the attempt times out.
	// Enqueue must return meanwhile: the calls below all complete while
	// that request is still in flight and nothing was delivered, which
	// they could not if one waited for the receiver. (Their time is
	// logged, not asserted: this checks that Enqueue does not wait, not
	// how fast it is.)
	const attempt = 2 * time.Second
	s := mustNew(t, Config{URL: srv.URL, Secret: testSecret, Client: srv.Client(), Timeout: attempt})
	stop := startRun(t, s)
	s.Enqueue(alert("first"))
	select {
	case <-arrived:
	case <-time.After(10 * time.Second):
		t.Fatal("first request never arrived")
	}

	as := alerts(20000)
	start := time.Now()
	for i := range as {
		s.Enqueue(as[i])
	}
	st := s.Stats()
	elapsed := time.Since(start)
	t.Logf("20000 Enqueue calls: %s", elapsed)
	if elapsed >= attempt {
		t.Fatalf("20000 Enqueue calls took %s, as long as the hanging attempt lasts: Enqueue waited for the receiver (or the machine was too slow to tell)", elapsed)
	}
	if st.Queued != 10000 || st.Dropped != 10000 || st.InFlight != 1 || st.Delivered != 0 {
		t.Errorf("Stats = %+v, want 10000 queued, 10000 dropped, 1 in flight", st)
	}
	stop() // Run gives up after draining for the attempt timeout
}

func TestConcurrentEnqueue(t *testing.T) {
	t.Parallel()
	rc := &recorder{}
	s := mustNew(t, Config{URL: "https://hooks.example/x", Secret: testSecret, Client: inProcessClient(rc), QueueSize: 50})
	startRun(t, s)
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Go(func() {
			for i := range 500 {
				s.Enqueue(alert(strconv.Itoa(g) + "-" + strconv.Itoa(i)))
			}
		})
	}
	wg.Wait()
	waitFor(t, "queue to empty", func() bool { st := s.Stats(); return st.Queued == 0 && st.InFlight == 0 })
	st := s.Stats()
	if st.Delivered+st.Dropped != 2000 || int(st.Delivered) != len(rc.requests()) {
		t.Errorf("Stats = %+v with %d requests; want delivered + dropped = 2000", st, len(rc.requests()))
	}
}

func TestRunStops(t *testing.T) {
	t.Parallel()
	t.Run("idle run returns at once on cancel", func(t *testing.T) {
		t.Parallel()
		synctest.Test(t, func(t *testing.T) {
			s := mustNew(t, Config{URL: "https://hooks.example/x", Secret: testSecret, Client: inProcessClient(&recorder{})})
			ctx, cancel := context.WithCancel(t.Context())
			errc := make(chan error, 1)
			go func() { errc <- s.Run(ctx) }()
			synctest.Wait()
			if err := s.Run(ctx); err == nil {
				t.Error("a second concurrent Run succeeded")
			}
			start := time.Now()
			cancel()
			if err := <-errc; err != nil {
				t.Errorf("Run: %v", err)
			}
			if d := time.Since(start); d != 0 {
				t.Errorf("Run took %s to stop", d)
			}
		})
	})
	t.Run("cancel during backoff drains for Timeout then keeps the alert", func(t *testing.T) {
		t.Parallel()
		synctest.Test(t, func(t *testing.T) {
			rc := &recorder{respond: func(_ int, w http.ResponseWriter) { w.WriteHeader(http.StatusInternalServerError) }}
			var logs syncBuffer
			s := mustNew(t, Config{URL: "https://hooks.example/x", Secret: testSecret, Client: inProcessClient(rc),
				BackoffMin: 30 * time.Second, BackoffMax: 30 * time.Second, Rand: constSource(^uint64(0)),
				Log: zerolog.New(&logs)})
			s.Enqueue(alert("a1"))
			ctx, cancel := context.WithCancel(t.Context())
			errc := make(chan error, 1)
			go func() { errc <- s.Run(ctx) }()
			time.Sleep(time.Second) // first attempt failed; waiting 30s
			start := time.Now()
			cancel()
			if err := <-errc; err != nil {
				t.Errorf("Run: %v", err)
			}
			if d := time.Since(start); d != 5*time.Second {
				t.Errorf("Run stopped %s after cancel, want the 5s drain", d)
			}
			if st := s.Stats(); st != (Stats{Retries: 1, Queued: 1}) {
				t.Errorf("Stats = %+v, want the alert back in the queue after 2 attempts", st)
			}
			if n := len(rc.requests()); n != 2 {
				t.Errorf("%d requests, want 2 (one before cancel, one in the drain)", n)
			}
			if !strings.Contains(logs.String(), "undelivered") {
				t.Errorf("leftover not logged:\n%s", logs.String())
			}
		})
	})
	t.Run("drains the queue when cancelled before start", func(t *testing.T) {
		t.Parallel()
		synctest.Test(t, func(t *testing.T) {
			rc := &recorder{}
			s := mustNew(t, Config{URL: "https://hooks.example/x", Secret: testSecret, Client: inProcessClient(rc)})
			s.Enqueue(alerts(3)...)
			ctx, cancel := context.WithCancel(t.Context())
			cancel()
			if err := s.Run(ctx); err != nil {
				t.Fatalf("Run: %v", err)
			}
			if st := s.Stats(); st != (Stats{Delivered: 3}) {
				t.Errorf("Stats = %+v, want all 3 delivered by the drain", st)
			}
		})
	})
}
