// Package dedup remembers recently counted events by (tenant, id), so that
// each usage event is counted once (SPEC 3.4). The Set is pure: no I/O
// except through the io.Writer and io.Reader handed to WriteTo and ReadFrom
// and the Cold tier it is configured with, no logging, no clock (the
// watermark is an argument). DiskCold, the Cold tier for replay, reads and
// writes files in a temporary directory of its own.
//
// # What counts as a copy
//
// Two copies of one (tenant, id) are the same event when their event times,
// both truncated to the millisecond, are at most Horizon apart (inclusive):
// with the default 24h, copies at 12:00:00.000 and 12:00:00.000 the next day
// are one event, a copy 1ms later is another. Nanoseconds below the
// millisecond are ignored, so 12:00:00.0001 and 12:00:00.0009+24h are one
// event too. The first copy that Check sees is recorded and wins; later
// copies are Duplicate, or Conflict when their content digest differs (the
// caller decides what goes into the digest; 20 bits of it are kept, so one
// differing copy in about a million is reported as a plain Duplicate). A
// Duplicate or Conflict is not recorded, so copies are always compared with
// counted events: with copies at 0, 0.75·Horizon and 1.5·Horizon, the second
// is a duplicate of the first and the third is a new event. The same id
// reused more than Horizon apart is a new event each time; the Set then
// keeps one entry per use.
//
// # Keys
//
// The Set stores no strings. (tenant, id) is hashed to 128 bits by rounds
// of AES (hash.go): both field lengths go into the start state, so that
// ("ab", "c") and ("a", "bc") differ, and pairs of equal lengths never
// collide. The hash is fixed, not seeded per process, because snapshots
// outlive processes; on amd64 and arm64 it runs on the CPU's AES
// instructions (one per 16 bytes, plus two), elsewhere on a table-driven
// round in Go that yields the same keys. Taking it as a random function,
// the chance that any two of n retained keys collide is about n²/2^129:
// for a billion keys, 1.5e-21. A collision would make a new event
// look like a duplicate of another. The hash is not keyed, so it is not
// built to resist someone who crafts ids to collide with another tenant's
// future ids; such a tenant would also have to know those ids.
//
// # Table
//
// Entries are 24 bytes, with no pointers, so the garbage collector never
// scans them: the key (hi, lo), then the event time in milliseconds and
// the folded digest packed in one word. They live in one open-addressing
// table of cap home slots, kept sorted by hi (ordered linear probing, the
// layout that Robin Hood hashing converges to). An entry's home slot is
// ⌊hi·cap/2^64⌋ and it sits at its home or just after it:
//
//	slot    0      1      2      3      4      5      …  cap−1 │ slack … │ sentinel
//	      [ a  ] [ b  ] [    ] [ c  ] [ d  ] [ e  ]   …       │         │ [empty]
//	        home(a)=home(b)=0    home(c)=home(d)=3, home(e)=4
//
// A lookup starts at the home slot, skips entries with a smaller hi and
// stops at the first empty slot or larger hi, so a missing key costs about
// as much as a present one; entries of one key, several when an id was
// reused, sit next to each other. An insert shifts the rest of its run up
// one slot. Runs near the end spill into a small slack area and never wrap;
// the final slot stays empty and ends every scan. The table grows when 80%
// of the home slots are used, to a load of 60%.
//
// # Expiry
//
// Expire(W) sets the cutoff to W − Retention − Horizon: from then on an
// entry for event time t < cutoff is ignored by Check, because it could
// only match a copy older than W − Retention. Copies at or after Floor() =
// W − Retention are always recognised; older copies may find their first
// copy forgotten, and events older than the cutoff are not even recorded.
// To dedup everything the caller accepts, set Config.Cold (see "Cold
// tier"), or choose Retention ≥ the oldest event time it lets through
// behind the watermark.
//
//	event time ──────────────────────────────────────────────────────────▶
//	           cutoff = W−R−H          Floor = W−R                      W
//	   forgotten   │ kept: may match a copy │ copies here always meet   │
//	               │ at or after Floor      │ their first copy          │
//
// Forgotten entries leave memory in sweeps, one linear pass that drops them
// and repacks the rest in place. Check sweeps when the table is full,
// before growing it; Expire sweeps once the oldest entry has been forgotten
// for (Horizon+Retention)/4 of watermark progress, and shrinks a table
// that is less than 20% full. A sweep visits every slot, and in steady
// state one runs per quarter of an entry's lifetime, so each insert pays
// about 4/load ≈ 6 slot visits of sequential memory. Between sweeps Expire
// is O(1).
//
// # Memory, measured
//
// Per retained entry the table costs 24 bytes ÷ load, that is 30–40 bytes
// (load 0.8 down to 0.6), and Bytes() reports exactly the slot array.
// Entries are retained for their lifetime Horizon + Retention of event
// time, plus up to a quarter of that before a sweep removes them. Until
// the first entries expire (a new Set only grows) the table doubles when
// full, so its load lies between 0.8 and 0.4, 30–60 bytes per entry; the
// first sweep sizes it back to load 0.6. Measured (TestMemoryPerEntry,
// BenchmarkCheckNew, go1.26, amd64):
//
//	1M distinct events inserted:     Bytes()/Len() = 50.3 B (load 0.48), HeapInuse growth + mapped = 50.3 B per entry
//	steady state, 1M entries needed: 40.0 B per needed entry (32.1 B per entry held, expired ones included)
//	snapshot:                        24 B per entry + 52 B
//
// So a partition that counts r events per second needs about
// r × (Horizon + Retention) × 40 bytes: with the defaults (48h of
// lifetime) 6.9 MB per event/s, e.g. 690 MB at 100 events/s (up to 1.5
// times that before the first entries expire).
//
// # Speed
//
// Check hashes the key (7–10 ns for an 11-byte tenant and a 26-byte id on
// amd64's AES instructions; 23–29 ns with the earlier multiply lanes)
// and touches one place in the table, plus amortised sweeps. A caller that
// knows the key a while before it checks it computes it with KeyOf, calls
// Prefetch (which starts loading the four cache lines where the key's run
// begins and returns at once), does other work, and then calls CheckKey:
// the partition processor hides most of a large table's memory latency
// that way. Measured on
// the shared 2-core AMD EPYC VM used for development, where one dependent
// DRAM access costs about 200 ns and figures vary by ±30% between runs
// (BenchmarkCheckNew, BenchmarkCheckDuplicate): with a cache-resident table
// (10k entries) about 50 ns per duplicate and 115–160 ns per new event,
// sweeps included; with 1M entries (38 MB, in DRAM) 230–370 ns either way.
// 0 allocations per call in steady state.
//
// # Cold tier
//
// Validation accepts events up to max_event_age (35 days) behind the
// processing clock, far more than memory can hold at 40 bytes per event.
// With Config.Cold set, entries that expire from memory move to a second
// tier instead of being dropped, and are dropped for good only once
// t + Horizon < W − MaxAge:
//
//	event time ─────────────────────────────────────────────────────────────▶
//	             W−MaxAge−H        cutoff = W−R−H        Floor = W−R        W
//	   dropped       │  Cold (DiskCold: run files) │ memory: the table      │
//	                 │◀── copies at or after W−MaxAge are always recognised │
//	                 │    events below Floor look in both tiers │ memory only
//
// Check for an event at or after Floor is unchanged: it looks in memory
// only, at the cost of one more comparison, because whatever it can match
// (event time ≥ t − Horizon ≥ cutoff) has never left memory. An event below
// Floor (rare: a late copy or a late event) looks in memory, counting
// expired entries that no sweep has removed yet, and then calls
// Cold.Lookup(key, t−Horizon, t+Horizon, digest). When it is new it is
// recorded in memory if t ≥ cutoff, else in Cold if t ≥ W − MaxAge − H
// (Cold.Add of one entry), else nowhere. Sweeps hand each expired entry
// that is not yet that old to Cold.Add, in batches of 4096, and every
// Expire that raises the cutoff calls Cold.Forget(W − MaxAge − Horizon).
// So every entry for event time ≥ W − MaxAge − Horizon is in exactly one
// tier, and Check for a copy at or after W − MaxAge meets its first copy.
// The memory tier keeps its bound, (Horizon+Retention) × rate entries plus
// a quarter not yet swept: TestColdStream60Days checks it over 60 days of
// events whose copies arrive 3, 10 and 34 days late.
//
// If Cold fails, Check answers from memory alone (as without Cold) and Err
// keeps the first error: a replay checks Err before trusting its output.
// Without Cold (Config.Cold nil, what the streaming pipeline does), copies
// older than Floor are not recognised once their first copy is forgotten;
// such a caller compares event times with Floor() and handles older events
// itself, e.g. by refusing them or by looking (tenant, id) up in its own
// store of counted events. A Cold tier sees only the 128-bit keys, so it
// cannot be a lookup by tenant and id.
//
// # DiskCold
//
// DiskCold keeps cold entries in a log-structured merge of immutable run
// files in a temporary directory (DiskConfig.Dir), removed by Close. It is
// scratch space for one run, not crash safe: a replay that dies starts over.
//
//   - Add appends to a 1,024-entry unsorted tail, which is sorted and merged
//     in place into a sorted buffer of MemEntries (65,536) entries; a full
//     buffer is written as a level-0 run.
//   - A run file is 24-byte records (hi, lo, event ms+1 << 20 | digest,
//     little-endian), sorted by key and then event time, no header. In
//     memory each run has a sparse index (the hi of every 256th record, so
//     one probe reads one 6 KiB block, rarely two) and a blocked Bloom
//     filter of BloomBits (10) bits per record, seven probes in one 64-byte
//     line, about 1% false positives (bloom.go).
//   - When a level holds RunsPerLevel (8) runs, they are merged into one run
//     of the next level, dropping forgotten entries; Forget deletes at once
//     any run whose newest entry is forgotten.
//   - Lookup searches the buffer, then every run whose time range overlaps
//     [from, to] and whose Bloom filter may hold the key: one pread per such
//     run. A false positive costs a read, never a wrong answer.
//
// Measured (TestDiskColdMemoryPerEntry, TestColdStream60Days,
// BenchmarkColdLookup, BenchmarkCheckOld; go1.26, same VM as above):
//
//	on disk:     24 B per entry held; runs also hold forgotten entries until
//	             merged or wholly forgotten
//	in memory:   1.28 B per entry held (Bloom 1.25 + index 0.03), plus 2.1 MiB
//	             of buffers (sorted buffer, tail, merge and write buffers)
//	60 days at 1 event per 30 s (MemEntries 4096, RunsPerLevel 4): at the end
//	             100,810 entries held (35 days' worth), 3 runs, 2.4 MB on disk;
//	             peak 163,346 entries (1.6× the live ones), 7 runs, 3.8 MB on
//	             disk, 205 kB of Bloom and index
//	Lookup, 2M entries in 9 runs: a present key 3.7 µs (one pread, from the
//	             page cache), an absent one 0.7 µs (0.016 reads); Check of an
//	             old copy through a Set 5.2 µs; 0 allocations
//
// So a replay at r events per second needs, besides the memory tier, about
// MaxAge × r entries held: 1.28 bytes each of memory and 24 bytes each of
// disk, times up to 2 or so for entries not yet dropped. At 100 events/s
// and 35 days: 302M entries, 390 MB (to 780 MB) of memory and 7 GB (to
// 15 GB) of disk. Neither grows with the length of the input, only with
// its rate.
//
// # Memory
//
// Tables of 1 MiB and more (hugemem.MinBytes) are mapped outside the Go heap (their entries
// hold no pointers) and advised to use transparent huge pages
// (package hugemem): probes land at random over the whole table, and with
// 4 KiB pages nearly every one would also miss the TLB. Measured with
// BenchmarkCore, interleaved A/B: 621–789 ns/op with, 664–850 without.
// Each mapping starts on a 2 MiB boundary and is rounded up to whole huge
// pages, without which the kernel backs a small table's ends with 4 KiB
// pages. The mapping is released when a table is replaced and, through a
// runtime cleanup, when the Set is collected.
//
// # Snapshots
//
// WriteTo writes a versioned binary image (magic, version, configuration,
// cutoff, the entries in table order, CRC-32C; see snapshot.go) and
// ReadFrom restores it, leaving the Set unchanged when the snapshot is
// damaged. The key hash and entry layout are part of the format. A
// snapshot holds the memory tier only, never Cold.
package dedup
