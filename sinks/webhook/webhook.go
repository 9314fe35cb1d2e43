package webhook

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math/bits"
	"math/rand/v2"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rs/zerolog"

	"github.com/creditflow/creditflow/schemas"
	"github.com/creditflow/creditflow/sinks/files"
)

// MinSecretLen is the shortest Config.Secret New accepts.
const MinSecretLen = 16

// Config configures a Sender. Zero values mean the documented defaults.
type Config struct {
	// URL is the endpoint alerts are POSTed to. Required; it must be
	// https:// (http:// only when AllowHTTP) with a host. Only its host is
	// ever logged.
	URL string
	// Secret is the HMAC-SHA256 key requests are signed with. Required, at
	// least MinSecretLen bytes; New copies it. It is never logged.
	Secret []byte
	// Timeout bounds each attempt (connect, send, response) and, after
	// Run's context is done, the whole drain. Zero means 5s.
	Timeout time.Duration
	// MaxAttempts is the number of attempts per alert, the first included,
	// before it is given up and counted Failed. Zero means 8.
	MaxAttempts int
	// BackoffMin and BackoffMax bound the exponential backoff between
	// attempts: retry r waits a uniform draw from
	// [0, min(BackoffMax, BackoffMin·2^(r-1))]. Zero means 500ms and 1m.
	// BackoffMax also caps a Retry-After the receiver asks for.
	BackoffMin, BackoffMax time.Duration
	// QueueSize is the number of alerts that may wait for delivery; when
	// the queue is full Enqueue drops the oldest waiting alert and counts
	// it in Stats.Dropped. Zero means 10000.
	QueueSize int
	// Client sends the requests. Nil means a client on a clone of
	// http.DefaultTransport that does not follow redirects. Per-attempt
	// timeouts come from Timeout, not from Client.Timeout.
	Client *http.Client
	// Now is the clock for the X-Creditflow-Timestamp header and for
	// Retry-After dates. Nil means time.Now.
	Now func() time.Time
	// Rand is the source of backoff jitter; it is used only by Run's
	// goroutine. Nil means a randomly seeded PCG.
	Rand rand.Source
	// Log receives delivery failures, drops and shutdown leftovers, with
	// component=webhook. The zero Logger discards.
	Log zerolog.Logger
	// AllowHTTP permits an http:// URL, for tests and local receivers.
	// Signed requests over plain HTTP still expose the alert contents.
	AllowHTTP bool
}

// Stats are a Sender's counters since New.
type Stats struct {
	Delivered uint64 // alerts answered with a 2xx
	Failed    uint64 // alerts given up: permanent status, or MaxAttempts used
	Retries   uint64 // attempts after an alert's first that got an answer or a network error
	Dropped   uint64 // alerts dropped from a full queue, oldest first
	Queued    int    // alerts waiting for delivery
	InFlight  int    // 0 or 1: the alert being delivered, including its backoff waits
}

// Sender delivers alerts to a webhook. Create it with New, feed it with
// Enqueue from any goroutine, and run Run in one goroutine.
type Sender struct {
	cfg    Config
	url    string
	client *http.Client
	log    zerolog.Logger

	mu       sync.Mutex
	q        ring
	inFlight int

	wake    chan struct{} // capacity 1: something was enqueued
	running atomic.Bool

	delivered, failed, retries, dropped atomic.Uint64
	droppedLogged                       uint64 // Run's goroutine only
}

// New validates cfg, reporting every problem at once, applies the
// defaults and returns a Sender. Nothing is sent until Run is called.
func New(cfg Config) (*Sender, error) {
	var errs []error
	u, err := url.Parse(cfg.URL)
	switch {
	case cfg.URL == "":
		errs = append(errs, errors.New("webhook url is required"))
	case err != nil:
		// url.Parse's error quotes the URL, which may hold credentials.
		errs = append(errs, errors.New("webhook url does not parse"))
	case u.Scheme == "https":
	case u.Scheme == "http" && cfg.AllowHTTP:
	case u.Scheme == "http":
		errs = append(errs, fmt.Errorf("webhook url %s://%s must be https (AllowHTTP permits http)", u.Scheme, u.Host))
	default:
		errs = append(errs, fmt.Errorf("webhook url scheme %q is not https", u.Scheme))
	}
	if err == nil && cfg.URL != "" && u.Host == "" {
		errs = append(errs, errors.New("webhook url has no host"))
	}
	if len(cfg.Secret) < MinSecretLen {
		errs = append(errs, fmt.Errorf("webhook secret must be at least %d bytes, got %d", MinSecretLen, len(cfg.Secret)))
	}
	if cfg.Timeout < 0 {
		errs = append(errs, fmt.Errorf("webhook timeout %s is negative", cfg.Timeout))
	}
	if cfg.MaxAttempts < 0 {
		errs = append(errs, fmt.Errorf("webhook max attempts %d is negative", cfg.MaxAttempts))
	}
	if cfg.BackoffMin < 0 || cfg.BackoffMax < 0 {
		errs = append(errs, fmt.Errorf("webhook backoff [%s, %s] is negative", cfg.BackoffMin, cfg.BackoffMax))
	}
	if cfg.QueueSize < 0 {
		errs = append(errs, fmt.Errorf("webhook queue size %d is negative", cfg.QueueSize))
	}
	if cfg.Timeout == 0 {
		cfg.Timeout = 5 * time.Second
	}
	if cfg.MaxAttempts == 0 {
		cfg.MaxAttempts = 8
	}
	if cfg.BackoffMin == 0 {
		cfg.BackoffMin = 500 * time.Millisecond
	}
	if cfg.BackoffMax == 0 {
		cfg.BackoffMax = time.Minute
	}
	if cfg.BackoffMin > cfg.BackoffMax {
		errs = append(errs, fmt.Errorf("webhook backoff min %s exceeds max %s", cfg.BackoffMin, cfg.BackoffMax))
	}
	if cfg.QueueSize == 0 {
		cfg.QueueSize = 10000
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	cfg.Secret = slices.Clone(cfg.Secret)
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Rand == nil {
		cfg.Rand = rand.NewPCG(rand.Uint64(), rand.Uint64())
	}
	client := cfg.Client
	if client == nil {
		client = &http.Client{
			Transport: http.DefaultTransport.(*http.Transport).Clone(),
			CheckRedirect: func(*http.Request, []*http.Request) error {
				return http.ErrUseLastResponse
			},
		}
	}
	return &Sender{
		cfg:    cfg,
		url:    cfg.URL,
		client: client,
		log:    cfg.Log.With().Str("component", "webhook").Str("host", u.Host).Logger(),
		q:      ring{max: cfg.QueueSize},
		wake:   make(chan struct{}, 1),
	}, nil
}

// Enqueue queues alerts for delivery and returns at once; it never blocks
// on the network and never fails. When the queue is full the oldest
// waiting alert is dropped and counted. Safe for concurrent use; alerts
// (their Drivers included) are copied, so the caller may reuse them.
// Alerts enqueued while Run is not running wait for the next Run.
func (s *Sender) Enqueue(as ...schemas.Alert) {
	if len(as) == 0 {
		return
	}
	var dropped uint64
	s.mu.Lock()
	for i := range as {
		slot, d := s.q.add()
		if d {
			dropped++
		}
		// Fill the slot in place: an Alert is a few hundred bytes and
		// Enqueue must stay cheap for the caller.
		slot.alert = as[i]
		slot.body, slot.attempts = nil, 0
		if len(slot.alert.Drivers) > 0 {
			slot.alert.Drivers = slices.Clone(slot.alert.Drivers)
		}
	}
	s.mu.Unlock()
	if dropped > 0 {
		s.dropped.Add(dropped)
	}
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

// Stats returns the counters so far. Safe for concurrent use.
func (s *Sender) Stats() Stats {
	s.mu.Lock()
	defer s.mu.Unlock()
	queued, inFlight := s.q.n, s.inFlight
	return Stats{
		Delivered: s.delivered.Load(),
		Failed:    s.failed.Load(),
		Retries:   s.retries.Load(),
		Dropped:   s.dropped.Load(),
		Queued:    queued,
		InFlight:  inFlight,
	}
}

// Run delivers queued alerts, one at a time and in order, until ctx is
// done; then it keeps delivering for at most Config.Timeout, starting with
// an interrupted alert, and leaves the rest queued (logged). It returns nil
// on that stop, and an error only when another Run is already running.
// Run may be called again after it returns; the queue and counters persist.
func (s *Sender) Run(ctx context.Context) error {
	if !s.running.CompareAndSwap(false, true) {
		return errors.New("webhook: Run is already running")
	}
	defer s.running.Store(false)

	var pending *item
	for {
		it, ok := s.next(ctx)
		if !ok {
			break
		}
		if !s.deliver(ctx, &it) {
			pending = &it
			break
		}
		s.done(&it)
	}

	dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), s.cfg.Timeout)
	defer cancel()
	for {
		if pending == nil {
			it, ok := s.pop()
			if !ok {
				break
			}
			pending = &it
		}
		if !s.deliver(dctx, pending) {
			break
		}
		s.done(pending)
		pending = nil
	}
	s.mu.Lock()
	if pending != nil {
		if s.q.pushFront(*pending) {
			s.dropped.Add(1)
		}
		s.inFlight = 0
	}
	left := s.q.n
	s.mu.Unlock()
	if s.cfg.Client == nil {
		s.client.CloseIdleConnections()
	}
	s.logDrops()
	if left > 0 {
		s.log.Warn().Int("queued", left).Msg("webhook stopped with alerts undelivered")
	}
	return nil
}

// next waits for a queued alert, marking it in flight; false when ctx is
// done first.
func (s *Sender) next(ctx context.Context) (item, bool) {
	for {
		s.logDrops()
		if ctx.Err() != nil {
			return item{}, false
		}
		if it, ok := s.pop(); ok {
			return it, true
		}
		select {
		case <-s.wake:
		case <-ctx.Done():
			return item{}, false
		}
	}
}

// pop takes the oldest queued alert, marking it in flight.
func (s *Sender) pop() (item, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	it, ok := s.q.pop()
	if ok {
		s.inFlight = 1
	}
	return it, ok
}

// done counts a finished alert's outcome and clears the in-flight mark in
// one step, so that Stats never shows an alert both counted and in flight.
func (s *Sender) done(it *item) {
	s.mu.Lock()
	if it.outcome != nil {
		it.outcome.Add(1)
	}
	s.inFlight = 0
	s.mu.Unlock()
}

// logDrops logs drops that happened since the last call, so Enqueue
// itself never logs.
func (s *Sender) logDrops() {
	d := s.dropped.Load()
	if d == s.droppedLogged {
		return
	}
	s.log.Warn().Uint64("dropped", d-s.droppedLogged).Uint64("dropped_total", d).
		Int("queue_size", s.cfg.QueueSize).Msg("webhook queue full: oldest alerts dropped")
	s.droppedLogged = d
}

// outcome classifies one attempt.
type outcome int

const (
	outDelivered   outcome = iota
	outRetry               // 408, 429, 5xx, network error or attempt timeout
	outPermanent           // any other status
	outInterrupted         // ctx done; the attempt does not count
)

type result struct {
	out        outcome
	status     int
	err        error
	retryAfter time.Duration
	hasAfter   bool
	snippet    string // start of the response body, for logs
}

// deliver makes attempts until it has an outcome, counting it; false when
// ctx was done first, leaving it (with its attempts so far) to resume.
func (s *Sender) deliver(ctx context.Context, it *item) bool {
	if it.body == nil {
		b := files.AppendAlertJSON(nil, it.alert)
		it.body = bytes.TrimSuffix(b, []byte("\n"))
	}
	for {
		if ctx.Err() != nil {
			return false
		}
		r := s.attempt(ctx, it)
		if r.out == outInterrupted {
			return false
		}
		if it.attempts > 0 {
			s.retries.Add(1)
		}
		it.attempts++
		switch r.out {
		case outDelivered:
			it.outcome = &s.delivered
			s.log.Debug().Str("alert", it.alert.ID).Int("attempts", it.attempts).Int("status", r.status).Msg("alert delivered")
			return true
		case outPermanent:
			it.outcome = &s.failed
			s.logFailure(zerolog.ErrorLevel, it, r).Msg("webhook rejected alert; not retried")
			return true
		}
		if it.attempts >= s.cfg.MaxAttempts {
			it.outcome = &s.failed
			s.logFailure(zerolog.ErrorLevel, it, r).Msg("webhook delivery failed; giving up after max attempts")
			return true
		}
		wait := s.backoff(it.attempts, r)
		s.logFailure(zerolog.WarnLevel, it, r).Dur("retry_in", wait).Msg("webhook delivery failed; will retry")
		t := time.NewTimer(wait)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return false
		}
	}
}

func (s *Sender) logFailure(lvl zerolog.Level, it *item, r result) *zerolog.Event {
	e := s.log.WithLevel(lvl).Str("alert", it.alert.ID).Str("tenant", it.alert.Tenant).Int("attempts", it.attempts)
	if r.status != 0 {
		e = e.Int("status", r.status)
		if r.snippet != "" {
			e = e.Str("response", r.snippet)
		}
	}
	if r.err != nil {
		e = e.Err(r.err)
	}
	return e
}

// backoff returns the wait before the next attempt, after n attempts.
func (s *Sender) backoff(n int, r result) time.Duration {
	if r.hasAfter {
		return min(r.retryAfter, s.cfg.BackoffMax)
	}
	ceil := s.cfg.BackoffMin
	for i := 1; i < n && ceil < s.cfg.BackoffMax; i++ {
		ceil *= 2
	}
	ceil = min(ceil, s.cfg.BackoffMax)
	// Scale a uniform 64-bit draw onto [0, ceil] by its high word. Unlike
	// rand.Int64N this never loops, whatever the source returns; the bias is
	// below one part in 2^40 for any realistic ceiling.
	hi, _ := bits.Mul64(s.cfg.Rand.Uint64(), uint64(ceil)+1)
	return time.Duration(hi)
}

// attempt sends one signed request.
func (s *Sender) attempt(ctx context.Context, it *item) result {
	actx, cancel := context.WithTimeout(ctx, s.cfg.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(actx, http.MethodPost, s.url, bytes.NewReader(it.body))
	if err != nil {
		return result{out: outPermanent, err: fmt.Errorf("build request: %w", err)}
	}
	ts := strconv.FormatInt(s.cfg.Now().Unix(), 10)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "creditflow-webhook/1")
	req.Header.Set(HeaderIdempotencyKey, it.alert.ID)
	req.Header.Set(HeaderTimestamp, ts)
	req.Header.Set(HeaderSignature, Sign(s.cfg.Secret, ts, it.body))
	resp, err := s.client.Do(req)
	if err != nil {
		if ctx.Err() != nil {
			return result{out: outInterrupted}
		}
		// *url.Error repeats the full URL, whose path or query may hold
		// a token; keep only the operation and cause.
		var ue *url.Error
		if errors.As(err, &ue) {
			err = fmt.Errorf("%s: %w", ue.Op, ue.Err)
		}
		return result{out: outRetry, err: err}
	}
	defer resp.Body.Close()
	var buf [256]byte
	n, _ := io.ReadFull(resp.Body, buf[:])
	// Read a little more so the connection can be reused; give up beyond.
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	r := result{status: resp.StatusCode}
	switch c := resp.StatusCode; {
	case c >= 200 && c < 300:
		r.out = outDelivered
		return r
	case c == http.StatusRequestTimeout, c == http.StatusTooManyRequests, c >= 500:
		r.out = outRetry
		r.retryAfter, r.hasAfter = s.parseRetryAfter(resp.Header.Get("Retry-After"))
	default:
		r.out = outPermanent
	}
	r.snippet = strings.ToValidUTF8(string(buf[:n]), "\uFFFD")
	return r
}

// parseRetryAfter reads a Retry-After value: delay seconds or an HTTP
// date. It saturates at BackoffMax, where backoff caps it anyway.
func (s *Sender) parseRetryAfter(v string) (time.Duration, bool) {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0, false
	}
	if secs, err := strconv.ParseUint(v, 10, 63); err == nil {
		if secs > uint64(s.cfg.BackoffMax/time.Second) {
			return s.cfg.BackoffMax, true
		}
		return time.Duration(secs) * time.Second, true
	}
	if t, err := http.ParseTime(v); err == nil {
		return max(t.Sub(s.cfg.Now()), 0), true
	}
	return 0, false
}
