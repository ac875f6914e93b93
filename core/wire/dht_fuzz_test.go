package wire

import (
	"bytes"
	"testing"
)

// fuzzDHT checks that decode never panics and that whatever decodes
// re-encodes to exactly the input (one encoding per message).
func fuzzDHT[M any](f *testing.F, seeds [][]byte, decode func([]byte) (M, error), encode func(*M) []byte) {
	for _, s := range seeds {
		f.Add(s)
	}
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, body []byte) {
		m, err := decode(body)
		if err != nil {
			return
		}
		if got := encode(&m)[HeaderLen:]; !bytes.Equal(got, body) {
			t.Fatalf("re-encode %x != %x", got, body)
		}
	})
}

func FuzzDecodeDHTPing(f *testing.F) {
	h := sampleHeader()
	fuzzDHT(f, [][]byte{(&DHTPing{h}).AppendPacket(nil)[HeaderLen:]}, DecodeDHTPing,
		func(m *DHTPing) []byte { return m.AppendPacket(nil) })
}

func FuzzDecodeDHTPong(f *testing.F) {
	h := sampleHeader()
	fuzzDHT(f, [][]byte{(&DHTPong{h}).AppendPacket(nil)[HeaderLen:]}, DecodeDHTPong,
		func(m *DHTPong) []byte { return m.AppendPacket(nil) })
}

func FuzzDecodeFindNode(f *testing.F) {
	fuzzDHT(f, [][]byte{(&FindNode{sampleHeader(), id32(1)}).AppendPacket(nil)[HeaderLen:]}, DecodeFindNode,
		func(m *FindNode) []byte { return m.AppendPacket(nil) })
}

func FuzzDecodeFindValue(f *testing.F) {
	fuzzDHT(f, [][]byte{(&FindValue{sampleHeader(), id32(1)}).AppendPacket(nil)[HeaderLen:]}, DecodeFindValue,
		func(m *FindValue) []byte { return m.AppendPacket(nil) })
}

func FuzzDecodeNodes(f *testing.F) {
	n := sampleNodes()
	fuzzDHT(f, [][]byte{n.AppendPacket(nil)[HeaderLen:], (&Nodes{}).AppendPacket(nil)[HeaderLen:]}, DecodeNodes,
		func(m *Nodes) []byte { return m.AppendPacket(nil) })
}

func FuzzDecodeValue(f *testing.F) {
	fuzzDHT(f, [][]byte{(&Value{sampleHeader(), sampleRecord()}).AppendPacket(nil)[HeaderLen:]}, DecodeValue,
		func(m *Value) []byte { return m.AppendPacket(nil) })
}

func FuzzDecodeStore(f *testing.F) {
	fuzzDHT(f, [][]byte{(&Store{sampleHeader(), sampleRecord()}).AppendPacket(nil)[HeaderLen:]}, DecodeStore,
		func(m *Store) []byte { return m.AppendPacket(nil) })
}

func FuzzDecodeStoreAck(f *testing.F) {
	fuzzDHT(f, [][]byte{(&StoreAck{sampleHeader(), true}).AppendPacket(nil)[HeaderLen:]}, DecodeStoreAck,
		func(m *StoreAck) []byte { return m.AppendPacket(nil) })
}
