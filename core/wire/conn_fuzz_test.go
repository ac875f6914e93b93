package wire

import (
	"bytes"
	"testing"
)

// Each connection decoder: no panic on any input, and whatever decodes
// re-encodes to exactly the input (one encoding per message).

func FuzzDecodeConnect(f *testing.F) {
	f.Add((&Connect{Nonce: 1, Sender: id32(2), Target: id32(3)}).AppendPacket(nil)[HeaderLen:])
	f.Add((&Connect{}).AppendPacket(nil)[HeaderLen:])
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, body []byte) {
		m, err := DecodeConnect(body)
		if err != nil {
			return
		}
		if got := m.AppendPacket(nil)[HeaderLen:]; !bytes.Equal(got, body) {
			t.Fatalf("re-encode %x != %x", got, body)
		}
	})
}

func FuzzDecodeAccept(f *testing.F) {
	f.Add((&Accept{Nonce: 1, Sender: id32(2)}).AppendPacket(nil)[HeaderLen:])
	f.Add([]byte{1, 2, 3})
	f.Fuzz(func(t *testing.T, body []byte) {
		m, err := DecodeAccept(body)
		if err != nil {
			return
		}
		if got := m.AppendPacket(nil)[HeaderLen:]; !bytes.Equal(got, body) {
			t.Fatalf("re-encode %x != %x", got, body)
		}
	})
}

func FuzzDecodeReject(f *testing.F) {
	f.Add(Reject{Nonce: 1, Reason: ConnReasonFull}.AppendPacket(nil)[HeaderLen:])
	f.Add([]byte{0xff})
	f.Fuzz(func(t *testing.T, body []byte) {
		m, err := DecodeReject(body)
		if err != nil {
			return
		}
		if got := m.AppendPacket(nil)[HeaderLen:]; !bytes.Equal(got, body) {
			t.Fatalf("re-encode %x != %x", got, body)
		}
	})
}

func FuzzDecodeClose(f *testing.F) {
	f.Add(Close{Nonce: 1, Reason: ConnReasonPruned}.AppendPacket(nil)[HeaderLen:])
	f.Add([]byte{0, 0, 0, 0, 0, 0, 0, 0, 0, 0})
	f.Fuzz(func(t *testing.T, body []byte) {
		m, err := DecodeClose(body)
		if err != nil {
			return
		}
		if got := m.AppendPacket(nil)[HeaderLen:]; !bytes.Equal(got, body) {
			t.Fatalf("re-encode %x != %x", got, body)
		}
	})
}

func FuzzDecodeConnProbe(f *testing.F) {
	f.Add(ConnProbe{Nonce: 1, Seq: 2}.AppendPacket(nil, KindConnPing)[HeaderLen:])
	f.Add([]byte{1})
	f.Fuzz(func(t *testing.T, body []byte) {
		m, err := DecodeConnProbe(body)
		if err != nil {
			return
		}
		if got := m.AppendPacket(nil, KindConnPong)[HeaderLen:]; !bytes.Equal(got, body) {
			t.Fatalf("re-encode %x != %x", got, body)
		}
	})
}
