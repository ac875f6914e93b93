package wire

import (
	"bytes"
	"testing"
)

func FuzzDecodeRelayData(f *testing.F) {
	d := sampleRelayData()
	f.Add(d.AppendPacket(nil)[HeaderLen:])
	f.Add((&RelayData{}).AppendPacket(nil)[HeaderLen:])
	d.Records, d.Payload = nil, nil
	f.Add(d.AppendPacket(nil)[HeaderLen:])
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, body []byte) {
		m, err := DecodeRelayData(body)
		if err != nil {
			return
		}
		if len(m.Path) > MaxRelayPath || len(m.Records) > MaxRelayPath || len(m.Payload) > MaxRelayPayload {
			t.Fatalf("bounds: %d hops, %d records, %d payload", len(m.Path), len(m.Records), len(m.Payload))
		}
		if got := m.AppendPacket(nil)[HeaderLen:]; !bytes.Equal(got, body) {
			t.Fatalf("re-encode %x != %x", got, body)
		}
	})
}

func FuzzDecodeRelayAck(f *testing.F) {
	a := sampleRelayAck()
	f.Add(a.AppendPacket(nil)[HeaderLen:])
	f.Add((&RelayAck{}).AppendPacket(nil)[HeaderLen:])
	f.Add([]byte{0x80})
	f.Fuzz(func(t *testing.T, body []byte) {
		m, err := DecodeRelayAck(body)
		if err != nil {
			return
		}
		if got := m.AppendPacket(nil)[HeaderLen:]; !bytes.Equal(got, body) {
			t.Fatalf("re-encode %x != %x", got, body)
		}
	})
}

func FuzzDecodeRelayReceipt(f *testing.F) {
	rc := sampleRelayReceipt()
	f.Add(rc.AppendPacket(nil)[HeaderLen:])
	f.Add(make([]byte, RelayReceiptLen))
	f.Add([]byte{1})
	f.Fuzz(func(t *testing.T, body []byte) {
		m, err := DecodeRelayReceipt(body)
		if err != nil {
			return
		}
		if got := m.AppendPacket(nil)[HeaderLen:]; !bytes.Equal(got, body) {
			t.Fatalf("re-encode %x != %x", got, body)
		}
	})
}
