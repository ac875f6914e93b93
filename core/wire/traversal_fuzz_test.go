package wire

import (
	"bytes"
	"net/netip"
	"testing"
	"time"
)

// Each traversal decoder: no panic on any input, and whatever decodes
// re-encodes to exactly the input (one encoding per message).

func FuzzDecodeNATRegister(f *testing.F) {
	f.Add((&NATRegister{Nonce: 1, Sender: id32(2), Info: sampleNATInfo(), RTT: time.Millisecond}).AppendPacket(nil)[HeaderLen:])
	f.Add((&NATRegister{}).AppendPacket(nil)[HeaderLen:])
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, body []byte) {
		m, err := DecodeNATRegister(body)
		if err != nil {
			return
		}
		if got := m.AppendPacket(nil)[HeaderLen:]; !bytes.Equal(got, body) {
			t.Fatalf("re-encode %x != %x", got, body)
		}
	})
}

func FuzzDecodeNATRegistered(f *testing.F) {
	f.Add(NATRegistered{Nonce: 1, Observed: netip.MustParseAddrPort("1.2.3.4:5")}.AppendPacket(nil)[HeaderLen:])
	f.Add(NATRegistered{Nonce: 1, Observed: netip.MustParseAddrPort("[2001:db8::1]:5")}.AppendPacket(nil)[HeaderLen:])
	f.Add([]byte{1, 2})
	f.Fuzz(func(t *testing.T, body []byte) {
		m, err := DecodeNATRegistered(body)
		if err != nil {
			return
		}
		if got := m.AppendPacket(nil)[HeaderLen:]; !bytes.Equal(got, body) {
			t.Fatalf("re-encode %x != %x", got, body)
		}
	})
}

func FuzzDecodeNATConnect(f *testing.F) {
	f.Add((&NATConnect{Txn: 1, Sender: id32(2), Target: id32(3), Info: sampleNATInfo(), RTT: time.Second}).AppendPacket(nil)[HeaderLen:])
	f.Add((&NATConnect{}).AppendPacket(nil)[HeaderLen:])
	f.Fuzz(func(t *testing.T, body []byte) {
		m, err := DecodeNATConnect(body)
		if err != nil {
			return
		}
		if got := m.AppendPacket(nil)[HeaderLen:]; !bytes.Equal(got, body) {
			t.Fatalf("re-encode %x != %x", got, body)
		}
	})
}

func FuzzDecodeNATOffer(f *testing.F) {
	f.Add((&NATOffer{Txn: 1, Peer: id32(2), Info: sampleNATInfo(), Observed: netip.MustParseAddrPort("1.2.3.4:5"),
		Delay: time.Millisecond, Flags: NATOfferInitiator}).AppendPacket(nil)[HeaderLen:])
	f.Add((&NATOffer{}).AppendPacket(nil)[HeaderLen:])
	f.Fuzz(func(t *testing.T, body []byte) {
		m, err := DecodeNATOffer(body)
		if err != nil {
			return
		}
		if got := m.AppendPacket(nil)[HeaderLen:]; !bytes.Equal(got, body) {
			t.Fatalf("re-encode %x != %x", got, body)
		}
	})
}

func FuzzDecodeNATRefused(f *testing.F) {
	f.Add((&NATRefused{Txn: 1, Target: id32(2), Reason: NATRefusedUnknown}).AppendPacket(nil)[HeaderLen:])
	f.Add([]byte{0xff})
	f.Fuzz(func(t *testing.T, body []byte) {
		m, err := DecodeNATRefused(body)
		if err != nil {
			return
		}
		if got := m.AppendPacket(nil)[HeaderLen:]; !bytes.Equal(got, body) {
			t.Fatalf("re-encode %x != %x", got, body)
		}
	})
}

func FuzzDecodeNATProbe(f *testing.F) {
	f.Add((&NATProbe{Txn: 1, Sender: id32(2), Seq: 3}).AppendPacket(nil, KindPunch)[HeaderLen:])
	f.Add([]byte{1})
	f.Fuzz(func(t *testing.T, body []byte) {
		m, err := DecodeNATProbe(body)
		if err != nil {
			return
		}
		if got := m.AppendPacket(nil, KindPathPong)[HeaderLen:]; !bytes.Equal(got, body) {
			t.Fatalf("re-encode %x != %x", got, body)
		}
	})
}
