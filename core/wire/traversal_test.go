package wire

import (
	"encoding/hex"
	"errors"
	"net/netip"
	"strings"
	"testing"
	"time"
)

func sampleNATInfo() NATInfo {
	return NATInfo{
		Type:    4,
		Public:  netip.MustParseAddrPort("198.51.100.7:40000"),
		Relayed: netip.MustParseAddrPort("[2001:db8::9]:3479"),
	}
}

// info hex: type 04 | public v4 198.51.100.7:40000 | mapped none | relayed v6 [2001:db8::9]:3479
var natInfoHex = "04" + "04" + "c6336407" + "9c40" + "00" + "06" + "20010db8000000000000000000000009" + "0d97"

func TestTraversalGoldens(t *testing.T) {
	const txn = "0102030405060708"
	cases := []struct {
		name string
		pkt  []byte
		hex  string
	}{
		{"register", (&NATRegister{Nonce: 0x0102030405060708, Sender: id32(0x22), Info: sampleNATInfo(), RTT: 300 * time.Microsecond}).AppendPacket(nil),
			"0160" + txn + strings.Repeat("22", 32) + natInfoHex + "ac02"},
		{"register-empty", (&NATRegister{}).AppendPacket(nil),
			"0160" + strings.Repeat("00", 8+32) + "00" + "000000" + "00"},
		{"registered", NATRegistered{Nonce: 0x0102030405060708, Observed: netip.MustParseAddrPort("10.1.2.3:4000")}.AppendPacket(nil),
			"0161" + txn + "04" + "0a010203" + "0fa0"},
		{"connect", (&NATConnect{Txn: 0x0102030405060708, Sender: id32(0x22), Target: id32(0x33), Info: sampleNATInfo(), RTT: 20 * time.Millisecond}).AppendPacket(nil),
			"0162" + txn + strings.Repeat("22", 32) + strings.Repeat("33", 32) + natInfoHex + "a09c01"},
		{"offer", (&NATOffer{Txn: 0x0102030405060708, Peer: id32(0x44), Info: sampleNATInfo(),
			Observed: netip.MustParseAddrPort("10.1.2.3:4000"), Delay: time.Millisecond, Flags: NATOfferInitiator}).AppendPacket(nil),
			"0163" + txn + strings.Repeat("44", 32) + natInfoHex + "04" + "0a010203" + "0fa0" + "e807" + "01"},
		{"refused", (&NATRefused{Txn: 0x0102030405060708, Target: id32(0x55), Reason: NATRefusedUnknown}).AppendPacket(nil),
			"0164" + txn + strings.Repeat("55", 32) + "01"},
		{"punch", (&NATProbe{Txn: 0x0102030405060708, Sender: id32(0x66), Seq: 0x0a0b0c0d}).AppendPacket(nil, KindPunch),
			"0165" + txn + strings.Repeat("66", 32) + "0a0b0c0d"},
		{"punch-ack", (&NATProbe{Txn: 0x0102030405060708, Sender: id32(0x66), Seq: 1}).AppendPacket(nil, KindPunchAck),
			"0166" + txn + strings.Repeat("66", 32) + "00000001"},
		{"path-ping", (&NATProbe{Txn: 1, Sender: id32(0x66), Seq: 2}).AppendPacket(nil, KindPathPing),
			"0167" + "0000000000000001" + strings.Repeat("66", 32) + "00000002"},
		{"path-pong", (&NATProbe{Txn: 1, Sender: id32(0x66), Seq: 2}).AppendPacket(nil, KindPathPong),
			"0168" + "0000000000000001" + strings.Repeat("66", 32) + "00000002"},
	}
	for _, c := range cases {
		if got := hex.EncodeToString(c.pkt); got != c.hex {
			t.Errorf("%s: encoded\n %s, want\n %s", c.name, got, c.hex)
		}
	}
	if n := len((&NATProbe{}).AppendPacket(nil, KindPunch)); n != NATProbeLen {
		t.Errorf("probe is %d bytes, NATProbeLen %d", n, NATProbeLen)
	}
	names := map[Kind]string{KindNATRegister: "nat-register", KindNATRegistered: "nat-registered",
		KindNATConnect: "nat-connect", KindNATOffer: "nat-offer", KindNATRefused: "nat-refused",
		KindPunch: "punch", KindPunchAck: "punch-ack", KindPathPing: "path-ping", KindPathPong: "path-pong"}
	for k, n := range names {
		if k.String() != n {
			t.Errorf("kind 0x%02x named %q, want %q", uint8(k), k.String(), n)
		}
	}
	for code, want := range map[uint8]string{NATRefusedUnknown: "unknown-peer", NATRefusedRateLimited: "rate-limited", 0: "unspecified", 9: "code-9"} {
		if got := NATRefusedName(code); got != want {
			t.Errorf("refusal %d named %q, want %q", code, got, want)
		}
	}
}

func TestTraversalRoundTrip(t *testing.T) {
	info := sampleNATInfo()
	info.Mapped = netip.MustParseAddrPort("192.0.2.1:5000")
	reg := NATRegister{Nonce: 9, Sender: id32(1), Info: info, RTT: 1234 * time.Microsecond}
	if got, err := DecodeNATRegister(body(t, reg.AppendPacket(nil), KindNATRegister)); err != nil || got != reg {
		t.Errorf("register: %+v %v", got, err)
	}
	rd := NATRegistered{Nonce: 9, Observed: netip.MustParseAddrPort("[2001:db8::1]:1")}
	if got, err := DecodeNATRegistered(body(t, rd.AppendPacket(nil), KindNATRegistered)); err != nil || got != rd {
		t.Errorf("registered: %+v %v", got, err)
	}
	c := NATConnect{Txn: 5, Sender: id32(1), Target: id32(2), Info: info, RTT: MaxNATDuration}
	if got, err := DecodeNATConnect(body(t, c.AppendPacket(nil), KindNATConnect)); err != nil || got != c {
		t.Errorf("connect: %+v %v", got, err)
	}
	o := NATOffer{Txn: 5, Peer: id32(3), Info: info, Observed: netip.MustParseAddrPort("1.2.3.4:5"), Delay: 17 * time.Millisecond, Flags: 0xff}
	if got, err := DecodeNATOffer(body(t, o.AppendPacket(nil), KindNATOffer)); err != nil || got != o {
		t.Errorf("offer: %+v %v", got, err)
	}
	rf := NATRefused{Txn: 5, Target: id32(4), Reason: 200}
	if got, err := DecodeNATRefused(body(t, rf.AppendPacket(nil), KindNATRefused)); err != nil || got != rf {
		t.Errorf("refused: %+v %v", got, err)
	}
	p := NATProbe{Txn: 5, Sender: id32(6), Seq: 1 << 31}
	for _, k := range []Kind{KindPunch, KindPunchAck, KindPathPing, KindPathPong} {
		if got, err := DecodeNATProbe(body(t, p.AppendPacket(nil, k), k)); err != nil || got != p {
			t.Errorf("probe %v: %+v %v", k, got, err)
		}
	}
	// Durations are clamped on encoding, so every encoding decodes.
	long := NATOffer{Delay: time.Hour}
	if got, err := DecodeNATOffer(long.AppendPacket(nil)[HeaderLen:]); err != nil || got.Delay != MaxNATDuration {
		t.Errorf("clamped delay: %v %v", got.Delay, err)
	}
	neg := NATRegister{RTT: -time.Second}
	if got, err := DecodeNATRegister(neg.AppendPacket(nil)[HeaderLen:]); err != nil || got.RTT != 0 {
		t.Errorf("clamped rtt: %v %v", got.RTT, err)
	}
}

func TestTraversalDecodeErrors(t *testing.T) {
	info := sampleNATInfo()
	decoders := []struct {
		name string
		dec  func([]byte) error
		good []byte
	}{
		{"register", func(b []byte) error { _, err := DecodeNATRegister(b); return err },
			(&NATRegister{Nonce: 1, Info: info, RTT: time.Millisecond}).AppendPacket(nil)[HeaderLen:]},
		{"registered", func(b []byte) error { _, err := DecodeNATRegistered(b); return err },
			NATRegistered{Nonce: 1, Observed: netip.MustParseAddrPort("1.2.3.4:5")}.AppendPacket(nil)[HeaderLen:]},
		{"connect", func(b []byte) error { _, err := DecodeNATConnect(b); return err },
			(&NATConnect{Txn: 1, Info: info, RTT: time.Millisecond}).AppendPacket(nil)[HeaderLen:]},
		{"offer", func(b []byte) error { _, err := DecodeNATOffer(b); return err },
			(&NATOffer{Txn: 1, Info: info}).AppendPacket(nil)[HeaderLen:]},
		{"refused", func(b []byte) error { _, err := DecodeNATRefused(b); return err },
			(&NATRefused{Txn: 1}).AppendPacket(nil)[HeaderLen:]},
		{"probe", func(b []byte) error { _, err := DecodeNATProbe(b); return err },
			(&NATProbe{Txn: 1}).AppendPacket(nil, KindPunch)[HeaderLen:]},
	}
	for _, d := range decoders {
		if err := d.dec(d.good); err != nil {
			t.Errorf("%s: good body rejected: %v", d.name, err)
		}
		bad := [][]byte{nil, d.good[:len(d.good)-1], append(append([]byte{}, d.good...), 0)}
		for i, b := range bad {
			if err := d.dec(b); !errors.Is(err, ErrMalformed) {
				t.Errorf("%s: bad body %d: err %v, want ErrMalformed", d.name, i, err)
			}
		}
	}
	// A duration beyond MaxNATDuration is refused, not truncated.
	over := AppendUvarint(nil, uint64(MaxNATDuration/time.Microsecond)+1)
	reg := append((&NATRegister{}).AppendPacket(nil)[HeaderLen:len((&NATRegister{}).AppendPacket(nil))-1], over...)
	if _, err := DecodeNATRegister(reg); !errors.Is(err, ErrMalformed) {
		t.Errorf("oversize rtt: %v", err)
	}
	// An unknown address family in the info is refused.
	off := (&NATOffer{}).AppendPacket(nil)[HeaderLen:]
	off = append([]byte{}, off...)
	off[8+NATKeyLen+1] = 5
	if _, err := DecodeNATOffer(off); !errors.Is(err, ErrMalformed) {
		t.Errorf("bad family: %v", err)
	}
}
