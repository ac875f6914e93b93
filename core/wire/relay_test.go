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

func key32(b byte) (k [RelayKeyLen]byte) {
	for i := range k {
		k[i] = b
	}
	return k
}

func sig64(b byte) (s [RelaySigLen]byte) {
	for i := range s {
		s[i] = b
	}
	return s
}

func sampleRelayData() RelayData {
	return RelayData{
		ID:         key32(0x11),
		Sender:     key32(0x22),
		SenderAddr: netip.MustParseAddrPort("198.18.0.1:4000"),
		Nonce:      0x0102030405060708,
		Sent:       0x1122334455667788,
		Recipient:  RelayHop{Key: key32(0x33), Addr: netip.MustParseAddrPort("[2001:db8::3]:443")},
		Path: []RelayHop{
			{Key: key32(0x44), Addr: netip.MustParseAddrPort("10.0.0.4:4")},
			{Key: key32(0x55), Addr: netip.MustParseAddrPort("10.0.0.5:5")},
		},
		RouteSig: sig64(0x66),
		Records:  []RelayRecord{{Received: 1, HandedOff: 2, Sig: sig64(0x77)}},
		Payload:  []byte("hi"),
	}
}

func sampleRelayAck() RelayAck {
	return RelayAck{
		ID:       key32(0x11),
		Received: 0x0a0b0c0d0e0f1011,
		Records: []RelayRecord{
			{Received: 1, HandedOff: 2, Sig: sig64(0x77)},
			{Received: 3, HandedOff: 4, Sig: sig64(0x88)},
		},
		Sig: sig64(0x99),
	}
}

func sampleRelayReceipt() RelayReceipt {
	return RelayReceipt{ID: key32(0x11), Hop: 2, Record: RelayRecord{Received: -1, HandedOff: 5, Sig: sig64(0xaa)}}
}

func TestRelayGoldens(t *testing.T) {
	d, a, rc := sampleRelayData(), sampleRelayAck(), sampleRelayReceipt()
	rep := strings.Repeat
	cases := []struct {
		name string
		pkt  []byte
		hex  string
	}{
		{"relay-data", d.AppendPacket(nil),
			"0150" + rep("11", 32) + rep("22", 32) + "04" + "c6120001" + "0fa0" +
				"0102030405060708" + "1122334455667788" +
				rep("33", 32) + "06" + "20010db8000000000000000000000003" + "01bb" +
				"02" + rep("44", 32) + "04" + "0a000004" + "0004" + rep("55", 32) + "04" + "0a000005" + "0005" +
				rep("66", 64) +
				"01" + "0000000000000001" + "0000000000000002" + rep("77", 64) +
				"02" + "6869"},
		{"relay-data-empty", (&RelayData{}).AppendPacket(nil),
			"0150" + rep("00", 32) + rep("00", 32) + "00" + rep("00", 16) + rep("00", 32) + "00" +
				"00" + rep("00", 64) + "00" + "00"},
		{"relay-ack", a.AppendPacket(nil),
			"0151" + rep("11", 32) + "0a0b0c0d0e0f1011" +
				"02" + "0000000000000001" + "0000000000000002" + rep("77", 64) +
				"0000000000000003" + "0000000000000004" + rep("88", 64) +
				rep("99", 64)},
		{"relay-receipt", rc.AppendPacket(nil),
			"0152" + rep("11", 32) + "02" + "ffffffffffffffff" + "0000000000000005" + rep("aa", 64)},
	}
	for _, c := range cases {
		if got := hex.EncodeToString(c.pkt); got != c.hex {
			t.Errorf("%s: encoded\n %s, want\n %s", c.name, got, c.hex)
		}
	}
	if n := len(rc.AppendPacket(nil)); n != HeaderLen+RelayReceiptLen {
		t.Errorf("receipt is %d bytes, want %d", n, HeaderLen+RelayReceiptLen)
	}
	if KindRelayData.String() != "relay-data" || KindRelayAck.String() != "relay-ack" || KindRelayReceipt.String() != "relay-receipt" {
		t.Error("relay kind names")
	}
}

func TestRelayRoundTrip(t *testing.T) {
	d := sampleRelayData()
	env, err := DecodeEnvelope(d.AppendPacket(nil))
	if err != nil || env.Kind != KindRelayData {
		t.Fatalf("envelope: %v %v", env, err)
	}
	gotD, err := DecodeRelayData(env.Body)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(gotD, d) {
		t.Fatalf("relay-data:\n got %+v\nwant %+v", gotD, d)
	}

	a := sampleRelayAck()
	env, _ = DecodeEnvelope(a.AppendPacket(nil))
	gotA, err := DecodeRelayAck(env.Body)
	if err != nil || !reflect.DeepEqual(gotA, a) {
		t.Fatalf("relay-ack: %+v %v", gotA, err)
	}
	// An ack with no records decodes to a nil slice and re-encodes alike.
	a.Records = nil
	env, _ = DecodeEnvelope(a.AppendPacket(nil))
	if gotA, err = DecodeRelayAck(env.Body); err != nil || !reflect.DeepEqual(gotA, a) {
		t.Fatalf("relay-ack without records: %+v %v", gotA, err)
	}

	rc := sampleRelayReceipt()
	env, _ = DecodeEnvelope(rc.AppendPacket(nil))
	gotR, err := DecodeRelayReceipt(env.Body)
	if err != nil || gotR != rc {
		t.Fatalf("relay-receipt: %+v %v", gotR, err)
	}

	// The largest payload fits one datagram with the longest path, every
	// record and IPv6 addresses everywhere.
	v6 := netip.MustParseAddrPort("[2001:db8::ffff]:65535")
	big := RelayData{SenderAddr: v6, Recipient: RelayHop{Addr: v6}, Payload: make([]byte, MaxRelayPayload)}
	for range MaxRelayPath {
		big.Path = append(big.Path, RelayHop{Addr: v6})
		big.Records = append(big.Records, RelayRecord{})
	}
	pkt := big.AppendPacket(nil)
	if len(pkt) > MaxPacket {
		t.Fatalf("largest relay-data is %d bytes > %d", len(pkt), MaxPacket)
	}
	if len(pkt) != MaxPacket {
		t.Errorf("largest relay-data is %d bytes, want exactly %d", len(pkt), MaxPacket)
	}
	env, err = DecodeEnvelope(pkt)
	if err != nil {
		t.Fatal(err)
	}
	if m, err := DecodeRelayData(env.Body); err != nil || len(m.Payload) != MaxRelayPayload || len(m.Path) != MaxRelayPath {
		t.Fatalf("largest relay-data: %d %d %v", len(m.Payload), len(m.Path), err)
	}
}

func TestRelayDecodeErrors(t *testing.T) {
	d := sampleRelayData()
	body := d.AppendPacket(nil)[HeaderLen:]
	// Offsets into the sample body.
	pathAt := 32 + 32 + 7 + 8 + 8 + 32 + 19
	recsAt := pathAt + 1 + 2*(32+7) + 64
	payloadAt := recsAt + 1 + RelayRecordLen
	if body[pathAt] != 2 || body[recsAt] != 1 || body[payloadAt] != 2 {
		t.Fatalf("offsets moved: %x %x %x", body[pathAt], body[recsAt], body[payloadAt])
	}
	with := func(at int, b ...byte) []byte {
		out := bytes.Clone(body[:at])
		return append(out, b...)
	}
	patch := func(at int, v byte) []byte {
		out := bytes.Clone(body)
		out[at] = v
		return out
	}
	cases := []struct {
		name string
		body []byte
	}{
		{"empty", nil},
		{"truncated header", body[:50]},
		{"truncated payload", body[:len(body)-1]},
		{"trailing byte", append(bytes.Clone(body), 0)},
		{"path count over bound", patch(pathAt, MaxRelayPath+1)},
		{"path count cannot fit", with(pathAt, 8, 0, 0)},
		{"huge path count", with(pathAt, AppendUvarint(nil, 1<<62)...)},
		{"record count over bound", patch(recsAt, MaxRelayPath+1)},
		{"record count cannot fit", with(recsAt, 3, 0)},
		{"bad address family", patch(64, 9)},
		{"payload length over bound", with(payloadAt, AppendUvarint(nil, MaxRelayPayload+1)...)},
		{"non-minimal payload length", with(payloadAt, 0x82, 0x00, 'h', 'i')},
	}
	for _, c := range cases {
		if _, err := DecodeRelayData(c.body); !errors.Is(err, ErrMalformed) {
			t.Errorf("relay-data %s: err = %v, want malformed", c.name, err)
		}
	}

	a := sampleRelayAck()
	abody := a.AppendPacket(nil)[HeaderLen:]
	ackCases := []struct {
		name string
		body []byte
	}{
		{"empty", nil},
		{"truncated", abody[:len(abody)-1]},
		{"trailing", append(bytes.Clone(abody), 0)},
		{"record count over bound", append(bytes.Clone(abody[:40]), MaxRelayPath+1)},
		{"record count cannot fit", append(bytes.Clone(abody[:40]), 2, 0)},
	}
	for _, c := range ackCases {
		if _, err := DecodeRelayAck(c.body); !errors.Is(err, ErrMalformed) {
			t.Errorf("relay-ack %s: err = %v, want malformed", c.name, err)
		}
	}

	rc := sampleRelayReceipt()
	rbody := rc.AppendPacket(nil)[HeaderLen:]
	for _, b := range [][]byte{nil, rbody[:RelayReceiptLen-1], append(bytes.Clone(rbody), 0)} {
		if _, err := DecodeRelayReceipt(b); !errors.Is(err, ErrMalformed) {
			t.Errorf("relay-receipt of %d bytes: err = %v, want malformed", len(b), err)
		}
	}
}

func BenchmarkDecodeRelayData(b *testing.B) {
	d := sampleRelayData()
	d.Payload = make([]byte, 512)
	pkt := d.AppendPacket(nil)
	b.ReportAllocs()
	for b.Loop() {
		env, _ := DecodeEnvelope(pkt)
		if _, err := DecodeRelayData(env.Body); err != nil {
			b.Fatal(err)
		}
	}
}
