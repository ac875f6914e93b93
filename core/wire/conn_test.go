package wire

import (
	"encoding/hex"
	"errors"
	"strings"
	"testing"
)

func TestConnGoldens(t *testing.T) {
	const nonce = "0102030405060708"
	cases := []struct {
		name string
		pkt  []byte
		hex  string
	}{
		{"connect", (&Connect{Nonce: 0x0102030405060708, Sender: id32(0x22), Target: id32(0x33)}).AppendPacket(nil),
			"0140" + nonce + strings.Repeat("22", 32) + strings.Repeat("33", 32)},
		{"connect-any", (&Connect{Nonce: 1, Sender: id32(0x22)}).AppendPacket(nil),
			"0140" + "0000000000000001" + strings.Repeat("22", 32) + strings.Repeat("00", 32)},
		{"accept", (&Accept{Nonce: 0x0102030405060708, Sender: id32(0x44)}).AppendPacket(nil),
			"0141" + nonce + strings.Repeat("44", 32)},
		{"reject", Reject{Nonce: 0x0102030405060708, Reason: ConnReasonFull}.AppendPacket(nil), "0142" + nonce + "01"},
		{"close", Close{Nonce: 0x0102030405060708, Reason: ConnReasonPruned}.AppendPacket(nil), "0143" + nonce + "03"},
		{"conn-ping", ConnProbe{Nonce: 0x0102030405060708, Seq: 0x0a0b0c0d}.AppendPacket(nil, KindConnPing), "0144" + nonce + "0a0b0c0d"},
		{"conn-pong", ConnProbe{Nonce: 0x0102030405060708, Seq: 7}.AppendPacket(nil, KindConnPong), "0145" + nonce + "00000007"},
	}
	for _, c := range cases {
		if got := hex.EncodeToString(c.pkt); got != c.hex {
			t.Errorf("%s: encoded\n %s, want\n %s", c.name, got, c.hex)
		}
	}
	if n := len(ConnProbe{}.AppendPacket(nil, KindConnPing)); n != ConnProbeLen {
		t.Errorf("probe is %d bytes, ConnProbeLen %d", n, ConnProbeLen)
	}
	names := map[Kind]string{KindConnect: "connect", KindAccept: "accept", KindReject: "reject",
		KindClose: "close", KindConnPing: "conn-ping", KindConnPong: "conn-pong"}
	for k, n := range names {
		if k.String() != n {
			t.Errorf("kind 0x%02x named %q, want %q", uint8(k), k.String(), n)
		}
	}
	for code, want := range map[uint8]string{ConnReasonFull: "full", ConnReasonDuplicate: "duplicate", 0: "unspecified", 200: "code-200", 13: "code-13"} {
		if got := ConnReasonName(code); got != want {
			t.Errorf("reason %d named %q, want %q", code, got, want)
		}
	}
}

func TestConnRoundTrip(t *testing.T) {
	c := Connect{Nonce: 99, Sender: id32(1), Target: id32(2)}
	if got, err := DecodeConnect(body(t, c.AppendPacket(nil), KindConnect)); err != nil || got != c {
		t.Errorf("connect: %+v %v", got, err)
	}
	a := Accept{Nonce: 99, Sender: id32(3)}
	if got, err := DecodeAccept(body(t, a.AppendPacket(nil), KindAccept)); err != nil || got != a {
		t.Errorf("accept: %+v %v", got, err)
	}
	rj := Reject{Nonce: 5, Reason: 250}
	if got, err := DecodeReject(body(t, rj.AppendPacket(nil), KindReject)); err != nil || got != rj {
		t.Errorf("reject: %+v %v", got, err)
	}
	cl := Close{Nonce: 6, Reason: ConnReasonIdle}
	if got, err := DecodeClose(body(t, cl.AppendPacket(nil), KindClose)); err != nil || got != cl {
		t.Errorf("close: %+v %v", got, err)
	}
	p := ConnProbe{Nonce: 7, Seq: 1 << 31}
	if got, err := DecodeConnProbe(body(t, p.AppendPacket(nil, KindConnPong), KindConnPong)); err != nil || got != p {
		t.Errorf("probe: %+v %v", got, err)
	}
}

func TestConnDecodeErrors(t *testing.T) {
	connect := (&Connect{Nonce: 1}).AppendPacket(nil)[HeaderLen:]
	accept := (&Accept{Nonce: 1}).AppendPacket(nil)[HeaderLen:]
	probe := ConnProbe{Nonce: 1}.AppendPacket(nil, KindConnPing)[HeaderLen:]
	decoders := []struct {
		name string
		dec  func([]byte) error
		good []byte
	}{
		{"connect", func(b []byte) error { _, err := DecodeConnect(b); return err }, connect},
		{"accept", func(b []byte) error { _, err := DecodeAccept(b); return err }, accept},
		{"reject", func(b []byte) error { _, err := DecodeReject(b); return err }, Reject{Nonce: 1}.AppendPacket(nil)[HeaderLen:]},
		{"close", func(b []byte) error { _, err := DecodeClose(b); return err }, Close{Nonce: 1}.AppendPacket(nil)[HeaderLen:]},
		{"probe", func(b []byte) error { _, err := DecodeConnProbe(b); return err }, probe},
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
}
