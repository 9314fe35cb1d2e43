// Package loadgen generates usage records for load tests and acceptance
// runs (`creditflow gen`), the catalog that prices them, and a labeled
// corpus for runaway detection (SPEC 3.7). It does not import the catalog
// package: callers pass tenant ids, meters and models in Config, and
// CatalogYAML writes a matching catalog when they have none.
//
// # The stream
//
// A Generator writes Config.Events records. Record i has a base event time
// Start + i/Rate; until the middle record the step is 1/Rate, after it the
// step shrinks so that runaway tenants (Config.Runaway) send 10× their
// share while every other tenant keeps its rate. One uniform draw per record
// decides its kind, with the configured fractions of all records:
//
//	[0, Malformed)          dead letter, one of MalformedReasons, evenly
//	+ Duplicates            exact re-send of one of the last 4096 fresh events
//	+ Conflicts             same (tenant, id) as one of them, other quantity
//	+ Late                  fresh event, time = base − [LateMin, LateMax]
//	+ OutOfOrder            fresh event, time = base − [1ms, OutOfOrderMax]
//	rest                    fresh event, time = base
//
// A re-send drawn before any fresh event exists, and a delay that would put
// an event before Start, become an on-time fresh event instead; Stats counts
// what was actually written. Fresh events pick a tenant by Zipf rank (a
// seeded permutation maps ranks to ids), a meter uniformly and a model from
// the meter's list. Ids are e-<seed tag>-<sequence in base 36>, or with
// Config.UUIDs version 4 UUIDs derived from the seed and sequence, unique
// per stream; quantities follow the meter (see Config.Meters) and are
// written as JSON numbers or decimal strings; 3 % of times carry a non-UTC
// offset; a fraction of events (Config.Properties, 30 % by default) carry
// a small properties object; a CloudEvents fraction is written in
// structured CloudEvents form. Records average about 140 bytes by default
// and about 205 with UUIDs and properties on every event.
//
// # Dead letters
//
// Each malformed record is wrong in exactly one way, so that the reason a
// pipeline gives (schemas.Decoder's order of checks, then the catalog) is
// the one Stats counts:
//
//   - malformed_json: a truncated object, '=' for ':', a trailing comma, an
//     unquoted key, or plain text;
//   - missing_field: one of id, tenant, meter, quantity, time left out;
//   - bad_field: a tenant with a character outside [A-Za-z0-9._:-], an id
//     or tenant over 128 bytes, or id, meter or model of the wrong JSON type;
//   - bad_quantity: negative, seven fractional digits (the last not 0),
//     above 1e12, or a string that is not a plain decimal;
//   - bad_time: no offset, month 13, February 30, hour 25, or not a time;
//   - unknown_meter: a well-formed event of a meter not in Config.Meters;
//   - unknown_tenant: a well-formed event of a tenant not in the stream.
//
// no_rate, too_far_future and too_old depend on the catalog's rates and on
// clocks the generator does not know: give MeterModels from the catalog's
// rates to avoid no_rate (TestDemoCatalog shows how).
//
// # Determinism
//
// Everything derives from Config.Seed through math/rand/v2 PCG sources (one
// for the records, one for the Zipf permutation, one for the catalog's
// tenants), never from a global source or the clock, and no map is iterated
// where order matters: the same Config writes the same bytes, on any
// platform, and CatalogYAML the same catalog.
//
// # The runaway corpus
//
// Corpus simulates TenantsPerPattern tenants per Pattern minute by minute:
// per minute, baseline × pattern × noise credits spread over
// EventsPerMinute events on the tenant's mix of (meter, model) pairs, plus,
// during a step, blip or ramp, the extra credits as as many events again on
// one driving pair (named in the Label). Quantities are credits at rate 1.
//
//	steady  ────────────────────────────────
//	cycle   ∿∿∿∿∿∿∿∿∿∿∿∿∿∿∿∿∿∿∿∿∿∿∿∿∿∿∿∿∿∿∿  (±50 %, 24 h period)
//	blip    ──────────────|─────────────────  (one minute ×10–×20)
//	step    ──────────────┌────────────────  (×10 from Onset on)
//	ramp    ──────────────╱‾‾‾‾‾‾‾‾‾‾‾‾‾‾‾  (×3 over 12 h)
//	new                            ┌───────  (from 60–66 h on; half of them
//	                                          step 30 min later: PatternStep)
package loadgen
