package wire

import (
	"bytes"
	"encoding/hex"
	"errors"
	"net/netip"
	"strings"
	"testing"
)

func TestGoldens(t *testing.T) {
	cases := []struct {
		name string
		pkt  []byte
		hex  string
	}{
		{"ping", Ping{Nonce: 0x0102030405060708}.AppendPacket(nil), "01010102030405060708"},
		{"pong-v4", Pong{Nonce: 7, Observed: netip.MustParseAddrPort("198.18.0.2:4001")}.AppendPacket(nil),
			"0102" + "0000000000000007" + "04" + "c6120002" + "0fa1"},
		{"pong-v6", Pong{Nonce: 1, Observed: netip.MustParseAddrPort("[2001:db8::1]:443")}.AppendPacket(nil),
			"0102" + "0000000000000001" + "06" + "20010db8000000000000000000000001" + "01bb"},
		{"pong-none", Pong{Nonce: 1}.AppendPacket(nil), "0102" + "0000000000000001" + "00"},
	}
	for _, c := range cases {
		if got := hex.EncodeToString(c.pkt); got != c.hex {
			t.Errorf("%s: encoded %s, want %s", c.name, got, c.hex)
		}
	}
}

func TestRoundTrip(t *testing.T) {
	p := Pong{Nonce: 99, Observed: netip.MustParseAddrPort("10.0.0.1:9000")}
	env, err := DecodeEnvelope(p.AppendPacket(nil))
	if err != nil || env.Kind != KindPong {
		t.Fatalf("envelope: %v %v", env, err)
	}
	got, err := DecodePong(env.Body)
	if err != nil || got != p {
		t.Fatalf("pong: %+v %v", got, err)
	}
	// IPv4-mapped addresses are sent as IPv4 and come back unmapped.
	m := Pong{Nonce: 1, Observed: netip.MustParseAddrPort("[::ffff:10.0.0.1]:1")}
	env, _ = DecodeEnvelope(m.AppendPacket(nil))
	got, err = DecodePong(env.Body)
	if err != nil || got.Observed != netip.MustParseAddrPort("10.0.0.1:1") {
		t.Fatalf("mapped: %+v %v", got, err)
	}
}

func TestDecodeErrors(t *testing.T) {
	cases := []struct {
		name string
		pkt  string
		want error
	}{
		{"empty", "", ErrMalformed},
		{"header only byte", "01", ErrMalformed},
		{"version", "0201", ErrVersion},
		{"short ping", "010101", ErrMalformed},
		{"long ping", "010100000000000000000000", ErrMalformed},
		{"bad family", "0102000000000000000105", ErrMalformed},
		{"short v4", "01020000000000000001040a00", ErrMalformed},
		{"mapped v6", "0102000000000000000106" + "00000000000000000000ffff0a000001" + "0001", ErrMalformed},
	}
	for _, c := range cases {
		b, _ := hex.DecodeString(c.pkt)
		err := decodeAny(b)
		if !errors.Is(err, c.want) {
			t.Errorf("%s: err = %v, want %v", c.name, err, c.want)
		}
	}
	if _, err := DecodeEnvelope(make([]byte, MaxPacket+1)); !errors.Is(err, ErrTooLarge) {
		t.Errorf("oversize: %v", err)
	}
}

func TestReaderBounds(t *testing.T) {
	// A length prefix larger than the limit fails before slicing.
	b := AppendUvarint(nil, 1<<40)
	r := NewReader(b)
	if r.Bytes("blob", 100) != nil || !errors.Is(r.Err(), ErrMalformed) {
		t.Fatalf("oversize length accepted: %v", r.Err())
	}
	// A count whose elements cannot fit is refused.
	r = NewReader(append(AppendUvarint(nil, 50), make([]byte, 10)...))
	if n := r.Count("peers", 100, 38); n != 0 || r.Err() == nil {
		t.Fatalf("count %d accepted with 10 bytes left", n)
	}
	// Non-minimal varints are refused (one encoding per message).
	r = NewReader([]byte{0x81, 0x00})
	if r.Uvarint("v", 1000); r.Err() == nil {
		t.Fatal("non-minimal varint accepted")
	}
	// Errors stick.
	r = NewReader([]byte{1})
	r.U32("a")
	if r.U8("b") != 0 || r.Err() == nil || !bytes.Contains([]byte(r.Err().Error()), []byte("a:")) {
		t.Fatalf("first error not kept: %v", r.Err())
	}
}

func TestKindNames(t *testing.T) {
	if KindPing.String() != "ping" || Kind(0xfe).String() != "kind-0xfe" {
		t.Fatal("kind names")
	}
}

// decodeAny decodes an envelope and its body by kind, as the node does.
func decodeAny(pkt []byte) error {
	env, err := DecodeEnvelope(pkt)
	if err != nil {
		return err
	}
	switch env.Kind {
	case KindPing:
		_, err = DecodePing(env.Body)
	case KindPong:
		_, err = DecodePong(env.Body)
	}
	return err
}

func BenchmarkDecodePong(b *testing.B) {
	pkt := Pong{Nonce: 1, Observed: netip.MustParseAddrPort("10.0.0.1:9000")}.AppendPacket(nil)
	b.ReportAllocs()
	for b.Loop() {
		env, _ := DecodeEnvelope(pkt)
		if _, err := DecodePong(env.Body); err != nil {
			b.Fatal(err)
		}
	}
}

// The Reader names a failing sub-field (family, port, count, length) in
// its error, yet reading well-formed input builds no strings.
func TestReaderLabels(t *testing.T) {
	ap := netip.MustParseAddrPort("192.0.2.1:4001")
	full := AppendAddrPort(nil, ap)
	for _, c := range []struct {
		in   []byte
		read func(r *Reader)
		want string
	}{
		{nil, func(r *Reader) { r.AddrPort("peer") }, "peer family: need 1 bytes"},
		{full[:5], func(r *Reader) { r.AddrPort("peer") }, "peer port: need 2 bytes"},
		{[]byte{0x80}, func(r *Reader) { r.Count("ids", 10, 1) }, "ids count: bad varint"},
		{[]byte{5}, func(r *Reader) { r.Bytes("payload", 4) }, "payload length: 5 exceeds limit 4"},
	} {
		r := NewReader(c.in)
		c.read(r)
		if r.Err() == nil || !strings.Contains(r.Err().Error(), c.want) {
			t.Errorf("error %v, want one containing %q", r.Err(), c.want)
		}
	}
	allocs := testing.AllocsPerRun(100, func() {
		r := NewReader(full)
		if got := r.AddrPort("peer"); got != ap || r.Done() != nil {
			t.Fatalf("read %v, err %v", got, r.Err())
		}
	})
	if allocs != 0 {
		t.Errorf("reading an address allocates %.0f times", allocs)
	}
}
