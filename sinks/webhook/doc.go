// Package webhook delivers alerts (SPEC 3.6, 3.7) to one HTTPS endpoint,
// in the background, without ever blocking the pipeline.
//
// # Model
//
//	pipeline flush ──Enqueue──▶ [ bounded queue, oldest dropped when full ] ──Run──▶ POST URL
//	                 (never blocks)                                          (one at a time,
//	                                                                          retried with backoff)
//
// Enqueue copies the alerts into a bounded in-memory queue (Config.QueueSize)
// and returns at once; when the queue is full the oldest waiting alert is
// dropped and counted in Stats.Dropped, so a slow or dead receiver costs
// memory up to the bound and never latency. Run takes alerts from the queue
// in order and delivers them one at a time. An alert being retried holds
// the ones behind it: during a receiver outage the receiver sees one probe
// at a time rather than a storm, and the queue absorbs the wait. The queue
// lives in memory only: alerts waiting at shutdown, beyond what the drain
// delivers, are lost (the alerts topic and alerts table stay the record).
//
// # Request
//
// Each attempt is one request:
//
//	POST <URL>
//	Content-Type: application/json
//	Idempotency-Key: <alert id>
//	X-Creditflow-Timestamp: <unix seconds at the attempt>
//	X-Creditflow-Signature: v1=<hex HMAC-SHA256(secret, timestamp + "." + body)>
//
//	<one alert as a JSON object>
//
// The body is exactly one line of alerts.jsonl (files.AppendAlertJSON)
// without its newline. The alert id is deterministic, so the same alert
// always carries the same Idempotency-Key: on retries, after a restart that
// replays the alert, and across pipeline replicas. Receivers must drop
// repeats by that key, because delivery is at least once.
//
// # Verifying a request
//
// A receiver verifies before parsing, with the raw body bytes:
//
//  1. read X-Creditflow-Timestamp (decimal unix seconds) and reject it when
//     it is further than a tolerance (say 5 minutes) from the receiver's
//     clock, which bounds replays;
//  2. compute HMAC-SHA256 with the shared secret over the bytes
//     timestamp + "." + body and hex-encode it (lower case);
//  3. compare it, in constant time, with the value after "v1=" in
//     X-Creditflow-Signature. The header may in future carry several
//     comma-separated entries (for example during a secret rotation);
//     accept when any v1 entry matches.
//
// Verify does exactly this for Go receivers. Each attempt is signed afresh,
// so a retry an hour later still passes a 5-minute window.
//
// # Outcomes
//
//	2xx                           delivered (Stats.Delivered)
//	408, 429, 5xx, network error, retried (Stats.Retries) until Config.MaxAttempts
//	  per-attempt timeout         attempts were made, then given up (Stats.Failed)
//	any other status (3xx, 4xx)   permanent: given up at once (Stats.Failed),
//	                              logged with the status and the response's start
//
// The wait before retry r (r = 1, 2, …) is drawn uniformly from
// [0, min(BackoffMax, BackoffMin·2^(r-1))] ("full jitter") with
// Config.Rand; with the defaults the ceilings run 0.5s, 1s, 2s, … 32s, 1m.
// When the response carries Retry-After (delay seconds or an HTTP date)
// that delay replaces the drawn one, capped at BackoffMax. The default
// client does not follow redirects, so a 3xx is a permanent failure:
// configure the final URL. Failures and drops are logged (component=webhook;
// the secret and the URL's path and query are never logged) and counted in
// Stats; Enqueue itself never logs, Run reports drops as it goes.
//
// # Shutdown
//
// When Run's context is done, an attempt in flight is abandoned (not
// counted) and Run keeps delivering, the interrupted alert first, for at
// most Config.Timeout more; whatever is left stays queued (Stats.Queued),
// is logged, and would be sent by a later Run.
package webhook
