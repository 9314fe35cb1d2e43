package schemas

import (
	"encoding/binary"
	"math/bits"
	"math/rand/v2"
	"time"
	"unsafe"
)

// InternLimit bounds each Decoder's intern table: at most this many distinct
// tenant, meter and model strings (counted together) are kept and reused.
// Once the table is full, a value not already in it is returned as a freshly
// allocated string (one allocation for that field of that event). At 128
// bytes per string the table holds at most about 12 MiB.
const InternLimit = 1 << 16

// maxNesting is the deepest accepted nesting of objects and arrays, the same
// limit encoding/json applies; the top-level object is depth 1.
const maxNesting = 10000

// Decoder decodes usage events (SPEC 2.1) without reflection and, in the
// common case, without allocating. A Decoder is not safe for concurrent use;
// give each partition or goroutine its own. The zero value is ready to use;
// NewDecoder also presizes the intern table.
//
// # Accepted input
//
// A record must be exactly one JSON object per RFC 8259, optionally
// surrounded by JSON whitespace: strings must be valid UTF-8 without raw
// control characters, escapes must be valid (\u escapes that are lone UTF-16
// surrogates decode to U+FFFD, as in encoding/json), objects and arrays nest
// at most 10000 deep, and nothing may follow the object. Anything else is
// malformed_json. Keys are matched exactly (case-sensitively) after escapes
// are decoded. Unknown keys are ignored, and may repeat; a recognized key
// that appears twice is bad_field.
//
// Native form: id (string, 1–128 bytes, any characters), tenant (string,
// 1–128 bytes of [A-Za-z0-9._:-]), meter (non-empty string ≤ 128 bytes),
// model (optional string ≤ 128 bytes; absent or null is ""), quantity
// (JSON number or decimal string), time (RFC 3339 string, see below) and
// properties (optional object, null meaning absent, kept verbatim).
//
// CloudEvents 1.0 structured form: an object with a "specversion" key, which
// must be the string "1.0". Then id is id, subject is the tenant, type is the
// meter, time is the time, and data (an object; absent or null means no
// data) holds quantity, model and properties. Errors name the CloudEvents
// path: "subject", "type", "data.quantity" and so on. Other attributes
// (source, datacontenttype, …) and top-level native keys are ignored.
//
// quantity is a JSON number (exponents allowed, converted exactly) or a
// string of the form -?digits(.digits)? (no exponent, no '+', no spaces).
// Its exact value must be ≥ 0 ("-0" is 0), ≤ 1e12, and have at most six
// fractional digits (trailing zeros beyond six are fine); otherwise it is
// bad_quantity, as is a quantity of any other JSON type.
//
// time is YYYY-MM-DDTHH:MM:SS[.fraction](Z|±hh:mm), T and Z in either case,
// fraction 1–9 digits, a real calendar date, hour ≤ 23, minute and second
// ≤ 59 (no leap seconds), offset hours ≤ 23 and minutes ≤ 59. It is
// converted to UTC, where it must still lie in the years 0000–9999.
// Anything else, or a non-string, is bad_time.
//
// # Which reason wins
//
// malformed_json is decided on the whole record before any field is looked
// at. Then fields are checked in this order and the first problem is
// returned: native id, tenant, meter, model, quantity, time, properties;
// CloudEvents specversion, id, subject, type, data, data.model,
// data.quantity, time, data.properties. Within a field: absent or null
// (missing_field for required fields), then duplicate key, then JSON type,
// then length, characters or value.
//
// # Aliasing and interning
//
// DecodeUsage fills the caller's UsageEvent. ev.ID and ev.Properties alias
// either b or the Decoder's scratch buffer (when the id contains escapes);
// both stay valid only until the next call and only while b is unchanged.
// Call UsageEvent.Clone to keep them. ev.Tenant, ev.Meter and ev.Model are
// interned in the Decoder (bounded by InternLimit) and stay valid for good.
//
// # Cost
//
// DecodeUsage tries two one-pass decoders before the general one, which
// validates the whole record, notes where the recognized keys are, then
// decodes the fields. The first takes the canonical layout (the native
// keys in the order AppendUsageJSON writes them, no whitespace) by
// comparing the expected key text as words; the second takes any native
// record whose recognized keys are unique and unescaped. Both accept only
// valid records, without escapes in id, tenant, meter and model, and leave
// anything else, including every error, to the general decoder, so the
// result never depends on which one decoded (tested against the general
// decoder on mutated records, and fuzzed against the reference). Tenants
// are interned through an open-addressing table that compares their first
// 16 bytes in the slot. On the canonical path, tenants, meters and models
// seen before are found by the 16 raw bytes after their opening quote (a
// table of tenants, whose slot is prefetched as soon as the id is scanned
// and read once the rest of the record is parsed, and a small cache of
// meters and models), without scanning or validating them again.
// Timestamps that share their first 19 bytes with the previous one parse
// only their fraction and offset (on the canonical path, milliseconds in
// UTC take three word loads and no branch on their digits), and those of
// the same day only their time of day. A properties object that is flat
// and compact (no whitespace, no escapes, scalar values) is skipped by a
// scanner of its own; any other goes to the general one. The records of
// partition.BenchmarkCore (canonical, about 205 bytes with a UUID id and
// properties) cost about 1210 instructions each. String contents are
// scanned 16 bytes at a time on amd64 (plainString, SSE2), and quantities'
// digits 8 at a time (canonQuantity).
type Decoder struct {
	interned map[string]string
	idBuf    []byte // decoded id when it contains escapes
	tmp      []byte // decoded transient strings (tenant, meter, quantity, …)
	keyBuf   []byte // decoded keys that contain escapes
	slots    [numSlots]span
	recent   [64]string // direct-mapped cache in front of interned, for meters and models
	tenants  internFront
	rawTen   rawFront       // tenants of canonical records, by their raw bytes
	rawNames [64][2]rawSlot // meters and models of canonical records, by their raw bytes: 64 sets of 2
	minute   minuteCache
	errOff   int    // offset of the syntax error
	errMsg   string // what the syntax error is
}

// NewDecoder returns a Decoder with an empty intern table.
func NewDecoder() *Decoder {
	return &Decoder{interned: make(map[string]string, 1024)}
}

type valueKind uint8

const (
	kindNone valueKind = iota
	kindString
	kindNumber
	kindObject
	kindArray
	kindBool
	kindNull
)

func (k valueKind) String() string {
	switch k {
	case kindString:
		return "string"
	case kindNumber:
		return "number"
	case kindObject:
		return "object"
	case kindArray:
		return "array"
	case kindBool:
		return "boolean"
	case kindNull:
		return "null"
	}
	return "nothing"
}

// span records where a recognized key's value lies in the input. For a
// string, [start, end) is its content without the quotes; for any other
// value, the value itself.
type span struct {
	start, end int
	kind       valueKind
	esc        bool  // a string containing backslash escapes
	n          uint8 // how often the key occurred, saturating at 2
}

// Slots of recognized keys.
const (
	slotID = iota
	slotTenant
	slotMeter
	slotModel
	slotQuantity
	slotTime
	slotProperties
	slotSpec
	slotSubject
	slotType
	slotData
	slotDataQuantity
	slotDataModel
	slotDataProperties
	slotCredits
	slotPrice
	slotKind
	slotExpires
	numSlots
)

// Scanning modes: which keys of an object are recorded.
const (
	modeSkip      uint8 = iota // nothing recorded
	modeUsageTop               // top level of a usage event
	modeUsageData              // the CloudEvents data object
	modeGrant                  // top level of a grant
)

func keySlot(mode uint8, k []byte) int {
	switch mode {
	case modeUsageTop:
		switch string(k) {
		case "id":
			return slotID
		case "tenant":
			return slotTenant
		case "meter":
			return slotMeter
		case "model":
			return slotModel
		case "quantity":
			return slotQuantity
		case "time":
			return slotTime
		case "properties":
			return slotProperties
		case "specversion":
			return slotSpec
		case "subject":
			return slotSubject
		case "type":
			return slotType
		case "data":
			return slotData
		}
	case modeUsageData:
		switch string(k) {
		case "quantity":
			return slotDataQuantity
		case "model":
			return slotDataModel
		case "properties":
			return slotDataProperties
		}
	case modeGrant:
		switch string(k) {
		case "id":
			return slotID
		case "tenant":
			return slotTenant
		case "credits":
			return slotCredits
		case "price":
			return slotPrice
		case "kind":
			return slotKind
		case "time":
			return slotTime
		case "expires_after_periods":
			return slotExpires
		}
	}
	return -1
}

// quickKey recognizes the common keys of usage events, with their closing
// quote, without scanning them as general strings: it returns the key's
// slot and the offset of its closing quote, or end -1 when the key must be
// scanned by str (an unknown or escaped key, or a mode without quick keys).
// The compiler turns each comparison with a constant into a few word loads.
func quickKey(b []byte, ks int, mode uint8) (slot, end int) {
	if ks >= len(b) {
		return -1, -1
	}
	r := b[ks:]
	switch mode {
	case modeUsageTop:
		switch r[0] {
		case 'i':
			switch {
			case len(r) >= 3 && string(r[:3]) == `id"`:
				return slotID, ks + 2
			}
		case 't':
			switch {
			case len(r) >= 7 && string(r[:7]) == `tenant"`:
				return slotTenant, ks + 6
			case len(r) >= 5 && string(r[:5]) == `time"`:
				return slotTime, ks + 4
			case len(r) >= 5 && string(r[:5]) == `type"`:
				return slotType, ks + 4
			}
		case 'm':
			switch {
			case len(r) >= 6 && string(r[:6]) == `meter"`:
				return slotMeter, ks + 5
			case len(r) >= 6 && string(r[:6]) == `model"`:
				return slotModel, ks + 5
			}
		case 'q':
			switch {
			case len(r) >= 9 && string(r[:9]) == `quantity"`:
				return slotQuantity, ks + 8
			}
		case 'p':
			switch {
			case len(r) >= 11 && string(r[:11]) == `properties"`:
				return slotProperties, ks + 10
			}
		case 's':
			switch {
			case len(r) >= 12 && string(r[:12]) == `specversion"`:
				return slotSpec, ks + 11
			case len(r) >= 8 && string(r[:8]) == `subject"`:
				return slotSubject, ks + 7
			}
		case 'd':
			switch {
			case len(r) >= 5 && string(r[:5]) == `data"`:
				return slotData, ks + 4
			}
		}
	case modeUsageData:
		switch {
		case len(r) >= 9 && string(r[:9]) == `quantity"`:
			return slotDataQuantity, ks + 8
		case len(r) >= 6 && string(r[:6]) == `model"`:
			return slotDataModel, ks + 5
		case len(r) >= 11 && string(r[:11]) == `properties"`:
			return slotDataProperties, ks + 10
		}
	}
	return -1, -1
}

// DecodeUsage decodes one usage record into ev, following the rules in the
// Decoder documentation. Any error is a *RecordError with Field, Reason and
// Detail set (Record is left for the caller). On error ev holds no useful
// value. See Decoder for how long ev's byte slices stay valid.
func (d *Decoder) DecodeUsage(b []byte, ev *UsageEvent) error {
	if d.usageCanonical(b, ev) || d.usageFast(b, ev) {
		return nil
	}
	return d.usageGeneral(b, ev)
}

// usageGeneral is DecodeUsage without the fast paths: it validates the
// whole document, records where the recognized keys are, then decodes the
// fields in the documented order, which decides the error.
func (d *Decoder) usageGeneral(b []byte, ev *UsageEvent) error {
	*ev = UsageEvent{}
	if !d.scanDocument(b, modeUsageTop) {
		return d.syntaxError()
	}
	var re *RecordError
	if d.slots[slotSpec].n > 0 {
		re = d.cloudEvent(b, ev)
	} else {
		re = d.native(b, ev)
	}
	if re != nil {
		return re
	}
	return nil
}

// Recognized keys of the native form, with their closing quote, as
// little-endian words (quantity and properties: their first 8 bytes).
const (
	wordID       = 0x226469         // id"
	wordTenant   = 0x22746e616e6574 // tenant"
	wordMeter    = 0x22726574656d   // meter"
	wordModel    = 0x226c65646f6d   // model"
	wordTime     = 0x22656d6974     // time"
	wordQuantity = 0x797469746e617571
	wordProperti = 0x69747265706f7270
)

// nativeKey recognizes a native key with its closing quote at b[ks:] and
// returns its slot and the offset of the quote, or end -1 when quickKey
// must look (another key, or one near the end of b).
func nativeKey(b []byte, ks int) (slot, end int) {
	if len(b)-ks < 12 {
		return -1, -1
	}
	w := at8(b, ks)
	switch byte(w) {
	case 'i':
		if w&(1<<24-1) == wordID {
			return slotID, ks + 2
		}
	case 't':
		if w&(1<<56-1) == wordTenant {
			return slotTenant, ks + 6
		}
		if w&(1<<40-1) == wordTime {
			return slotTime, ks + 4
		}
	case 'm':
		if w&(1<<48-1) == wordMeter {
			return slotMeter, ks + 5
		}
		if w&(1<<48-1) == wordModel {
			return slotModel, ks + 5
		}
	case 'q':
		if w == wordQuantity && b[ks+8] == '"' {
			return slotQuantity, ks + 8
		}
	case 'p':
		if w == wordProperti && b[ks+8] == 'e' && b[ks+9] == 's' && b[ks+10] == '"' {
			return slotProperties, ks + 10
		}
	}
	return -1, -1
}

// plainStringWords is plainString eight bytes at a time, in Go: the
// portable version, and the reference the assembly is tested against.
func plainStringWords(b []byte, i int) int {
	for ; len(b)-i >= 8; i += 8 {
		if m := special8(at8(b, i)); m != 0 {
			if j := i + bits.TrailingZeros64(m)>>3; b[j] == '"' {
				return j
			}
			return -1
		}
	}
	for ; i < len(b); i++ {
		switch c := b[i]; {
		case c == '"':
			return i
		case c < 0x20 || c == '\\' || c >= 0x80:
			return -1
		}
	}
	return -1
}

// stringValue scans the string value at b[i] == '"' and returns the offset
// of its closing quote, or -1 when it is not a valid string without
// escapes.
func (d *Decoder) stringValue(b []byte, i int) int {
	e := plainString(b, i+1)
	if e < 0 {
		var esc, ok bool
		if e, esc, ok = d.str(b, i+1); !ok || esc {
			return -1
		}
	}
	return e
}

// at8 returns the little-endian word at b[i:i+8]. Slicing to a fixed length
// costs one bounds check, where b[i:] costs two and a pointer mask.
func at8(b []byte, i int) uint64 { return binary.LittleEndian.Uint64(b[i : i+8]) }

// at4 returns the little-endian 32-bit word at b[i:i+4].
func at4(b []byte, i int) uint32 { return binary.LittleEndian.Uint32(b[i : i+4]) }

// Pieces of the canonical layout, as little-endian words.
const (
	canonID      = 0x223a226469227b   // {"id":"
	canonTenant  = 0x6e616e6574222c22 // ","tenan
	canonTenant2 = 0x223a2274         // t":"
	canonMeter   = 0x726574656d222c22 // ","meter
	canonModel   = 0x6c65646f6d222c22 // ","model
	canonColon   = 0x223a22           // ":"
	canonQuant   = 0x746e617571222c22 // ","quant
	canonQuant2  = 0x22797469         // ity"
	canonTime    = 0x3a22656d6974222c // ,"time":
	canonProp    = 0x7265706f7270222c // ,"proper
	canonProp2   = 0x73656974         // ties
)

// usageCanonical decodes the most common layout in one pass without
// looking keys up: the keys of the native form in the order of
// AppendUsageJSON, without whitespace,
//
//	{"id":"…","tenant":"…","meter":"…"[,"model":"…"],"quantity":…,"time":"…"[,"properties":{…}]}
//
// (trailing whitespace allowed), with id, meter and model strings without
// escapes and every field valid. It reports false for anything else, and
// then DecodeUsage tries usageFast; so, like usageFast, it accepts only
// records that the general path accepts, and fills ev as it would.
//
// Fields go into ev as soon as they are known, not at the end: Go keeps no
// register across a call, so every value still to be stored would be
// spilled and reloaded around each scan it calls. On false, ev is partly
// written; usageFast and usageGeneral then set every field.
func (d *Decoder) usageCanonical(b []byte, ev *UsageEvent) bool {
	// Every piece below is checked against len(b) - 16, so that the word
	// loads never run past the end: a record this short is not common.
	lim := len(b) - 16
	if lim < 0 || at8(b, 0)&(1<<56-1) != canonID {
		return false
	}
	idE := plainString(b, 7)
	if idE < 0 || idE > lim || uint(idE-7)-1 >= MaxKeyLen ||
		at8(b, idE) != canonTenant || at4(b, idE+8) != canonTenant2 {
		return false
	}
	ev.ID = b[7:idE]
	// A tenant in d.rawTen or d.tenants is valid (only valid tenants get
	// there); any other is checked. Tenants, meters and models are first
	// looked up by the 16 bytes that follow their opening quote (see
	// rawFront), which skips scanning them.
	//
	// The tenant's slot in d.rawTen is only loaded at the end: its cache
	// line, requested now, arrives while the rest of the record is parsed.
	ts := idE + 12
	if ts > lim {
		return false
	}
	tw0, tw1 := at8(b, ts), at8(b, ts+8)
	tj := d.rawTen.prefetch(tw0, tw1)
	te := -1
	if m := special8(tw0); m != 0 {
		te = ts + bits.TrailingZeros64(m)>>3
	} else if m = special8(tw1); m != 0 {
		te = ts + 8 + bits.TrailingZeros64(m)>>3
	} else {
		te = plainString(b, ts+16)
	}
	if te < 0 || te > lim || at8(b, te) != canonMeter || at4(b, te+8)&(1<<24-1) != canonColon {
		return false // also when te is not a quote, since canonMeter begins with one
	}
	ms := te + 11
	meter, me := d.rawName(b, ms)
	if me < 0 {
		if me = plainString(b, ms); me < 0 || uint(me-ms)-1 >= MaxKeyLen {
			return false
		}
	}
	if me > lim {
		return false
	}
	ev.Meter = meter // "" until interned, at the end, when rawName missed
	i := me
	var model []byte
	mds := -1
	ev.Model = ""
	if at8(b, i) == canonModel && at4(b, i+8)&(1<<24-1) == canonColon {
		mds = i + 11
		var e int
		if ev.Model, e = d.rawName(b, mds); e < 0 {
			if e = plainString(b, mds); e < 0 || e-mds > MaxKeyLen {
				return false
			}
			model = b[mds:e]
		}
		if e > lim {
			return false
		}
		i = e
	}
	if at8(b, i) != canonQuant || at4(b, i+8) != canonQuant2 || b[i+12] != ':' {
		return false
	}
	qty, i, ok := canonQuantity(b, i+13)
	if !ok || i > lim || at8(b, i) != canonTime || b[i+8] != '"' {
		return false
	}
	ev.Quantity = qty
	if t, ok := d.minute.quick(b, i+9); ok {
		ev.Time = t
		i += 9 + 24
	} else {
		t, n, ok := d.minute.parsePrefix(b[i+9:])
		if !ok {
			return false
		}
		ev.Time = t
		i += 9 + n
	}
	if i >= len(b) || b[i] != '"' {
		return false
	}
	i++
	ev.Properties = nil
	if i <= lim && at8(b, i) == canonProp && at4(b, i+8) == canonProp2 &&
		b[i+12] == '"' && b[i+13] == ':' && b[i+14] == '{' {
		e := flatObject(b, i+14)
		if e < 0 {
			var ok bool
			if e, ok = d.object(b, i+14, 2, modeSkip); !ok {
				return false
			}
		}
		ev.Properties, i = b[i+14:e], e
	}
	if i >= len(b) || b[i] != '}' || (i+1 != len(b) && skipWS(b, i+1) != len(b)) {
		return false
	}
	tenant, rawTenant := d.rawTen.lookup(b, ts, te, tw0, tw1, tj)
	if !rawTenant {
		var known bool
		if tenant, known = d.tenants.lookup(b[ts:te]); !known {
			if uint(te-ts)-1 >= MaxKeyLen || !tenantChars(b[ts:te]) {
				return false
			}
			tenant = d.internTenantMiss(b[ts:te])
		}
		d.rawTen.insert(b, ts, tenant)
	}
	ev.Tenant = tenant
	if ev.Meter == "" {
		ev.Meter = d.internRecent(b[ms:me])
		d.addRawName(b, ms, ev.Meter)
	}
	if len(model) > 0 {
		ev.Model = d.internRecent(model)
		d.addRawName(b, mds, ev.Model)
	}
	return true
}

// canonQuantity parses the quantity value at b[i] and the comma after it,
// in the forms plainMicros takes: a JSON number or a string of
// digits(.digits)? with 1–12 integer digits (no leading zero in a number)
// and 1–6 fractional digits. It returns the offset of the comma.
//
// The integer and fractional digits are each found and converted eight
// bytes at a time (digitRun, digits8), which replaces two loops whose
// length varies from record to record, and so their mispredicted exits,
// with a few multiplications.
func canonQuantity(b []byte, i int) (Micros, int, bool) {
	if len(b)-i < 18 {
		return canonQuantitySlow(b, i)
	}
	quoted := b[i] == '"'
	s := i
	if quoted {
		s++
	}
	w := at8(b, s)
	nd := digitRun(w)
	if nd == 0 || nd == 8 || (!quoted && b[s] == '0' && nd > 1) {
		if nd == 8 {
			return canonQuantitySlow(b, i)
		}
		return 0, 0, false
	}
	n := digits8(w, nd) * MicrosPerUnit
	j := s + nd
	if b[j] == '.' {
		f := at8(b, j+1)
		fd := digitRun(f)
		if fd == 0 || fd > 6 {
			return 0, 0, false
		}
		n += digits8(f, fd) * pow10[6-fd]
		j += 1 + fd
	}
	if quoted {
		if b[j] != '"' {
			return 0, 0, false
		}
		j++
	}
	if b[j] != ',' {
		return 0, 0, false
	}
	return Micros(n), j, true
}

// digitRun returns how many of the bytes of w (eight input bytes,
// little-endian) are ASCII digits before the first that is not (8 when all
// are). A byte is flagged when it is below '0' (the subtraction borrows)
// or above '9' (the addition reaches the high bit; a byte ≥ 0xba, whose
// addition wraps, is flagged by the subtraction). A borrow or carry only
// changes bytes above a truly flagged one, so the lowest flag is exact.
func digitRun(w uint64) int {
	m := ((w - ones*'0') | (w + ones*(0x80-'9'-1))) & highs
	return bits.TrailingZeros64(m) >> 3
}

// digits8 returns the value of the first n (1–7) bytes of w, which are
// ASCII digits, the first byte the most significant: they are moved to the
// top of the word (zero bytes, which count as leading zeros, fill the
// rest) and combined pairwise three times.
func digits8(w uint64, n int) uint64 {
	w = (w << (64 - 8*uint(n))) & (ones * 0x0f) // the digits' values; the zero bytes stay 0
	w = (w * (10<<8 + 1)) >> 8 & 0x00ff00ff00ff00ff
	w = (w * (100<<16 + 1)) >> 16 & 0x0000ffff0000ffff
	return (w * (10000<<32 + 1)) >> 32
}

// canonQuantitySlow is canonQuantity a byte at a time: for the last bytes
// of a buffer and integer parts of 8 digits or more, and the reference the
// word-wise path is tested against.
func canonQuantitySlow(b []byte, i int) (Micros, int, bool) {
	quoted := i < len(b) && b[i] == '"'
	if quoted {
		i++
	}
	s := i
	var n uint64
	for i < len(b) && b[i]-'0' <= 9 {
		n = n*10 + uint64(b[i]-'0')
		i++
	}
	if i == s || i-s > 12 || (!quoted && b[s] == '0' && i-s > 1) {
		return 0, 0, false
	}
	if i < len(b) && b[i] == '.' {
		i++
		f := i
		for i < len(b) && b[i]-'0' <= 9 {
			n = n*10 + uint64(b[i]-'0')
			i++
		}
		if i == f || i-f > 6 {
			return 0, 0, false
		}
		n *= pow10[6-(i-f)]
	} else {
		n *= MicrosPerUnit
	}
	if quoted {
		if i >= len(b) || b[i] != '"' {
			return 0, 0, false
		}
		i++
	}
	if i >= len(b) || b[i] != ',' {
		return 0, 0, false
	}
	return Micros(n), i, true
}

// Bits of the native fields in usageFast's seen set.
const requiredNative = 1<<slotID | 1<<slotTenant | 1<<slotMeter | 1<<slotQuantity | 1<<slotTime

// usageFast decodes the common record in one pass: the native form, its
// recognized keys unique and without escapes, id, tenant, meter and model
// strings without escapes, every field valid. It reports false for anything
// else, leaving ev undefined, and then DecodeUsage decides on the general
// path, which also picks the error. So usageFast accepts only records that
// the general path accepts, and fills ev as it would.
func (d *Decoder) usageFast(b []byte, ev *UsageEvent) bool {
	i := 0
	if len(b) == 0 || b[0] != '{' {
		if i = skipWS(b, 0); i >= len(b) || b[i] != '{' {
			return false
		}
	}
	i = skipWS(b, i+1)
	var (
		seen              uint32
		id, tenant, meter []byte
		model, props      []byte
		qty               Micros
		t                 time.Time
		ok                bool
	)
	for {
		if i >= len(b) || b[i] != '"' {
			return false // the empty object lacks the required fields
		}
		ks := i + 1
		slot, ke := nativeKey(b, ks)
		if ke < 0 {
			if slot, ke = quickKey(b, ks, modeUsageTop); ke < 0 {
				// Not a recognized key as it stands: an unknown key, or an
				// escaped one that may decode to a recognized key.
				if ke = plainString(b, ks); ke < 0 {
					return false
				}
			}
		}
		if i = ke + 1; i >= len(b) || b[i] != ':' {
			if i = skipWS(b, i); i >= len(b) || b[i] != ':' {
				return false
			}
		}
		if i = skipWS(b, i+1); i >= len(b) {
			return false
		}
		if slot >= 0 {
			if seen&(1<<slot) != 0 {
				return false
			}
			seen |= 1 << slot
		}
		e := -1
		switch slot {
		case slotID, slotTenant, slotMeter, slotTime:
			if b[i] != '"' {
				return false
			}
			if e = d.stringValue(b, i); e < 0 {
				return false
			}
			v := b[i+1 : e]
			e++
			switch slot {
			case slotID:
				if uint(len(v))-1 >= MaxKeyLen {
					return false
				}
				id = v
			case slotTenant:
				if uint(len(v))-1 >= MaxKeyLen || !tenantChars(v) {
					return false
				}
				tenant = v
			case slotMeter:
				if uint(len(v))-1 >= MaxKeyLen {
					return false
				}
				meter = v
			default:
				if t, ok = d.minute.parse(v); !ok {
					return false
				}
			}
		case slotModel:
			switch b[i] {
			case '"':
				if e = d.stringValue(b, i); e < 0 || e-i-1 > MaxKeyLen {
					return false
				}
				model = b[i+1 : e]
				e++
			case 'n':
				if len(b)-i < 4 || string(b[i:i+4]) != "null" {
					return false
				}
				e = i + 4
			default:
				return false
			}
		case slotQuantity:
			if b[i] == '"' {
				if e = d.stringValue(b, i); e < 0 {
					return false
				}
				if qty, ok = plainMicros(b[i+1 : e]); !ok {
					return false
				}
				e++
			} else {
				if e, ok = d.number(b, i); !ok {
					return false
				}
				if qty, ok = plainMicros(b[i:e]); !ok {
					return false
				}
			}
		case slotProperties:
			switch b[i] {
			case '{':
				if e, ok = d.object(b, i, 2, modeSkip); !ok {
					return false
				}
				props = b[i:e]
			case 'n':
				if len(b)-i < 4 || string(b[i:i+4]) != "null" {
					return false
				}
				e = i + 4
			default:
				return false
			}
		case slotSpec:
			return false // the CloudEvents form
		default: // an unknown key, or subject, type or data, which the native form ignores
			if e, _, _, ok = d.value(b, i, 1, modeSkip); !ok {
				return false
			}
		}
		if i = skipWS(b, e); i >= len(b) {
			return false
		}
		if b[i] == ',' {
			i = skipWS(b, i+1)
			continue
		}
		if b[i] != '}' {
			return false
		}
		break
	}
	if i+1 != len(b) && skipWS(b, i+1) != len(b) {
		return false
	}
	if seen&requiredNative != requiredNative {
		return false
	}
	// Valid: intern only now, as the general path would.
	ev.ID = id
	ev.Tenant = d.internTenant(tenant)
	ev.Meter = d.internRecent(meter)
	ev.Model = ""
	if len(model) > 0 {
		ev.Model = d.internRecent(model)
	}
	ev.Quantity = qty
	ev.Time = t
	ev.Properties = props
	return true
}

func (d *Decoder) native(b []byte, ev *UsageEvent) *RecordError {
	var re *RecordError
	if ev.ID, re = d.id(b, &d.slots[slotID], "id"); re != nil {
		return re
	}
	if ev.Tenant, re = d.tenant(b, &d.slots[slotTenant], "tenant", true); re != nil {
		return re
	}
	if ev.Meter, re = d.meter(b, &d.slots[slotMeter], "meter"); re != nil {
		return re
	}
	if ev.Model, re = d.model(b, &d.slots[slotModel], "model"); re != nil {
		return re
	}
	if ev.Quantity, re = d.quantity(b, &d.slots[slotQuantity], "quantity"); re != nil {
		return re
	}
	if ev.Time, re = d.time(b, &d.slots[slotTime], "time"); re != nil {
		return re
	}
	ev.Properties, re = d.properties(b, &d.slots[slotProperties], "properties")
	return re
}

func (d *Decoder) cloudEvent(b []byte, ev *UsageEvent) *RecordError {
	sp := &d.slots[slotSpec]
	if sp.n > 1 {
		return duplicate("specversion")
	}
	if sp.kind != kindString || string(d.text(b, sp, &d.tmp)) != "1.0" {
		return Errorf(ReasonBadField, "specversion", "must be the string \"1.0\"")
	}
	var re *RecordError
	if ev.ID, re = d.id(b, &d.slots[slotID], "id"); re != nil {
		return re
	}
	if ev.Tenant, re = d.tenant(b, &d.slots[slotSubject], "subject", true); re != nil {
		return re
	}
	if ev.Meter, re = d.meter(b, &d.slots[slotType], "type"); re != nil {
		return re
	}
	// Without data there is no quantity; the data slots below were filled
	// only if data is an object.
	switch data := &d.slots[slotData]; {
	case data.n > 1:
		return duplicate("data")
	case data.n == 0 || data.kind == kindNull:
		return Errorf(ReasonMissingField, "data.quantity", "is missing (no data object)")
	case data.kind != kindObject:
		return Errorf(ReasonBadField, "data", "is a %s, not an object", data.kind)
	}
	if ev.Model, re = d.model(b, &d.slots[slotDataModel], "data.model"); re != nil {
		return re
	}
	if ev.Quantity, re = d.quantity(b, &d.slots[slotDataQuantity], "data.quantity"); re != nil {
		return re
	}
	if ev.Time, re = d.time(b, &d.slots[slotTime], "time"); re != nil {
		return re
	}
	ev.Properties, re = d.properties(b, &d.slots[slotDataProperties], "data.properties")
	return re
}

func duplicate(field string) *RecordError {
	return Errorf(ReasonBadField, field, "duplicate key")
}

// present reports the common presence errors of a field: missing (absent or
// null, when required) and duplicate. ok is false when the field is absent
// or null and optional.
func present(sp *span, field string, required bool) (ok bool, re *RecordError) {
	if sp.n == 1 && sp.kind != kindNull {
		return true, nil
	}
	return false, absent(sp, field, required)
}

func absent(sp *span, field string, required bool) *RecordError {
	switch {
	case sp.n > 1:
		return duplicate(field)
	case required:
		return Errorf(ReasonMissingField, field, "is missing")
	}
	return nil
}

// text returns the decoded content of the string at sp: a slice of b when it
// has no escapes, else the decoded bytes in *buf.
func (d *Decoder) text(b []byte, sp *span, buf *[]byte) []byte {
	if !sp.esc {
		return b[sp.start:sp.end]
	}
	return unescapeInto(buf, b[sp.start:sp.end])
}

func unescapeInto(buf *[]byte, s []byte) []byte {
	*buf = appendUnescaped((*buf)[:0], s)
	return *buf
}

// stringField checks presence and type of a string field and returns its
// decoded value. v is nil with re nil when an optional field is absent.
func (d *Decoder) stringField(b []byte, sp *span, field string, required bool, buf *[]byte) (v []byte, re *RecordError) {
	if sp.n == 1 && sp.kind == kindString && !sp.esc {
		return b[sp.start:sp.end], nil
	}
	return d.stringFieldSlow(b, sp, field, required, buf)
}

func (d *Decoder) stringFieldSlow(b []byte, sp *span, field string, required bool, buf *[]byte) (v []byte, re *RecordError) {
	ok, re := present(sp, field, required)
	if !ok {
		return nil, re
	}
	if sp.kind != kindString {
		return nil, Errorf(ReasonBadField, field, "is a %s, not a string", sp.kind)
	}
	return d.text(b, sp, buf), nil
}

// clip shortens a value quoted in an error detail to at most 64 bytes.
func clip(v []byte) []byte {
	if len(v) > 64 {
		return v[:64]
	}
	return v
}

func checkLen(v []byte, field string) *RecordError {
	if uint(len(v))-1 < MaxKeyLen {
		return nil
	}
	return lenError(v, field)
}

func lenError(v []byte, field string) *RecordError {
	if len(v) == 0 {
		return Errorf(ReasonBadField, field, "is empty")
	}
	if len(v) > MaxKeyLen {
		return Errorf(ReasonBadField, field, "is %d bytes, more than %d", len(v), MaxKeyLen)
	}
	return nil
}

func (d *Decoder) id(b []byte, sp *span, field string) ([]byte, *RecordError) {
	v, re := d.stringField(b, sp, field, true, &d.idBuf)
	if re != nil {
		return nil, re
	}
	if re := checkLen(v, field); re != nil {
		return nil, re
	}
	return v, nil
}

func (d *Decoder) tenant(b []byte, sp *span, field string, intern bool) (string, *RecordError) {
	v, re := d.stringField(b, sp, field, true, &d.tmp)
	if re != nil {
		return "", re
	}
	if re := checkLen(v, field); re != nil {
		return "", re
	}
	if !tenantChars(v) {
		for i, c := range v {
			if tenantChar[c] == 0 {
				return "", Errorf(ReasonBadField, field, "byte %d (%q) is not one of [A-Za-z0-9._:-]", i, c)
			}
		}
	}
	if !intern {
		return string(v), nil
	}
	return d.intern(v), nil
}

func (d *Decoder) meter(b []byte, sp *span, field string) (string, *RecordError) {
	v, re := d.stringField(b, sp, field, true, &d.tmp)
	if re != nil {
		return "", re
	}
	if re := checkLen(v, field); re != nil {
		return "", re
	}
	return d.internRecent(v), nil
}

func (d *Decoder) model(b []byte, sp *span, field string) (string, *RecordError) {
	v, re := d.stringField(b, sp, field, false, &d.tmp)
	if re != nil || len(v) == 0 {
		return "", re
	}
	if len(v) > MaxKeyLen {
		return "", Errorf(ReasonBadField, field, "is %d bytes, more than %d", len(v), MaxKeyLen)
	}
	return d.internRecent(v), nil
}

func (d *Decoder) quantity(b []byte, sp *span, field string) (Micros, *RecordError) {
	if ok, re := present(sp, field, true); !ok {
		return 0, re
	}
	if !sp.esc {
		if m, ok := plainMicros(b[sp.start:sp.end]); ok {
			return m, nil
		}
	}
	var p numParts
	switch sp.kind {
	case kindNumber:
		p = jsonNumberParts(b[sp.start:sp.end])
	case kindString:
		var good bool
		if p, good = decimalStringParts(d.text(b, sp, &d.tmp)); !good {
			return 0, Errorf(ReasonBadQuantity, field, "string is not a plain decimal -?digits(.digits)?")
		}
	default:
		return 0, Errorf(ReasonBadQuantity, field, "is a %s, not a number or decimal string", sp.kind)
	}
	m, st := p.scaled(6)
	switch {
	case st == numZero:
		return 0, nil
	case p.neg:
		return 0, Errorf(ReasonBadQuantity, field, "is negative")
	case st == numInexact:
		return 0, Errorf(ReasonBadQuantity, field, "has more than 6 fractional digits")
	case st == numTooBig || m > uint64(MaxQuantity):
		return 0, Errorf(ReasonBadQuantity, field, "is more than 1e12")
	}
	return Micros(m), nil
}

func (d *Decoder) time(b []byte, sp *span, field string) (time.Time, *RecordError) {
	ok, re := present(sp, field, true)
	if !ok {
		return time.Time{}, re
	}
	if sp.kind != kindString {
		return time.Time{}, Errorf(ReasonBadTime, field, "is a %s, not an RFC 3339 string", sp.kind)
	}
	t, good := parseRFC3339(d.text(b, sp, &d.tmp))
	if !good {
		return time.Time{}, Errorf(ReasonBadTime, field, "%q is not an RFC 3339 timestamp", clip(d.text(b, sp, &d.tmp)))
	}
	return t, nil
}

func (d *Decoder) properties(b []byte, sp *span, field string) ([]byte, *RecordError) {
	ok, re := present(sp, field, false)
	if !ok {
		return nil, re
	}
	if sp.kind != kindObject {
		return nil, Errorf(ReasonBadField, field, "is a %s, not an object", sp.kind)
	}
	return b[sp.start:sp.end], nil
}

// intern returns v as a string, reusing the copy kept from an earlier call.
func (d *Decoder) intern(v []byte) string {
	s, _ := d.internKept(v)
	return s
}

// internKept is intern that also reports whether the string is kept in the
// intern table.
func (d *Decoder) internKept(v []byte) (string, bool) {
	if s, ok := d.interned[string(v)]; ok {
		return s, true
	}
	s := string(v)
	if d.interned == nil {
		d.interned = make(map[string]string)
	}
	if len(d.interned) < InternLimit {
		d.interned[s] = s
		return s, true
	}
	return s, false
}

// internTenant is intern for tenants, through the open-addressing front
// table d.tenants, which holds interned tenants only.
func (d *Decoder) internTenant(v []byte) string {
	if s, ok := d.tenants.lookup(v); ok {
		return s
	}
	return d.internTenantMiss(v)
}

// internTenantMiss is internTenant for a v that d.tenants lacks.
func (d *Decoder) internTenantMiss(v []byte) string {
	f := &d.tenants
	if f.slots == nil {
		f.slots = make([]frontSlot, 1024)
		f.seed = rand.Uint64()
	}
	s, kept := d.internKept(v)
	if kept {
		f.insert(s)
	}
	return s
}

// rawSlot holds a string s that was found plain (no escapes, control
// characters or bytes ≥ 0x80) and valid where it occurred, keyed by the 16
// bytes that followed its opening quote there: its first 16 bytes, or, for
// a shorter string, its bytes, its closing quote and what came after. When
// the 16 bytes after another opening quote equal w0, w1, that string is s
// too if s is shorter than 16 bytes (its closing quote is among them), and
// otherwise if the rest of s and a closing quote follow. A slot with an
// empty s is empty.
type rawSlot struct {
	w0, w1 uint64 // little-endian
	s      string
}

// newRawSlot returns the slot for s, which starts at b[i] (i+16 ≤ len(b)).
func newRawSlot(b []byte, i int, s string) rawSlot {
	if len(b)-i < 16 {
		return rawSlot{}
	}
	return rawSlot{at8(b, i), at8(b, i+8), s}
}

// match reports the offset of the closing quote of the string that
// starts at b[i], given that the 16 bytes there are r.w0, r.w1, if it is
// r.s, else -1.
func (r *rawSlot) match(b []byte, i int) int {
	n := len(r.s)
	if n < 16 {
		return i + n
	}
	if e := i + n; e < len(b) && b[e] == '"' && string(b[i+16:e]) == r.s[16:] {
		return e
	}
	return -1
}

// rawHash hashes the 16 bytes of a rawSlot key; every bit of the result
// depends on every bit of w0 and w1.
func rawHash(w0, w1 uint64) uint64 {
	h := w0 * 0x9e3779b97f4a7c15
	h = (h ^ h>>32 ^ w1) * 0xc2b2ae3d27d4eb4f
	return h ^ h>>32
}

// addRawName remembers the meter or model s, which starts at b[i], in
// d.rawNames: in the first slot of its set, the previous first moving to
// the second.
func (d *Decoder) addRawName(b []byte, i int, s string) {
	r := newRawSlot(b, i, s)
	if len(r.s) == 0 {
		return
	}
	set := &d.rawNames[rawHash(r.w0, r.w1)>>58]
	set[1], set[0] = set[0], r
}

// rawName returns the meter or model string at b[i] if d.rawNames knows
// it, with the offset of its closing quote; else "", -1.
func (d *Decoder) rawName(b []byte, i int) (string, int) {
	if len(b)-i < 16 {
		return "", -1
	}
	w0, w1 := at8(b, i), at8(b, i+8)
	set := &d.rawNames[rawHash(w0, w1)>>58]
	for k := range set { // a fixed-size array: no bounds checks
		if r := &set[k]; r.w0 == w0 && r.w1 == w1 && len(r.s) != 0 {
			if e := r.match(b, i); e >= 0 {
				return r.s, e
			}
		}
	}
	return "", -1
}

// rawFront is an open-addressing table (linear probing, load ≤ 1/2) of
// valid interned tenants keyed by raw bytes (see rawSlot): a tenant of a
// canonical record is found with two word loads and one probe, without
// scanning it. Keys may repeat (strings that share their first 16
// bytes), so a lookup goes on past a slot that does not match; it probes
// at most maxFrontProbe slots. It holds no more than InternLimit entries.
type rawFront struct {
	slots []rawSlot // power-of-two length; nil until first used
	n     int
	seed  uint64
}

// prefetch asks the CPU to start loading the first slot that lookup will
// probe for the key w0, w1, and returns its index for lookup (-1 while the
// table is empty).
func (f *rawFront) prefetch(w0, w1 uint64) int {
	if f.slots == nil {
		return -1
	}
	j := int(rawHash(w0^f.seed, w1)) & (len(f.slots) - 1)
	Prefetch(uintptr(unsafe.Pointer(&f.slots[j])))
	return j
}

// lookup returns the tenant at b[i], whose closing quote is at b[e] and
// whose first 16 bytes (i+16 ≤ len(b)) are w0, w1, if the table has it. j
// is what prefetch returned for w0, w1; the table must not have changed
// since.
func (f *rawFront) lookup(b []byte, i, e int, w0, w1 uint64, j int) (string, bool) {
	if j < 0 {
		return "", false
	}
	mask := len(f.slots) - 1
	for range maxFrontProbe {
		r := &f.slots[j]
		if len(r.s) == 0 {
			break
		}
		if r.w0 == w0 && r.w1 == w1 && r.match(b, i) == e {
			return r.s, true
		}
		j = (j + 1) & mask
	}
	return "", false
}

// insert adds tenant s, which starts at b[i] and is valid and interned,
// unless the table is full or the probe run too long.
func (f *rawFront) insert(b []byte, i int, s string) {
	r := newRawSlot(b, i, s)
	if len(r.s) == 0 || f.n >= InternLimit {
		return
	}
	if (f.n+1)*2 > len(f.slots) {
		old := f.slots
		if old == nil {
			f.seed = rand.Uint64()
		}
		f.slots = make([]rawSlot, max(1024, 2*len(old)))
		f.n = 0
		for k := range old {
			if len(old[k].s) != 0 {
				f.place(old[k])
			}
		}
	}
	f.place(r)
}

func (f *rawFront) place(r rawSlot) {
	mask := len(f.slots) - 1
	j := int(rawHash(r.w0^f.seed, r.w1)) & mask
	for range maxFrontProbe {
		if len(f.slots[j].s) == 0 {
			f.slots[j] = r
			f.n++
			return
		}
		j = (j + 1) & mask
	}
}

// internFront is an open-addressing table (linear probing, load ≤ 1/2) of
// interned strings, which answers most intern lookups of a hot field in a
// few instructions and one cache line: a slot holds the first 16 bytes of
// its string, so strings of up to 16 bytes compare without reading the
// string itself. A lookup probes at most maxFrontProbe slots, so that keys
// chosen to collide cost no more than a map lookup.
type internFront struct {
	slots []frontSlot // power-of-two length; nil until first used
	n     int
	seed  uint64
}

// frontSlot is 32 bytes; an empty string marks an empty slot (the table
// never holds one).
type frontSlot struct {
	w0, w1 uint64 // the first 16 bytes of s, little-endian, zero-padded
	s      string
}

const maxFrontProbe = 16

// frontWords returns the first 16 bytes of v as little-endian words,
// zero-padded.
func frontWords(v []byte) (w0, w1 uint64) {
	n := len(v)
	if cap(v) >= 16 {
		x := v[:16] // bytes past len(v) are read, then masked off
		w0, w1 = at8(x, 0), at8(x, 8)
		switch {
		case n < 8:
			w0 &= 1<<(8*n) - 1
			w1 = 0
		case n < 16:
			w1 &= 1<<(8*(n-8)) - 1
		}
		return w0, w1
	}
	for i := min(n, 16) - 1; i >= 0; i-- {
		if i >= 8 {
			w1 = w1<<8 | uint64(v[i])
		} else {
			w0 = w0<<8 | uint64(v[i])
		}
	}
	return w0, w1
}

// hash returns the slot hash of a string of n bytes that begins with the
// words w0, w1 and goes on with rest.
func (f *internFront) hash(w0, w1 uint64, n int, rest []byte) uint64 {
	const m = 0xbf58476d1ce4e5b9
	h := (f.seed ^ uint64(n)) * m
	h = (h ^ w0) * m
	h ^= h >> 31
	h = (h ^ w1) * m
	h ^= h >> 31
	if len(rest) > 0 {
		h ^= frontHash(rest, f.seed)
	}
	h *= 0x94d049bb133111eb
	return h ^ h>>32
}

// lookup returns the string equal to v, if the table has it.
func (f *internFront) lookup(v []byte) (string, bool) {
	if f.slots == nil || len(v) == 0 {
		return "", false
	}
	w0, w1 := frontWords(v)
	var rest []byte
	if len(v) > 16 {
		rest = v[16:]
	}
	mask := len(f.slots) - 1
	i := int(f.hash(w0, w1, len(v), rest)) & mask
	for range maxFrontProbe {
		s := &f.slots[i]
		if s.w0 == w0 && s.w1 == w1 && len(s.s) == len(v) && (len(v) <= 16 || s.s[16:] == string(rest)) {
			return s.s, true
		}
		if len(s.s) == 0 {
			break
		}
		i = (i + 1) & mask
	}
	return "", false
}

// insert adds s (not empty), unless its probe run is too long.
func (f *internFront) insert(s string) {
	if (f.n+1)*2 > len(f.slots) {
		old := f.slots
		f.slots = make([]frontSlot, 2*len(old))
		f.n = 0
		for _, o := range old {
			if len(o.s) != 0 {
				f.insert(o.s)
			}
		}
	}
	w0, w1 := frontWords([]byte(s))
	var rest []byte
	if len(s) > 16 {
		rest = []byte(s[16:])
	}
	mask := len(f.slots) - 1
	i := int(f.hash(w0, w1, len(s), rest)) & mask
	for range maxFrontProbe {
		if len(f.slots[i].s) == 0 {
			f.slots[i] = frontSlot{w0, w1, s}
			f.n++
			return
		}
		i = (i + 1) & mask
	}
}

// frontHash hashes v with seed: 8-byte words, each absorbed by a multiply
// and xor-shift, the length first.
func frontHash(v []byte, seed uint64) uint64 {
	const m = 0xbf58476d1ce4e5b9
	h := (seed ^ uint64(len(v))) * m
	for len(v) >= 8 {
		h = (h ^ binary.LittleEndian.Uint64(v)) * m
		h ^= h >> 31
		v = v[8:]
	}
	if len(v) > 0 {
		var w uint64
		for i := len(v) - 1; i >= 0; i-- {
			w = w<<8 | uint64(v[i])
		}
		h = (h ^ w) * m
		h ^= h >> 31
	}
	return h
}

// internRecent is intern for fields with few distinct values (meters and
// models): a small direct-mapped cache, indexed by the length and three
// bytes, answers most lookups without hashing the whole string.
func (d *Decoder) internRecent(v []byte) string {
	n := len(v) // ≥ 1
	h := (n*7 + int(v[0])*3 + int(v[n>>1])*5 + int(v[n-1])) & (len(d.recent) - 1)
	if s := d.recent[h]; s == string(v) {
		return s
	}
	s := d.intern(v)
	d.recent[h] = s
	return s
}

// tenantChar is 1 for the bytes allowed in a tenant, [A-Za-z0-9._:-].
var tenantChar = func() (t [256]uint8) {
	for c := '0'; c <= '9'; c++ {
		t[c] = 1
	}
	for c := 'a'; c <= 'z'; c++ {
		t[c] = 1
		t[c-'a'+'A'] = 1
	}
	t['.'], t['_'], t[':'], t['-'] = 1, 1, 1, 1
	return t
}()

// tenantChars reports whether every byte of v is allowed in a tenant. It
// checks eight bytes per branch.
func tenantChars(v []byte) bool {
	for len(v) >= 8 {
		if tenantChar[v[0]]&tenantChar[v[1]]&tenantChar[v[2]]&tenantChar[v[3]]&
			tenantChar[v[4]]&tenantChar[v[5]]&tenantChar[v[6]]&tenantChar[v[7]] == 0 {
			return false
		}
		v = v[8:]
	}
	ok := uint8(1)
	for _, c := range v {
		ok &= tenantChar[c]
	}
	return ok == 1
}

// syntaxError reports the scan failure recorded by fail.
func (d *Decoder) syntaxError() *RecordError {
	return Errorf(ReasonMalformedJSON, "", "%s at offset %d", d.errMsg, d.errOff)
}

func (d *Decoder) fail(off int, msg string) bool {
	d.errOff, d.errMsg = off, msg
	return false
}

// scanDocument checks that b is exactly one JSON object and records the
// spans of the keys that mode recognizes in d.slots.
func (d *Decoder) scanDocument(b []byte, mode uint8) bool {
	d.slots = [numSlots]span{}
	i := skipWS(b, 0)
	if i >= len(b) {
		return d.fail(i, "empty record")
	}
	if b[i] != '{' {
		return d.fail(i, "record is not a JSON object")
	}
	i, ok := d.object(b, i, 1, mode)
	if !ok {
		return false
	}
	if i = skipWS(b, i); i != len(b) {
		return d.fail(i, "data after the JSON object")
	}
	return true
}

func skipWS(b []byte, i int) int {
	for i < len(b) && b[i] <= ' ' {
		if c := b[i]; c != ' ' && c != '\t' && c != '\n' && c != '\r' {
			return i
		}
		i++
	}
	return i
}

// object scans the object starting at b[i] == '{' and returns the offset
// just past it.
func (d *Decoder) object(b []byte, i, depth int, mode uint8) (int, bool) {
	if depth > maxNesting {
		return i, d.fail(i, "nesting deeper than 10000")
	}
	i = skipWS(b, i+1)
	if i < len(b) && b[i] == '}' {
		return i + 1, true
	}
	for {
		if i >= len(b) {
			return i, d.fail(i, "unexpected end of record")
		}
		if b[i] != '"' {
			return i, d.fail(i, "expected a string key")
		}
		ks := i + 1
		slot, ke := quickKey(b, ks, mode)
		if ke < 0 {
			var kesc, ok bool
			if ke, kesc, ok = d.str(b, ks); !ok {
				return ke, false
			}
			if mode != modeSkip {
				k := b[ks:ke]
				if kesc {
					d.keyBuf = appendUnescaped(d.keyBuf[:0], k)
					k = d.keyBuf
				}
				slot = keySlot(mode, k)
			}
		}
		if i = ke + 1; i >= len(b) || b[i] != ':' {
			if i = skipWS(b, i); i >= len(b) || b[i] != ':' {
				return i, d.fail(i, "expected ':' after key")
			}
		}
		i = skipWS(b, i+1)
		child := modeSkip
		if mode == modeUsageTop && slot == slotData {
			child = modeUsageData
		}
		vs := i
		var e int
		var kind valueKind
		var esc, ok bool
		if i < len(b) && b[i] == '"' {
			e, esc, ok = d.str(b, i+1)
			e, kind = e+1, kindString
		} else {
			e, kind, esc, ok = d.value(b, i, depth, child)
		}
		if !ok {
			return e, false
		}
		if slot >= 0 {
			sp := &d.slots[slot]
			if sp.n < 2 {
				sp.n++
			}
			sp.kind, sp.esc = kind, esc
			if kind == kindString {
				sp.start, sp.end = vs+1, e-1
			} else {
				sp.start, sp.end = vs, e
			}
		}
		i = skipWS(b, e)
		if i >= len(b) {
			return i, d.fail(i, "unexpected end of record")
		}
		switch b[i] {
		case ',':
			i = skipWS(b, i+1)
		case '}':
			return i + 1, true
		default:
			return i, d.fail(i, "expected ',' or '}' after object member")
		}
	}
}

func (d *Decoder) array(b []byte, i, depth int) (int, bool) {
	if depth > maxNesting {
		return i, d.fail(i, "nesting deeper than 10000")
	}
	i = skipWS(b, i+1)
	if i < len(b) && b[i] == ']' {
		return i + 1, true
	}
	for {
		e, _, _, ok := d.value(b, i, depth, modeSkip)
		if !ok {
			return e, false
		}
		i = skipWS(b, e)
		if i >= len(b) {
			return i, d.fail(i, "unexpected end of record")
		}
		switch b[i] {
		case ',':
			i = skipWS(b, i+1)
		case ']':
			return i + 1, true
		default:
			return i, d.fail(i, "expected ',' or ']' after array element")
		}
	}
}

// value scans the value starting at b[i] inside a container at depth and
// returns the offset just past it. Objects are scanned in mode child.
func (d *Decoder) value(b []byte, i, depth int, child uint8) (end int, kind valueKind, esc bool, ok bool) {
	if i >= len(b) {
		return i, kindNone, false, d.fail(i, "unexpected end of record")
	}
	switch c := b[i]; c {
	case '"':
		e, esc, ok := d.str(b, i+1)
		return e + 1, kindString, esc, ok
	case '{':
		e, ok := d.object(b, i, depth+1, child)
		return e, kindObject, false, ok
	case '[':
		e, ok := d.array(b, i, depth+1)
		return e, kindArray, false, ok
	case 't':
		return d.literal(b, i, "true", kindBool)
	case 'f':
		return d.literal(b, i, "false", kindBool)
	case 'n':
		return d.literal(b, i, "null", kindNull)
	default:
		if c == '-' || (c >= '0' && c <= '9') {
			e, ok := d.number(b, i)
			return e, kindNumber, false, ok
		}
		return i, kindNone, false, d.fail(i, "invalid character at start of value")
	}
}

func (d *Decoder) literal(b []byte, i int, lit string, kind valueKind) (int, valueKind, bool, bool) {
	if len(b)-i < len(lit) || string(b[i:i+len(lit)]) != lit {
		return i, kindNone, false, d.fail(i, "invalid literal")
	}
	return i + len(lit), kind, false, true
}

// flatObject scans the object at b[i] == '{' when it is flat and compact,
// the usual shape of properties: no whitespace, keys and string values
// without escapes, control characters or non-ASCII bytes, and values that
// are strings, numbers, true, false or null. It returns the offset just
// past the object, or -1 when the object is not of that shape (which
// includes every invalid one), leaving it to the general scanner. What it
// accepts is valid JSON, so the record's outcome does not depend on it.
//
// An object that ends within 64 bytes (most properties) is walked from
// quote to quote on bit masks (flatObjectMasked); any other, and any the
// masks cannot settle, is scanned byte by byte (flatObjectScan). Both
// accept exactly the same objects.
func flatObject(b []byte, i int) int {
	if n := len(b) - i; n >= 16 {
		if e, ok := flatObjectMasked(b, i, min(n, 64)); ok {
			return e
		}
	}
	return flatObjectScan(b, i)
}

// flatObjectMasked is flatObject for an object that ends within the n
// (16–64) bytes from b[i]: stringMasks classifies them at once, then the
// walk jumps from each opening quote to the next quote, which closes the
// string (an escape would be a special byte). Every string's content lies
// inside the object, and no byte of a flat object outside its strings is
// special, so one test that the object holds no special byte at all stands
// for a plainString scan of each string. It reports false, undecided,
// for anything else: an object it cannot settle within n bytes, or one
// that is not flat and compact.
func flatObjectMasked(b []byte, i, n int) (int, bool) {
	w := b[i : i+n]
	quotes, special := stringMasks(w)
	k := 1
	if w[1] == '}' {
		return i + 2, true
	}
	for {
		if k >= n || w[k] != '"' {
			return 0, false
		}
		// k < n ≤ 64 here and below, so the shifts by k&63 are by k: Go
		// then needs no test for a shift of 64 or more.
		r := quotes >> 1 >> (uint(k) & 63)
		if r == 0 {
			return 0, false
		}
		k += 2 + bits.TrailingZeros64(r) // past the key's closing quote
		if k+1 >= n || w[k] != ':' {
			return 0, false
		}
		switch k++; w[k] {
		case '"':
			if r = quotes >> 1 >> (uint(k) & 63); r == 0 {
				return 0, false
			}
			k += 2 + bits.TrailingZeros64(r)
		case 't':
			if !hasAt(w, k, "true") {
				return 0, false
			}
			k += 4
		case 'f':
			if !hasAt(w, k, "false") {
				return 0, false
			}
			k += 5
		case 'n':
			if !hasAt(w, k, "null") {
				return 0, false
			}
			k += 4
		default:
			var msg string
			if k, msg = scanNumber(w, k); msg != "" {
				return 0, false
			}
		}
		if k >= n {
			return 0, false
		}
		switch w[k] {
		case ',':
			k++
		case '}':
			if k++; special&(^uint64(0)>>(uint(64-k)&63)) != 0 { // 1 ≤ k ≤ n
				return 0, false
			}
			return i + k, true
		default:
			return 0, false
		}
	}
}

// stringMasksBytes is stringMasks a byte at a time: the portable version,
// and the reference the assembly is tested against.
func stringMasksBytes(b []byte) (quotes, special uint64) {
	for k, c := range b[:min(len(b), 64)] {
		if c == '"' {
			quotes |= 1 << uint(k)
		}
		if c == '\\' || c < 0x20 || c >= 0x80 {
			special |= 1 << uint(k)
		}
	}
	return quotes, special
}

// flatObjectScan is flatObject a string at a time.
func flatObjectScan(b []byte, i int) int {
	i++
	if i < len(b) && b[i] == '}' {
		return i + 1
	}
	for {
		if i >= len(b) || b[i] != '"' {
			return -1
		}
		if i = plainString(b, i+1); i < 0 || i+2 >= len(b) || b[i+1] != ':' {
			return -1
		}
		switch i += 2; b[i] {
		case '"':
			if i = plainString(b, i+1); i < 0 {
				return -1
			}
			i++
		case 't':
			if !hasAt(b, i, "true") {
				return -1
			}
			i += 4
		case 'f':
			if !hasAt(b, i, "false") {
				return -1
			}
			i += 5
		case 'n':
			if !hasAt(b, i, "null") {
				return -1
			}
			i += 4
		default:
			var msg string
			if i, msg = scanNumber(b, i); msg != "" {
				return -1
			}
		}
		if i >= len(b) {
			return -1
		}
		switch b[i] {
		case ',':
			i++
		case '}':
			return i + 1
		default:
			return -1
		}
	}
}

func hasAt(b []byte, i int, lit string) bool {
	return len(b)-i >= len(lit) && string(b[i:i+len(lit)]) == lit
}

// number scans a JSON number: -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?
func (d *Decoder) number(b []byte, i int) (int, bool) {
	e, msg := scanNumber(b, i)
	if msg != "" {
		return e, d.fail(e, msg)
	}
	return e, true
}

// scanNumber scans the JSON number at b[i] and returns the offset just past
// it, or where and why it is not one.
func scanNumber(b []byte, i int) (int, string) {
	if b[i] == '-' {
		i++
	}
	switch {
	case i >= len(b):
		return i, "unexpected end of number"
	case b[i] == '0':
		i++
	case b[i] >= '1' && b[i] <= '9':
		i = digits(b, i+1)
	default:
		return i, "invalid number"
	}
	if i < len(b) && b[i] == '.' {
		j := digits(b, i+1)
		if j == i+1 {
			return j, "number needs a digit after '.'"
		}
		i = j
	}
	if i < len(b) && (b[i] == 'e' || b[i] == 'E') {
		i++
		if i < len(b) && (b[i] == '+' || b[i] == '-') {
			i++
		}
		j := digits(b, i)
		if j == i {
			return j, "number needs a digit in its exponent"
		}
		i = j
	}
	return i, ""
}

func digits(b []byte, i int) int {
	for i < len(b) && b[i] >= '0' && b[i] <= '9' {
		i++
	}
	return i
}

const (
	ones  = 0x0101010101010101
	highs = 0x8080808080808080
)

// special8 flags, in the high bit of each byte, the bytes of w (eight
// input bytes, little-endian) that need attention inside a string: '"',
// '\\', control characters and bytes ≥ 0x80. A subtraction's borrow can only
// flag bytes above a byte that is truly flagged, so the lowest flag is exact.
func special8(w uint64) uint64 {
	q := w ^ (ones * '"')
	s := w ^ (ones * '\\')
	// A byte of q or s is zero, or a byte of w is below 0x20, exactly when
	// the subtraction sets its high bit without w's high bit being set.
	return ((q - ones) | (s - ones) | (w - ones*0x20) | w) & highs
}

// str scans string content starting at b[i] (just past the opening quote)
// and returns the offset of the closing quote and whether it has escapes.
func (d *Decoder) str(b []byte, i int) (end int, esc bool, ok bool) {
	for {
		if i < len(b) {
			// Skip eight plain bytes at a time; stop at the first byte
			// that needs a look.
			rest := b[i:]
			for len(rest) >= 8 {
				if m := special8(binary.LittleEndian.Uint64(rest)); m != 0 {
					rest = rest[bits.TrailingZeros64(m)>>3:]
					break
				}
				rest = rest[8:]
			}
			i = len(b) - len(rest)
		}
		if i >= len(b) {
			return i, esc, d.fail(i, "unterminated string")
		}
		c := b[i]
		switch {
		case c == '"':
			return i, esc, true
		case c == '\\':
			esc = true
			if i+1 >= len(b) {
				return i, esc, d.fail(i, "unterminated string")
			}
			switch b[i+1] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				i += 2
			case 'u':
				if len(b)-i < 6 || hex4(b[i+2:i+6]) < 0 {
					return i, esc, d.fail(i, "invalid \\u escape")
				}
				i += 6
			default:
				return i, esc, d.fail(i, "invalid escape")
			}
		case c < 0x20:
			return i, esc, d.fail(i, "control character in string")
		case c < 0x80:
			i++
		default:
			n := utf8Seq(b, i)
			if n == 0 {
				return i, esc, d.fail(i, "invalid UTF-8 in string")
			}
			i += n
		}
	}
}

// hex4 returns the value of four hex digits, or -1.
func hex4(h []byte) rune {
	var r rune
	for _, c := range h[:4] {
		switch {
		case c >= '0' && c <= '9':
			c -= '0'
		case c >= 'a' && c <= 'f':
			c = c - 'a' + 10
		case c >= 'A' && c <= 'F':
			c = c - 'A' + 10
		default:
			return -1
		}
		r = r<<4 | rune(c)
	}
	return r
}

// utf8Seq returns the length of the valid UTF-8 sequence starting at s[i]
// (which is ≥ 0x80), or 0 when it is invalid: overlong, a surrogate, above
// U+10FFFF or truncated.
func utf8Seq[T string | []byte](s T, i int) int {
	c := s[i]
	lo, hi := byte(0x80), byte(0xBF)
	n := 0
	switch {
	case c >= 0xC2 && c <= 0xDF:
		n = 2
	case c == 0xE0:
		n, lo = 3, 0xA0
	case c == 0xED:
		n, hi = 3, 0x9F
	case c >= 0xE1 && c <= 0xEF:
		n = 3
	case c == 0xF0:
		n, lo = 4, 0x90
	case c >= 0xF1 && c <= 0xF3:
		n = 4
	case c == 0xF4:
		n, hi = 4, 0x8F
	default:
		return 0
	}
	if len(s)-i < n {
		return 0
	}
	if c1 := s[i+1]; c1 < lo || c1 > hi {
		return 0
	}
	for j := 2; j < n; j++ {
		if c := s[i+j]; c < 0x80 || c > 0xBF {
			return 0
		}
	}
	return n
}

// appendUnescaped appends the decoded content of a JSON string that str has
// validated. A \u escape that is not part of a valid surrogate pair becomes
// U+FFFD, as in encoding/json.
func appendUnescaped(dst, s []byte) []byte {
	for i := 0; i < len(s); {
		c := s[i]
		if c != '\\' {
			j := i + 1
			for j < len(s) && s[j] != '\\' {
				j++
			}
			dst = append(dst, s[i:j]...)
			i = j
			continue
		}
		switch s[i+1] {
		case 'b':
			dst = append(dst, '\b')
		case 'f':
			dst = append(dst, '\f')
		case 'n':
			dst = append(dst, '\n')
		case 'r':
			dst = append(dst, '\r')
		case 't':
			dst = append(dst, '\t')
		case 'u':
			r := hex4(s[i+2 : i+6])
			i += 6
			if r >= 0xD800 && r < 0xDC00 && len(s)-i >= 6 && s[i] == '\\' && s[i+1] == 'u' {
				if r2 := hex4(s[i+2 : i+6]); r2 >= 0xDC00 && r2 < 0xE000 {
					r = 0x10000 + (r-0xD800)<<10 + (r2 - 0xDC00)
					i += 6
					dst = appendRune(dst, r)
					continue
				}
			}
			if r >= 0xD800 && r < 0xE000 {
				r = 0xFFFD
			}
			dst = appendRune(dst, r)
			continue
		default: // '"', '\\', '/'
			dst = append(dst, s[i+1])
		}
		i += 2
	}
	return dst
}

// appendRune appends the UTF-8 encoding of r, a valid scalar value.
func appendRune(b []byte, r rune) []byte {
	switch {
	case r < 0x80:
		return append(b, byte(r))
	case r < 0x800:
		return append(b, 0xC0|byte(r>>6), 0x80|byte(r)&0x3F)
	case r < 0x10000:
		return append(b, 0xE0|byte(r>>12), 0x80|byte(r>>6)&0x3F, 0x80|byte(r)&0x3F)
	}
	return append(b, 0xF0|byte(r>>18), 0x80|byte(r>>12)&0x3F, 0x80|byte(r>>6)&0x3F, 0x80|byte(r)&0x3F)
}

// plainMicros is the fast path for the common quantities: digits(.digits)?
// with at most 12 integer digits and 1–6 fractional digits, whether a JSON
// number or the content of a string. ok is false for anything else, which
// the general path then judges.
func plainMicros(v []byte) (m Micros, ok bool) {
	var n uint64
	i := 0
	for ; i < len(v); i++ {
		c := v[i] - '0'
		if c > 9 {
			break
		}
		n = n*10 + uint64(c)
	}
	if i == 0 || i > 12 {
		return 0, false
	}
	frac := 0
	if i < len(v) {
		if v[i] != '.' {
			return 0, false
		}
		for i++; i < len(v); i++ {
			c := v[i] - '0'
			if c > 9 {
				return 0, false
			}
			n = n*10 + uint64(c)
			frac++
		}
		if frac == 0 || frac > 6 {
			return 0, false
		}
	}
	return Micros(n * pow10[6-frac]), true
}

// numParts is a decimal number split into sign, integer digits, fraction
// digits and a decimal exponent (saturated far beyond any accepted value).
type numParts struct {
	neg        bool
	intp, frac []byte
	exp        int64
}

const maxExp = 1 << 40

// jsonNumberParts splits a number that the scanner has validated.
func jsonNumberParts(b []byte) numParts {
	var p numParts
	i := 0
	if b[0] == '-' {
		p.neg = true
		i++
	}
	j := digits(b, i)
	p.intp = b[i:j]
	i = j
	if i < len(b) && b[i] == '.' {
		j = digits(b, i+1)
		p.frac = b[i+1 : j]
		i = j
	}
	if i < len(b) { // exponent
		i++
		eneg := false
		switch b[i] {
		case '-':
			eneg = true
			i++
		case '+':
			i++
		}
		for ; i < len(b); i++ {
			if p.exp < maxExp {
				p.exp = p.exp*10 + int64(b[i]-'0')
			}
		}
		if eneg {
			p.exp = -p.exp
		}
	}
	return p
}

// decimalStringParts splits a plain decimal -?digits(.digits)?.
func decimalStringParts(b []byte) (numParts, bool) {
	var p numParts
	i := 0
	if len(b) > 0 && b[0] == '-' {
		p.neg = true
		i++
	}
	j := digits(b, i)
	if j == i {
		return p, false
	}
	p.intp = b[i:j]
	if j == len(b) {
		return p, true
	}
	if b[j] != '.' {
		return p, false
	}
	k := digits(b, j+1)
	if k == j+1 || k != len(b) {
		return p, false
	}
	p.frac = b[j+1 : k]
	return p, true
}

type numStatus uint8

const (
	numOK      numStatus = iota
	numZero              // the value is zero (whatever its sign)
	numInexact           // more fractional digits than the scale
	numTooBig            // ≥ 1e19 once scaled
)

// digit returns the j-th digit of intp followed by frac.
func (p *numParts) digit(j int) byte {
	if j < len(p.intp) {
		return p.intp[j]
	}
	return p.frac[j-len(p.intp)]
}

// sig returns the significant digits [first, last] of intp‖frac and the
// decimal exponent e such that |value| = digits[first..last] × 10^e.
// first > last when the value is zero.
func (p *numParts) sig() (first, last int, e int64) {
	n := len(p.intp) + len(p.frac)
	first = 0
	for first < n && p.digit(first) == '0' {
		first++
	}
	last = n - 1
	for last >= first && p.digit(last) == '0' {
		last--
	}
	e = p.exp - int64(len(p.frac)) + int64(n-1-last)
	return first, last, e
}

// scaled returns |value| × 10^scale exactly as an integer below 1e19.
func (p *numParts) scaled(scale int) (uint64, numStatus) {
	first, last, e := p.sig()
	if first > last {
		return 0, numZero
	}
	k := int64(last - first + 1)
	shift := e + int64(scale)
	if shift < 0 {
		return 0, numInexact
	}
	if k+shift > 19 {
		return 0, numTooBig
	}
	var v uint64
	for j := first; j <= last; j++ {
		v = v*10 + uint64(p.digit(j)-'0')
	}
	return v * pow10[shift], numOK
}

// fracDigits returns the number of significant fractional digits (the
// smallest scale at which the value is an integer).
func (p *numParts) fracDigits() int64 {
	first, last, e := p.sig()
	if first > last || e >= 0 {
		return 0
	}
	return -e
}

// AppendUsageJSON appends the canonical native JSON form of ev: keys in the
// order id, tenant, meter, model (left out when empty), quantity (a decimal
// string with the fewest fractional digits, e.g. "1.5" or "3"), time
// (RFC 3339 with nanoseconds as needed, UTC) and properties (copied
// verbatim, left out when nil). The caller must pass an event that
// DecodeUsage would accept: ev.Properties, when set, must be a valid JSON
// object, and ev.Time's year must lie in 0000–9999. Invalid UTF-8 in strings
// is written as U+FFFD.
func AppendUsageJSON(b []byte, ev *UsageEvent) []byte {
	b = append(b, `{"id":`...)
	b = appendJSONString(b, ev.ID)
	b = append(b, `,"tenant":`...)
	b = appendJSONString(b, ev.Tenant)
	b = append(b, `,"meter":`...)
	b = appendJSONString(b, ev.Meter)
	if ev.Model != "" {
		b = append(b, `,"model":`...)
		b = appendJSONString(b, ev.Model)
	}
	b = append(b, `,"quantity":"`...)
	b = ev.Quantity.Decimal().Normalize(0).Append(b)
	b = append(b, `","time":"`...)
	b = ev.Time.UTC().AppendFormat(b, time.RFC3339Nano)
	b = append(b, '"')
	if ev.Properties != nil {
		b = append(b, `,"properties":`...)
		b = append(b, ev.Properties...)
	}
	return append(b, '}')
}

const hexDigits = "0123456789abcdef"

// appendJSONString appends s as a JSON string, escaping '"', '\\' and
// control characters and replacing invalid UTF-8 by U+FFFD.
func appendJSONString[T string | []byte](b []byte, s T) []byte {
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c >= 0x20 && c != '"' && c != '\\' && c < 0x80 {
			i++
			continue
		}
		if c >= 0x80 {
			if n := utf8Seq(s, i); n > 0 {
				i += n
				continue
			}
		}
		b = append(b, s[start:i]...)
		switch c {
		case '"', '\\':
			b = append(b, '\\', c)
		case '\n':
			b = append(b, '\\', 'n')
		case '\r':
			b = append(b, '\\', 'r')
		case '\t':
			b = append(b, '\\', 't')
		default:
			if c < 0x20 {
				b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xF])
			} else {
				b = append(b, `\ufffd`...)
			}
		}
		i++
		start = i
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}
