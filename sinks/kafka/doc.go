// Package kafka connects creditflow to Apache Kafka with franz-go: the
// shared client options (brokers, TLS, SASL), topic creation, a producer
// for every output topic and two start-up readers. It imports schemas and
// sinks/files (for the one JSON form of alerts and dead letters) and
// nothing of pipeline or jobs; consumers declare the small interfaces that
// Producer's methods satisfy.
//
// # Topics and records
//
// Names are configurable (Topics); every record of ours is keyed so that
// one tenant's records stay in one partition, in order.
//
//	topic                 key        value                                         headers
//	usage.alerts          tenant     alerts.jsonl object (files.AppendAlertJSON)   id
//	tenant.entitlements   tenant     {"tenant","state","period_start",             –
//	  (compacted)                     "period_end","time"}
//	usage.deadletter      orig. key  {"reason","record"[,"record_base64"],         reason, source_topic,
//	                                  "detail","topic","partition","offset"}       source_partition, source_offset
//	credit.grants         tenant     schemas.AppendGrantJSON                       id
//	billing.closes        tenant     period_closes.csv columns + "line_items"      id = tenant/period_start
//
// Values are UTF-8 JSON without a trailing newline. Credits are decimal
// strings with 6 decimals, money exact decimal strings, instants RFC 3339
// UTC. "record" in a dead letter holds the refused bytes as a JSON string;
// bytes that are not UTF-8 are also given exactly in "record_base64".
//
// # Delivery
//
// Producer is idempotent with acks=all, so franz-go's retries never
// duplicate or reorder a record within one call. Each method returns only
// when every record of its batch is acknowledged, and returns the first
// failure otherwise; records of a failed call may be partly written. The
// caller retries the whole batch (the pipeline does so from its outbox), so
// a record can appear more than once across calls: consumers drop repeats
// by the "id" header (alerts, grants, closes) or, on the compacted
// entitlements topic, simply keep the last record per key. Alert ids are
// deterministic (schemas.Alert), which makes this exact. After a crash,
// ReadAlertIDs tells which alerts since a given time are already on the
// topic.
//
// # Start-up reads
//
// ReadEntitlements and ReadAlertIDs read a topic up to its last stable
// offsets at the time of the call with a client of their own (no consumer
// group, read_committed) and return. A product calls ReadEntitlements at
// start-up to learn every tenant's state, then follows the topic for
// changes.
//
// # Secrets
//
// Config and SASL implement String, GoString and MarshalZerologObject
// without the password, so logging a Config is safe. NewLogger adapts a
// zerolog.Logger for kgo.WithLogger.
package kafka
