package wire

import (
	"bytes"
	"net/netip"
	"testing"
)

func FuzzDecodeEnvelope(f *testing.F) {
	f.Add(Ping{Nonce: 1}.AppendPacket(nil))
	f.Add([]byte{})
	f.Add([]byte{2, 1})
	f.Fuzz(func(t *testing.T, pkt []byte) {
		env, err := DecodeEnvelope(pkt)
		if err != nil {
			return
		}
		if got := append(AppendEnvelope(nil, env.Kind), env.Body...); !bytes.Equal(got, pkt) {
			t.Fatalf("re-encode %x != %x", got, pkt)
		}
	})
}

func FuzzDecodePing(f *testing.F) {
	f.Add(Ping{Nonce: 42}.AppendPacket(nil)[HeaderLen:])
	f.Fuzz(func(t *testing.T, body []byte) {
		m, err := DecodePing(body)
		if err != nil {
			return
		}
		if got := m.AppendPacket(nil)[HeaderLen:]; !bytes.Equal(got, body) {
			t.Fatalf("re-encode %x != %x", got, body)
		}
	})
}

func FuzzDecodePong(f *testing.F) {
	f.Add(Pong{Nonce: 42, Observed: netip.MustParseAddrPort("1.2.3.4:5")}.AppendPacket(nil)[HeaderLen:])
	f.Add(Pong{Nonce: 42, Observed: netip.MustParseAddrPort("[2001:db8::1]:5")}.AppendPacket(nil)[HeaderLen:])
	f.Fuzz(func(t *testing.T, body []byte) {
		m, err := DecodePong(body)
		if err != nil {
			return
		}
		if got := m.AppendPacket(nil)[HeaderLen:]; !bytes.Equal(got, body) {
			t.Fatalf("re-encode %x != %x", got, body)
		}
	})
}
