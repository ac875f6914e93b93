package wire

import (
	"bytes"
	"encoding/hex"
	"errors"
	"net/netip"
	"reflect"
	"strings"
	"testing"
)

func sampleHeader() DHTHeader {
	return DHTHeader{ReqID: 0x0102030405060708, Sender: id32(0x22), Flags: DHTFlagRelay | DHTFlagNATTraversal, Bandwidth: 300}
}

// header hex: id | sender | flags 03 | bandwidth 300 = ac02
var headerHex = "0102030405060708" + strings.Repeat("22", 32) + "03" + "ac02"

func sampleRecord() DHTRecord {
	rec := DHTRecord{Key: id32(0x44), Publisher: id32(0x55), Expires: 0x1122334455667788, Value: []byte("hi")}
	for i := range rec.Sig {
		rec.Sig[i] = 0x66
	}
	return rec
}

var recordHex = strings.Repeat("44", 32) + strings.Repeat("55", 32) + "1122334455667788" + "02" + "6869" + strings.Repeat("66", 64)

func sampleNodes() Nodes {
	return Nodes{DHTHeader: sampleHeader(), Nodes: []DHTNode{
		{ID: id32(0xaa), Flags: DHTFlagRelay, Addr: netip.MustParseAddrPort("10.1.2.3:4000")},
		{ID: id32(0xbb), Addr: netip.MustParseAddrPort("[2001:db8::1]:443")},
	}}
}

func TestDHTGoldens(t *testing.T) {
	h := sampleHeader()
	nodes := sampleNodes()
	rec := sampleRecord()
	cases := []struct {
		name string
		pkt  []byte
		hex  string
	}{
		{"dht-ping", (&DHTPing{h}).AppendPacket(nil), "0110" + headerHex},
		{"dht-pong", (&DHTPong{h}).AppendPacket(nil), "0117" + headerHex},
		{"find-node", (&FindNode{h, id32(0x33)}).AppendPacket(nil), "0111" + headerHex + strings.Repeat("33", 32)},
		{"find-value", (&FindValue{h, id32(0x34)}).AppendPacket(nil), "0113" + headerHex + strings.Repeat("34", 32)},
		{"nodes", nodes.AppendPacket(nil), "0112" + headerHex + "02" +
			strings.Repeat("aa", 32) + "01" + "04" + "0a010203" + "0fa0" +
			strings.Repeat("bb", 32) + "00" + "06" + "20010db8000000000000000000000001" + "01bb"},
		{"nodes-empty", (&Nodes{}).AppendPacket(nil), "0112" + strings.Repeat("00", 8+32+1+1) + "00"},
		{"value", (&Value{h, rec}).AppendPacket(nil), "0114" + headerHex + recordHex},
		{"store", (&Store{h, rec}).AppendPacket(nil), "0115" + headerHex + recordHex},
		{"store-ack", (&StoreAck{h, true}).AppendPacket(nil), "0116" + headerHex + "01"},
		{"store-ack-refused", (&StoreAck{h, false}).AppendPacket(nil), "0116" + headerHex + "00"},
	}
	for _, c := range cases {
		if got := hex.EncodeToString(c.pkt); got != c.hex {
			t.Errorf("%s: encoded\n %s, want\n %s", c.name, got, c.hex)
		}
	}
	names := map[Kind]string{KindDHTPing: "dht-ping", KindFindNode: "find-node", KindNodes: "nodes",
		KindFindValue: "find-value", KindValue: "value", KindStore: "store", KindStoreAck: "store-ack", KindDHTPong: "dht-pong"}
	for k, n := range names {
		if k.String() != n {
			t.Errorf("kind 0x%02x named %q, want %q", uint8(k), k.String(), n)
		}
	}
}

func body(t *testing.T, pkt []byte, kind Kind) []byte {
	t.Helper()
	env, err := DecodeEnvelope(pkt)
	if err != nil || env.Kind != kind {
		t.Fatalf("envelope: %v %v", env.Kind, err)
	}
	return env.Body
}

func TestDHTRoundTrip(t *testing.T) {
	h := sampleHeader()
	rec := sampleRecord()
	check := func(name string, got, want any, err error) {
		t.Helper()
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("%s: got %+v, want %+v", name, got, want)
		}
	}
	ping := DHTPing{h}
	got1, err := DecodeDHTPing(body(t, ping.AppendPacket(nil), KindDHTPing))
	check("ping", got1, ping, err)
	pong := DHTPong{h}
	got2, err := DecodeDHTPong(body(t, pong.AppendPacket(nil), KindDHTPong))
	check("pong", got2, pong, err)
	fn := FindNode{h, id32(9)}
	got3, err := DecodeFindNode(body(t, fn.AppendPacket(nil), KindFindNode))
	check("find-node", got3, fn, err)
	fv := FindValue{h, id32(8)}
	got4, err := DecodeFindValue(body(t, fv.AppendPacket(nil), KindFindValue))
	check("find-value", got4, fv, err)
	nodes := sampleNodes()
	got5, err := DecodeNodes(body(t, nodes.AppendPacket(nil), KindNodes))
	check("nodes", got5, nodes, err)
	v := Value{h, rec}
	got6, err := DecodeValue(body(t, v.AppendPacket(nil), KindValue))
	check("value", got6, v, err)
	s := Store{h, rec}
	got7, err := DecodeStore(body(t, s.AppendPacket(nil), KindStore))
	check("store", got7, s, err)
	for _, ok := range []bool{true, false} {
		a := StoreAck{h, ok}
		got8, err := DecodeStoreAck(body(t, a.AppendPacket(nil), KindStoreAck))
		check("store-ack", got8, a, err)
	}

	// The largest NODES list and the largest value fit a datagram.
	big := Nodes{DHTHeader: h, Nodes: make([]DHTNode, MaxDHTNodes)}
	for i := range big.Nodes {
		big.Nodes[i].Addr = netip.MustParseAddrPort("[2001:db8::1]:1")
	}
	if n := len(big.AppendPacket(nil)); n > MaxPacket {
		t.Fatalf("max nodes packet is %d bytes", n)
	}
	bigRec := Store{h, DHTRecord{Value: make([]byte, MaxDHTValue)}}
	if n := len(bigRec.AppendPacket(nil)); n > MaxPacket {
		t.Fatalf("max store packet is %d bytes", n)
	}
	if m, err := DecodeStore(body(t, bigRec.AppendPacket(nil), KindStore)); err != nil || len(m.Record.Value) != MaxDHTValue {
		t.Fatalf("max value: %v", err)
	}
}

func TestDHTDecodeErrors(t *testing.T) {
	h := sampleHeader()
	nodesBody := func(n int) []byte {
		b := h.append(nil)
		b = AppendUvarint(b, uint64(n))
		for range n {
			b = append(b, make([]byte, DHTIDLen+1)...)
			b = append(b, 0)
		}
		return b
	}
	pingBody := (&DHTPing{h}).AppendPacket(nil)[HeaderLen:]
	storeBody := (&Store{h, sampleRecord()}).AppendPacket(nil)[HeaderLen:]
	cases := []struct {
		name   string
		decode func([]byte) error
		body   []byte
	}{
		{"ping empty", func(b []byte) error { _, err := DecodeDHTPing(b); return err }, nil},
		{"ping trailing", func(b []byte) error { _, err := DecodeDHTPing(b); return err }, append(bytes.Clone(pingBody), 0)},
		{"ping truncated", func(b []byte) error { _, err := DecodeDHTPing(b); return err }, pingBody[:20]},
		{"pong non-minimal bandwidth", func(b []byte) error { _, err := DecodeDHTPong(b); return err },
			append(bytes.Clone(pingBody[:41]), 0x80, 0x00)},
		{"find-node short target", func(b []byte) error { _, err := DecodeFindNode(b); return err }, append(bytes.Clone(pingBody), make([]byte, 31)...)},
		{"find-value short key", func(b []byte) error { _, err := DecodeFindValue(b); return err }, pingBody},
		{"nodes count over bound", func(b []byte) error { _, err := DecodeNodes(b); return err }, nodesBody(MaxDHTNodes + 1)},
		{"nodes count cannot fit", func(b []byte) error { _, err := DecodeNodes(b); return err },
			append(h.append(nil), AppendUvarint(nil, 200)...)},
		{"nodes huge count", func(b []byte) error { _, err := DecodeNodes(b); return err }, append(h.append(nil), AppendUvarint(nil, 1<<62)...)},
		{"nodes bad family", func(b []byte) error { _, err := DecodeNodes(b); return err },
			append(append(h.append(nil), 1), append(make([]byte, 33), 5)...)},
		{"nodes trailing", func(b []byte) error { _, err := DecodeNodes(b); return err }, append(nodesBody(1), 0)},
		{"store truncated sig", func(b []byte) error { _, err := DecodeStore(b); return err }, storeBody[:len(storeBody)-1]},
		{"store value over bound", func(b []byte) error { _, err := DecodeStore(b); return err },
			append(append(h.append(nil), make([]byte, 72)...), AppendUvarint(nil, MaxDHTValue+1)...)},
		{"value trailing", func(b []byte) error { _, err := DecodeValue(b); return err }, append(bytes.Clone(storeBody), 1)},
		{"store-ack bad ok", func(b []byte) error { _, err := DecodeStoreAck(b); return err }, append(bytes.Clone(pingBody), 2)},
		{"store-ack missing ok", func(b []byte) error { _, err := DecodeStoreAck(b); return err }, pingBody},
	}
	for _, c := range cases {
		if err := c.decode(c.body); !errors.Is(err, ErrMalformed) {
			t.Errorf("%s: err = %v, want malformed", c.name, err)
		}
	}
	// Exactly MaxDHTNodes minimal entries decode.
	if m, err := DecodeNodes(nodesBody(MaxDHTNodes)); err != nil || len(m.Nodes) != MaxDHTNodes {
		t.Fatalf("max nodes: %d %v", len(m.Nodes), err)
	}
}

func BenchmarkDecodeNodes(b *testing.B) {
	m := Nodes{DHTHeader: sampleHeader(), Nodes: make([]DHTNode, 20)}
	for i := range m.Nodes {
		m.Nodes[i] = DHTNode{ID: id32(byte(i)), Addr: netip.MustParseAddrPort("10.0.0.1:4000")}
	}
	pkt := m.AppendPacket(nil)
	b.ReportAllocs()
	for b.Loop() {
		env, _ := DecodeEnvelope(pkt)
		if _, err := DecodeNodes(env.Body); err != nil {
			b.Fatal(err)
		}
	}
}
