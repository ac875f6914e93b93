package wire

import (
	"bytes"
	"encoding/hex"
	"errors"
	"strings"
	"testing"
)

func id32(b byte) (id [GossipIDLen]byte) {
	for i := range id {
		id[i] = b
	}
	return id
}

func sampleGossip() Gossip {
	m := Gossip{
		ID:      id32(0x11),
		TTL:     32,
		Hops:    1,
		Sender:  id32(0x22),
		Seq:     0x0102030405060708,
		Time:    0x1122334455667788,
		Payload: []byte("hi"),
	}
	for i := range m.Sig {
		m.Sig[i] = 0x33
	}
	return m
}

func TestGossipGoldens(t *testing.T) {
	g := sampleGossip()
	cases := []struct {
		name string
		pkt  []byte
		hex  string
	}{
		{"gossip", g.AppendPacket(nil),
			"0130" + strings.Repeat("11", 32) + "20" + "01" + strings.Repeat("22", 32) +
				"0102030405060708" + "1122334455667788" + strings.Repeat("33", 64) + "02" + "6869"},
		{"gossip-empty", (&Gossip{TTL: 1, Hops: 9, Time: -1}).AppendPacket(nil),
			"0130" + strings.Repeat("00", 32) + "01" + "09" + strings.Repeat("00", 32) +
				"0000000000000000" + "ffffffffffffffff" + strings.Repeat("00", 64) + "00"},
		{"ihave", IHave{IDs: [][GossipIDLen]byte{id32(0xaa), id32(0xbb)}}.AppendPacket(nil),
			"0131" + "02" + strings.Repeat("aa", 32) + strings.Repeat("bb", 32)},
		{"ihave-empty", IHave{}.AppendPacket(nil), "0131" + "00"},
		{"iwant", IWant{IDs: [][GossipIDLen]byte{id32(0x01)}}.AppendPacket(nil),
			"0132" + "01" + strings.Repeat("01", 32)},
	}
	for _, c := range cases {
		if got := hex.EncodeToString(c.pkt); got != c.hex {
			t.Errorf("%s: encoded\n %s, want\n %s", c.name, got, c.hex)
		}
	}
	if n := g.PacketLen(); n != len(g.AppendPacket(nil)) {
		t.Errorf("PacketLen %d, encoded %d", n, len(g.AppendPacket(nil)))
	}
}

func TestGossipRoundTrip(t *testing.T) {
	g := sampleGossip()
	env, err := DecodeEnvelope(g.AppendPacket(nil))
	if err != nil || env.Kind != KindGossip {
		t.Fatalf("envelope: %v %v", env, err)
	}
	got, err := DecodeGossip(env.Body)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got.Payload, g.Payload) {
		t.Fatalf("payload %q", got.Payload)
	}
	if got.ID != g.ID || got.TTL != g.TTL || got.Hops != g.Hops || got.Sender != g.Sender ||
		got.Seq != g.Seq || got.Time != g.Time || got.Sig != g.Sig {
		t.Fatalf("gossip: %+v", got)
	}

	// The largest payload fits a datagram exactly.
	big := Gossip{TTL: 1, Payload: make([]byte, MaxGossipPayload)}
	pkt := big.AppendPacket(nil)
	if len(pkt) > MaxPacket {
		t.Fatalf("max payload packet is %d bytes > %d", len(pkt), MaxPacket)
	}
	env, err = DecodeEnvelope(pkt)
	if err != nil {
		t.Fatal(err)
	}
	if m, err := DecodeGossip(env.Body); err != nil || len(m.Payload) != MaxGossipPayload {
		t.Fatalf("max payload: %d %v", len(m.Payload), err)
	}

	ids := [][GossipIDLen]byte{id32(1), id32(2), id32(3)}
	env, _ = DecodeEnvelope(IHave{IDs: ids}.AppendPacket(nil))
	ih, err := DecodeIHave(env.Body)
	if err != nil || len(ih.IDs) != 3 || ih.IDs[2] != ids[2] {
		t.Fatalf("ihave: %v %v", ih, err)
	}
	env, _ = DecodeEnvelope(IWant{IDs: ids}.AppendPacket(nil))
	iw, err := DecodeIWant(env.Body)
	if err != nil || len(iw.IDs) != 3 || iw.IDs[0] != ids[0] {
		t.Fatalf("iwant: %v %v", iw, err)
	}
	// The largest ID list fits a datagram.
	if n := len(IHave{IDs: make([][GossipIDLen]byte, MaxGossipIDs)}.AppendPacket(nil)); n > MaxPacket {
		t.Fatalf("max ihave is %d bytes", n)
	}
}

func TestGossipDecodeErrors(t *testing.T) {
	good := sampleGossip()
	body := good.AppendPacket(nil)[HeaderLen:]
	cases := []struct {
		name string
		body []byte
	}{
		{"empty", nil},
		{"truncated header", body[:100]},
		{"truncated payload", body[:len(body)-1]},
		{"trailing byte", append(bytes.Clone(body), 0)},
		{"payload length over bound", append(bytes.Clone(body[:len(body)-3]), AppendUvarint(nil, MaxGossipPayload+1)...)},
		{"non-minimal length", append(bytes.Clone(body[:len(body)-3]), 0x82, 0x00, 'h', 'i')},
	}
	for _, c := range cases {
		if _, err := DecodeGossip(c.body); !errors.Is(err, ErrMalformed) {
			t.Errorf("gossip %s: err = %v, want malformed", c.name, err)
		}
	}
	idCases := []struct {
		name string
		body []byte
	}{
		{"empty", nil},
		{"count over bound", append(AppendUvarint(nil, MaxGossipIDs+1), make([]byte, 32*(MaxGossipIDs+1))...)},
		{"count cannot fit", append(AppendUvarint(nil, 3), make([]byte, 64)...)},
		{"partial id", append(AppendUvarint(nil, 1), make([]byte, 31)...)},
		{"trailing", append(AppendUvarint(nil, 1), make([]byte, 33)...)},
		{"huge count", AppendUvarint(nil, 1<<62)},
	}
	for _, c := range idCases {
		if _, err := DecodeIHave(c.body); !errors.Is(err, ErrMalformed) {
			t.Errorf("ihave %s: err = %v, want malformed", c.name, err)
		}
		if _, err := DecodeIWant(c.body); !errors.Is(err, ErrMalformed) {
			t.Errorf("iwant %s: err = %v, want malformed", c.name, err)
		}
	}
	if KindGossip.String() != "gossip" || KindIHave.String() != "ihave" || KindIWant.String() != "iwant" {
		t.Error("gossip kind names")
	}
}

func BenchmarkDecodeGossip(b *testing.B) {
	g := sampleGossip()
	g.Payload = make([]byte, 512)
	pkt := g.AppendPacket(nil)
	b.ReportAllocs()
	for b.Loop() {
		env, _ := DecodeEnvelope(pkt)
		if _, err := DecodeGossip(env.Body); err != nil {
			b.Fatal(err)
		}
	}
}
