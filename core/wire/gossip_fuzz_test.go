package wire

import (
	"bytes"
	"testing"
)

func FuzzDecodeGossip(f *testing.F) {
	g := sampleGossip()
	f.Add(g.AppendPacket(nil)[HeaderLen:])
	f.Add((&Gossip{}).AppendPacket(nil)[HeaderLen:])
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, body []byte) {
		m, err := DecodeGossip(body)
		if err != nil {
			return
		}
		if got := m.AppendPacket(nil)[HeaderLen:]; !bytes.Equal(got, body) {
			t.Fatalf("re-encode %x != %x", got, body)
		}
	})
}

func FuzzDecodeIHave(f *testing.F) {
	f.Add(IHave{IDs: [][GossipIDLen]byte{id32(1), id32(2)}}.AppendPacket(nil)[HeaderLen:])
	f.Add(IHave{}.AppendPacket(nil)[HeaderLen:])
	f.Add([]byte{0xff, 0xff, 0x03})
	f.Fuzz(func(t *testing.T, body []byte) {
		m, err := DecodeIHave(body)
		if err != nil {
			return
		}
		if got := m.AppendPacket(nil)[HeaderLen:]; !bytes.Equal(got, body) {
			t.Fatalf("re-encode %x != %x", got, body)
		}
	})
}

func FuzzDecodeIWant(f *testing.F) {
	f.Add(IWant{IDs: [][GossipIDLen]byte{id32(3)}}.AppendPacket(nil)[HeaderLen:])
	f.Add(IWant{}.AppendPacket(nil)[HeaderLen:])
	f.Add([]byte{0x80})
	f.Fuzz(func(t *testing.T, body []byte) {
		m, err := DecodeIWant(body)
		if err != nil {
			return
		}
		if got := m.AppendPacket(nil)[HeaderLen:]; !bytes.Equal(got, body) {
			t.Fatalf("re-encode %x != %x", got, body)
		}
	})
}
