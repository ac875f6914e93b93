package wire

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"
)

// Version is the envelope version this package speaks.
const Version = 1

// MaxPacket is the largest datagram accepted: the largest UDP payload over
// IPv4 (65,535 - 8 - 20 bytes).
const MaxPacket = 65507

// HeaderLen is the envelope header length.
const HeaderLen = 2

// Decoding errors. Every decoder error wraps exactly one of these.
var (
	ErrMalformed = errors.New("wire: malformed")
	ErrVersion   = errors.New("wire: unsupported version")
	ErrTooLarge  = errors.New("wire: too large")
)

// Kind identifies the message type carried by an envelope.
type Kind uint8

// Message kinds. Ranges are reserved per protocol so that kinds never move:
// 0x01-0x0f liveness, 0x10-0x2f DHT, 0x30-0x3f gossip, 0x40-0x4f connection
// management, 0x50-0x5f relay, 0x60-0x6f NAT traversal.
const (
	KindPing Kind = 0x01
	KindPong Kind = 0x02
)

var kindNames = map[Kind]string{
	KindPing: "ping",
	KindPong: "pong",
}

// String returns the kind's trace name, or "kind-0xNN" for unknown kinds.
func (k Kind) String() string {
	if s, ok := kindNames[k]; ok {
		return s
	}
	return fmt.Sprintf("kind-0x%02x", uint8(k))
}

// RegisterKindName names a kind for traces and metrics. Protocol packages call
// it from init; names must be unique.
func RegisterKindName(k Kind, name string) {
	if _, dup := kindNames[k]; dup {
		panic(fmt.Sprintf("wire: kind 0x%02x registered twice", uint8(k))) // programming error at init
	}
	kindNames[k] = name
}

// Envelope is a decoded datagram header. Body aliases the packet buffer.
type Envelope struct {
	Kind Kind
	Body []byte
}

// AppendEnvelope appends the envelope header for kind to b; the caller then
// appends the body.
func AppendEnvelope(b []byte, kind Kind) []byte {
	return append(b, Version, byte(kind))
}

// DecodeEnvelope splits a datagram into kind and body without copying.
func DecodeEnvelope(pkt []byte) (Envelope, error) {
	if len(pkt) > MaxPacket {
		return Envelope{}, fmt.Errorf("%w: packet of %d bytes", ErrTooLarge, len(pkt))
	}
	if len(pkt) < HeaderLen {
		return Envelope{}, fmt.Errorf("%w: packet of %d bytes", ErrMalformed, len(pkt))
	}
	if pkt[0] != Version {
		return Envelope{}, fmt.Errorf("%w: %d", ErrVersion, pkt[0])
	}
	return Envelope{Kind: Kind(pkt[1]), Body: pkt[HeaderLen:]}, nil
}

// Reader decodes fields from a body with bounds checks. The first failure
// sticks: later reads return zero values and Err reports the first error.
type Reader struct {
	b   []byte
	err error
}

// NewReader returns a Reader over b.
func NewReader(b []byte) *Reader { return &Reader{b: b} }

// Err returns the first error encountered, if any.
func (r *Reader) Err() error { return r.err }

// Len returns the number of unread bytes.
func (r *Reader) Len() int { return len(r.b) }

// Done returns the first error, or an error if unread bytes remain.
func (r *Reader) Done() error {
	if r.err == nil && len(r.b) != 0 {
		r.err = fmt.Errorf("%w: %d trailing bytes", ErrMalformed, len(r.b))
	}
	return r.err
}

func (r *Reader) fail(format string, args ...any) {
	if r.err == nil {
		r.err = fmt.Errorf("%w: "+format, append([]any{ErrMalformed}, args...)...)
	}
	r.b = nil
}

func (r *Reader) take(n int, what string) []byte { return r.takeL(n, what, "") }

// takeL is take for the field named what+suffix. The two parts are joined
// only when the read fails, so decoding a well-formed packet builds no
// strings (AddrPort and Count name sub-fields of the caller's field).
func (r *Reader) takeL(n int, what, suffix string) []byte {
	if r.err != nil {
		return nil
	}
	if n < 0 || n > len(r.b) {
		r.fail("%s%s: need %d bytes, have %d", what, suffix, n, len(r.b))
		return nil
	}
	v := r.b[:n:n]
	r.b = r.b[n:]
	return v
}

// U8 reads one byte.
func (r *Reader) U8(what string) uint8 {
	if v := r.take(1, what); v != nil {
		return v[0]
	}
	return 0
}

// U16 reads a big-endian uint16.
func (r *Reader) U16(what string) uint16 {
	if v := r.take(2, what); v != nil {
		return binary.BigEndian.Uint16(v)
	}
	return 0
}

// U32 reads a big-endian uint32.
func (r *Reader) U32(what string) uint32 {
	if v := r.take(4, what); v != nil {
		return binary.BigEndian.Uint32(v)
	}
	return 0
}

// U64 reads a big-endian uint64.
func (r *Reader) U64(what string) uint64 {
	if v := r.take(8, what); v != nil {
		return binary.BigEndian.Uint64(v)
	}
	return 0
}

// Uvarint reads an unsigned varint no larger than max, in its minimal encoding.
func (r *Reader) Uvarint(what string, max uint64) uint64 { return r.uvarint(what, "", max) }

// uvarint is Uvarint for the field named what+suffix (see takeL).
func (r *Reader) uvarint(what, suffix string, max uint64) uint64 {
	if r.err != nil {
		return 0
	}
	v, n := binary.Uvarint(r.b)
	if n <= 0 {
		r.fail("%s%s: bad varint", what, suffix)
		return 0
	}
	if n != uvarintLen(v) {
		r.fail("%s%s: non-minimal varint", what, suffix)
		return 0
	}
	if v > max {
		r.fail("%s%s: %d exceeds limit %d", what, suffix, v, max)
		return 0
	}
	r.b = r.b[n:]
	return v
}

// Fixed reads exactly n bytes, aliasing the input.
func (r *Reader) Fixed(what string, n int) []byte { return r.take(n, what) }

// Bytes reads a uvarint-length-prefixed byte string of at most max bytes,
// aliasing the input. The length is checked before anything is sliced.
func (r *Reader) Bytes(what string, max int) []byte {
	n := r.uvarint(what, " length", uint64(max))
	if r.err != nil {
		return nil
	}
	return r.take(int(n), what)
}

// Count reads a uvarint element count of at most max and also checks that
// the remaining input can hold count elements of at least minSize bytes, so a
// caller may allocate count elements safely.
func (r *Reader) Count(what string, max, minSize int) int {
	n := r.uvarint(what, " count", uint64(max))
	if r.err != nil {
		return 0
	}
	if minSize > 0 && int(n) > len(r.b)/minSize {
		r.fail("%s: count %d cannot fit in %d bytes", what, n, len(r.b))
		return 0
	}
	return int(n)
}

// AddrPort reads an address encoded by AppendAddrPort.
func (r *Reader) AddrPort(what string) netip.AddrPort {
	var fam uint8
	if v := r.takeL(1, what, " family"); v != nil {
		fam = v[0]
	}
	switch fam {
	case 0:
		return netip.AddrPort{}
	case 4:
		a := r.take(4, what)
		p := r.port(what)
		if a == nil {
			return netip.AddrPort{}
		}
		return netip.AddrPortFrom(netip.AddrFrom4([4]byte(a)), p)
	case 6:
		a := r.take(16, what)
		p := r.port(what)
		if a == nil {
			return netip.AddrPort{}
		}
		addr := netip.AddrFrom16([16]byte(a))
		if addr.Is4In6() {
			r.fail("%s: IPv4-mapped IPv6 address must be sent as IPv4", what)
			return netip.AddrPort{}
		}
		return netip.AddrPortFrom(addr, p)
	default:
		if r.err == nil {
			r.fail("%s: unknown address family %d", what, fam)
		}
		return netip.AddrPort{}
	}
}

// port reads the port of the address field what.
func (r *Reader) port(what string) uint16 {
	if v := r.takeL(2, what, " port"); v != nil {
		return binary.BigEndian.Uint16(v)
	}
	return 0
}

// AppendU16 appends a big-endian uint16.
func AppendU16(b []byte, v uint16) []byte { return binary.BigEndian.AppendUint16(b, v) }

// AppendU32 appends a big-endian uint32.
func AppendU32(b []byte, v uint32) []byte { return binary.BigEndian.AppendUint32(b, v) }

// AppendU64 appends a big-endian uint64.
func AppendU64(b []byte, v uint64) []byte { return binary.BigEndian.AppendUint64(b, v) }

// AppendUvarint appends an unsigned varint.
func AppendUvarint(b []byte, v uint64) []byte { return binary.AppendUvarint(b, v) }

// AppendBytes appends a uvarint-length-prefixed byte string.
func AppendBytes(b, v []byte) []byte {
	return append(binary.AppendUvarint(b, uint64(len(v))), v...)
}

// AppendAddrPort appends an address: family 0 (none), 4 (4 bytes) or 6 (16
// bytes), then the port for 4 and 6. IPv4-mapped IPv6 addresses are unmapped.
func AppendAddrPort(b []byte, ap netip.AddrPort) []byte {
	a := ap.Addr().Unmap()
	switch {
	case a.Is4():
		v := a.As4()
		b = append(append(b, 4), v[:]...)
	case a.Is6():
		v := a.As16()
		b = append(append(b, 6), v[:]...)
	default:
		return append(b, 0)
	}
	return AppendU16(b, ap.Port())
}

func uvarintLen(v uint64) int {
	n := 1
	for v >= 0x80 {
		v >>= 7
		n++
	}
	return n
}
