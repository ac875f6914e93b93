package wire

import (
	"bytes"
	"encoding/hex"
	"errors"
	"reflect"
	"strings"
	"testing"
)

func sampleDigest() Digest {
	return Digest{
		Flags: DigestFlagCounter,
		Start: 0x1122334455667788,
		Width: 1_000_000_000,
		Span:  300,
		Buckets: []DigestBucket{
			{Index: 0, Count: 1, Fingerprint: 0x0102030405060708},
			{Index: 2, Count: 200, Fingerprint: 0xa1a2a3a4a5a6a7a8},
		},
		Pad: 3,
	}
}

func TestDigestGoldens(t *testing.T) {
	d := sampleDigest()
	cases := []struct {
		name string
		pkt  []byte
		hex  string
	}{
		{"digest", d.AppendPacket(nil),
			"0133" + "01" + "1122334455667788" + "8094ebdc03" + "ac02" + "02" +
				"00" + "01" + "0102030405060708" +
				"01" + "c801" + "a1a2a3a4a5a6a7a8" +
				"03" + "000000"},
		{"digest-empty", (&Digest{Start: -1, Width: 1, Span: 0}).AppendPacket(nil),
			"0133" + "00" + "ffffffffffffffff" + "01" + "00" + "00" + "00"},
		{"digest-reply", DigestReply{More: 5, IDs: [][GossipIDLen]byte{id32(0xaa)}}.AppendPacket(nil),
			"0134" + "05" + "01" + strings.Repeat("aa", 32)},
		{"digest-reply-empty", DigestReply{}.AppendPacket(nil), "0134" + "00" + "00"},
	}
	for _, c := range cases {
		if got := hex.EncodeToString(c.pkt); got != c.hex {
			t.Errorf("%s: encoded\n %s, want\n %s", c.name, got, c.hex)
		}
	}
	if n := d.BodyLen(); n != len(d.AppendPacket(nil))-HeaderLen {
		t.Errorf("BodyLen %d, encoded body %d", n, len(d.AppendPacket(nil))-HeaderLen)
	}
	r := DigestReply{More: 300, IDs: make([][GossipIDLen]byte, 7)}
	if n := DigestReplyLen(r.More, len(r.IDs)); n != len(r.AppendPacket(nil))-HeaderLen {
		t.Errorf("DigestReplyLen %d, encoded body %d", n, len(r.AppendPacket(nil))-HeaderLen)
	}
	if KindDigest.String() != "digest" || KindDigestReply.String() != "digest-reply" {
		t.Error("kind names")
	}
}

func TestDigestRoundTrip(t *testing.T) {
	d := sampleDigest()
	env, err := DecodeEnvelope(d.AppendPacket(nil))
	if err != nil || env.Kind != KindDigest {
		t.Fatalf("envelope %v %v", env, err)
	}
	got, err := DecodeDigest(env.Body)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, d) {
		t.Fatalf("got %+v, want %+v", got, d)
	}
	// The widest digest fits a datagram.
	full := Digest{Width: MaxDigestWidth, Span: MaxDigestBuckets, Buckets: make([]DigestBucket, MaxDigestBuckets)}
	for i := range full.Buckets {
		full.Buckets[i] = DigestBucket{Index: uint32(i), Count: MaxDigestCount, Fingerprint: ^uint64(0)}
	}
	pkt := full.AppendPacket(nil)
	if len(pkt) > MaxPacket {
		t.Fatalf("full digest is %d bytes", len(pkt))
	}
	if got, err := DecodeDigest(pkt[HeaderLen:]); err != nil || len(got.Buckets) != MaxDigestBuckets {
		t.Fatalf("full digest: %d buckets, %v", len(got.Buckets), err)
	}
	r := DigestReply{More: 9, IDs: [][GossipIDLen]byte{id32(1), id32(2)}}
	env, _ = DecodeEnvelope(r.AppendPacket(nil))
	gr, err := DecodeDigestReply(env.Body)
	if err != nil || !reflect.DeepEqual(gr, r) {
		t.Fatalf("reply %+v %v", gr, err)
	}
}

func TestDigestDecodeErrors(t *testing.T) {
	body := func(d Digest) []byte { return d.AppendPacket(nil)[HeaderLen:] }
	good := body(sampleDigest())
	unknownFlag := sampleDigest()
	unknownFlag.Flags = 0x80
	zeroWidth := sampleDigest()
	zeroWidth.Width = 0
	outOfSpan := sampleDigest()
	outOfSpan.Span = 2
	zeroCount := sampleDigest()
	zeroCount.Buckets[1].Count = 0
	tooMany := Digest{Width: 1, Span: 1, Buckets: []DigestBucket{{Index: 0, Count: 1}, {Index: 1, Count: 1}}}
	dirtyPad := bytes.Clone(good)
	dirtyPad[len(dirtyPad)-1] = 1
	cases := []struct {
		name string
		body []byte
	}{
		{"empty", nil},
		{"truncated", good[:len(good)-5]},
		{"trailing", append(bytes.Clone(good), 0)},
		{"unknown flag", body(unknownFlag)},
		{"zero width", body(zeroWidth)},
		{"index beyond span", body(outOfSpan)},
		{"zero count", body(zeroCount)},
		{"more buckets than span", body(tooMany)},
		{"non-zero pad", dirtyPad},
		{"width over bound", append([]byte{0, 0, 0, 0, 0, 0, 0, 0, 0}, AppendUvarint(nil, MaxDigestWidth+1)...)},
		{"huge bucket count", append(append([]byte{0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0x80, 0x20}, AppendUvarint(nil, 1<<40)...), 0)},
	}
	for _, c := range cases {
		if _, err := DecodeDigest(c.body); !errors.Is(err, ErrMalformed) {
			t.Errorf("digest %s: err = %v, want malformed", c.name, err)
		}
	}
	replyCases := []struct {
		name string
		body []byte
	}{
		{"empty", nil},
		{"no ids", []byte{0}},
		{"more over bound", append(AppendUvarint(nil, MaxDigestCount+1), 0)},
		{"partial id", append([]byte{0, 1}, make([]byte, 31)...)},
		{"trailing", []byte{0, 0, 0}},
	}
	for _, c := range replyCases {
		if _, err := DecodeDigestReply(c.body); !errors.Is(err, ErrMalformed) {
			t.Errorf("digest-reply %s: err = %v, want malformed", c.name, err)
		}
	}
}

func FuzzDecodeDigest(f *testing.F) {
	d := sampleDigest()
	f.Add(d.AppendPacket(nil)[HeaderLen:])
	f.Add((&Digest{Width: 1}).AppendPacket(nil)[HeaderLen:])
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, body []byte) {
		m, err := DecodeDigest(body)
		if err != nil {
			return
		}
		if got := m.AppendPacket(nil)[HeaderLen:]; !bytes.Equal(got, body) {
			t.Fatalf("re-encode %x != %x", got, body)
		}
		if m.BodyLen() != len(body) {
			t.Fatalf("BodyLen %d, body %d", m.BodyLen(), len(body))
		}
	})
}

func FuzzDecodeDigestReply(f *testing.F) {
	f.Add(DigestReply{More: 3, IDs: [][GossipIDLen]byte{id32(4)}}.AppendPacket(nil)[HeaderLen:])
	f.Add(DigestReply{}.AppendPacket(nil)[HeaderLen:])
	f.Add([]byte{0xff, 0xff, 0x03})
	f.Fuzz(func(t *testing.T, body []byte) {
		m, err := DecodeDigestReply(body)
		if err != nil {
			return
		}
		if got := m.AppendPacket(nil)[HeaderLen:]; !bytes.Equal(got, body) {
			t.Fatalf("re-encode %x != %x", got, body)
		}
	})
}
