// Package window sums counted usage into tumbling event-time windows per
// (tenant, meter, model) and emits each window once the watermark has
// passed it (SPEC 3.3). It is pure: the caller passes event times and the
// watermark; nothing here reads a clock, logs or does I/O.
//
// # Windows
//
// Windows are epoch-aligned and half-open: with width w an event at t
// belongs to [s, s+w) with s = ⌊t/w⌋·w, counted in nanoseconds since the
// Unix epoch, so an event exactly on a boundary starts the later window.
// Time zones play no part. Every row is UTC.
//
//	event time ──────────────────────────────────────────────────────────▶
//	  [12:00, 12:01)   [12:01, 12:02)   [12:02, 12:03)   [12:03, 12:04)
//	  ─── emitted ──   ─── emitted ──   ──── open ────   ──── open ────
//	                                          ▲                  ▲
//	                                     watermark W       highest counted
//	                                  = max − out-of-order   event time
//	  an event here, in a window with end ≤ W: a correction (Late row)
//	                                    an event here, in an open window: joins it
//
// # Watermark and late events
//
// The caller, one per partition, keeps the highest event time among counted
// events and calls Advance with Watermark(max, OutOfOrder()). Advance emits
// every window whose end is ≤ the watermark and forgets it. An event for a
// window that is still open joins it, however late it arrives, so disorder
// within the allowed out-of-orderness costs nothing. An event whose window
// was already emitted is not lost: it opens a pending correction for that
// window, a row with Late set that holds only the late events, coalesced
// per window until the next Advance or Flush emits it. Hence:
//
//   - the rows of a window add up to exactly its counted events, whatever
//     the arrival order (tested with shuffled input);
//   - a window has at most one row without Late, the first one (unless a
//     sum overflows, see below);
//   - a window whose events all came after the watermark passed it has
//     only Late rows;
//   - sorted input produces no Late row.
//
// Advance and Flush sort what they emit by (Tenant, Meter, Model, Start,
// Late). Flush is for the end of input: it emits everything and counts the
// flushed windows as emitted, so events that still arrive for them become
// corrections. Quantity and credits are summed exactly; should a sum
// overflow Micros (more than 9.2e12 units), the window's total so far is set
// aside as a row of its own and summing starts again, so the window is then
// emitted as several rows that still add up to its total.
//
// # Data structure and costs
//
// Each series (WindowKey) gets a small integer id in a registry, and each
// window is a 48-byte entry (hash, key as {series id, start}, sums)
// stored inline in an open-addressing table with linear probing: the table
// holds no pointers, so the garbage collector never scans it, and an Add
// touches one entry. A Go map would cost three dependent memory accesses
// per Add (control word, key slot, value slot); the table costs one. The
// table keeps its load at or under 3/4 and shrinks after 16 emissions in a
// row left it under 1/8 full. Add to an existing window does not allocate.
//
// Add finds the series id by looking the key up in a map, which hashes its
// three strings. A caller that adds many events keeps a Series handle per
// key instead and calls AddSeries, which costs no string hashing. The
// registry forgets a series once it has no window left, but only in bulk:
// when it holds 65536 series, or twice as many as survived the previous
// reclaim if more, the next registration first drops every series with
// neither an open window nor a pending correction, in one pass over the
// tables. That keeps the registry bounded by the windows held, whatever
// the variety of keys, at an amortized O(1) per registration. A reclaim
// makes every handle stale; AddSeries notices (one comparison) and looks
// the key up again.
//
// Advance is O(1) when no window is due. When windows are due (once per
// width of watermark progress) it scans the table once, emptying their
// slots, then puts the windows that remain back from their home slots (the
// emptied slots may have cut their probe runs; no tombstones), so each open
// window costs a few slot visits over its life. An AddSeries caller may announce the
// add with Prefetch, which starts loading the window's slot, to overlap
// that cache miss with other work. Late corrections live in a second table
// that is emptied whole. Emitted rows are sorted without
// comparing strings: each series has a rank in key order, and an emission
// radix-sorts on (rank, window, late), skipping the bytes that all rows
// share. New series are ranked in bulk, once they number a quarter of the
// ranked ones (a sort of the new ones, a few comparisons each to place
// them, one pass to renumber). Until then an emission that includes one,
// and one with rows set aside on overflow (which have no series), falls
// back to a radix pass on the first 16 bytes of the tenant and comparison
// within equal prefixes. Ranks cost 12 bytes per registered series (the
// rank, the order, the scratch of a merge), and ranking takes another 56
// bytes per pending series while it runs.
//
// Measured (BenchmarkAdd: 10k tenants × 3 meters × 2 models, 5% of events
// up to 30s out of order, Advance every 4096 events; go1.26 on a shared
// 2-core AMD EPYC VM where a dependent DRAM access costs about 200 ns and
// figures vary by ±30% between runs), per event, when each series gets
// about 100 events per 1-minute window / about one (every event then opens
// a window and later yields a row, sorting included): AddSeries 125–160 /
// 235–330 ns; Add, which also looks the key up in the registry, 460–520 /
// 520–700 ns (before series ranks, the one-event case sorted by comparing
// strings: 380–580 and 930–1090 ns). 0 allocations per event in steady
// state. Most of the rest is the cache misses on a table of 60k–120k
// windows (256k slots, 8 MB).
package window
