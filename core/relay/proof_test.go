package relay_test

import (
	"bytes"
	"encoding/hex"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/dchat/network/core/identity"
	"github.com/dchat/network/core/relay"
)

func TestProofVerifies(t *testing.T) {
	for hops := 1; hops <= 8; hops++ {
		p := buildProof(t, proofSpec{hops: hops, payload: []byte("payload")})
		if err := relay.Verify(p); err != nil {
			t.Fatalf("%d hops: %v", hops, err)
		}
		if err := p.VerifyPayload([]byte("payload")); err != nil {
			t.Fatal(err)
		}
		if err := p.VerifyPayload([]byte("Payload")); !errors.Is(err, relay.ErrPayloadHash) {
			t.Fatalf("other payload: %v", err)
		}
		if err := relay.VerifyWith(p, hops-1, nil); hops > 1 && !errors.Is(err, relay.ErrPathLength) {
			t.Fatalf("%d hops over a limit of %d: %v", hops, hops-1, err)
		}
	}
}

// Tampering with any field of a proof makes Verify fail, with the error
// of that field. Every byte of every signature is flipped in turn.
func TestTamperedProofRejected(t *testing.T) {
	fresh := func() *relay.Proof { return buildProof(t, proofSpec{hops: 3, payload: []byte("m")}) }
	stranger := ident(t, 0x77).ID()
	cases := []struct {
		name string
		f    func(p *relay.Proof)
		want error
	}{
		{"id", func(p *relay.Proof) { p.ID[0] ^= 1 }, relay.ErrMessageID},
		{"payload hash", func(p *relay.Proof) { p.PayloadHash[31] ^= 1 }, relay.ErrMessageID},
		{"nonce", func(p *relay.Proof) { p.Nonce++ }, relay.ErrMessageID},
		{"sender", func(p *relay.Proof) { p.Sender = stranger }, relay.ErrMessageID},
		{"sent", func(p *relay.Proof) { p.Sent-- }, relay.ErrRouteSig},
		{"recipient", func(p *relay.Proof) { p.Recipient = stranger }, relay.ErrRouteSig},
		{"recipient is a relay", func(p *relay.Proof) { p.Recipient = p.Path[1] }, relay.ErrRepeatedPeer},
		{"recipient is the sender", func(p *relay.Proof) { p.Recipient = p.Sender }, relay.ErrRepeatedPeer},
		{"relay replaced", func(p *relay.Proof) { p.Path[1] = stranger }, relay.ErrRouteSig},
		{"relay repeated", func(p *relay.Proof) { p.Path[2] = p.Path[0] }, relay.ErrRepeatedPeer},
		{"relays swapped", func(p *relay.Proof) { p.Path[0], p.Path[1] = p.Path[1], p.Path[0] }, relay.ErrRouteSig},
		{"records swapped", func(p *relay.Proof) { p.Hops[0], p.Hops[1] = p.Hops[1], p.Hops[0] }, relay.ErrHopSig},
		{"relay dropped", func(p *relay.Proof) { p.Path, p.Hops = p.Path[:2], p.Hops[:2] }, relay.ErrRouteSig},
		{"relay added", func(p *relay.Proof) {
			p.Path = append(p.Path, stranger)
			p.Hops = append(p.Hops, p.Hops[2])
		}, relay.ErrRouteSig},
		{"path empty", func(p *relay.Proof) { p.Path, p.Hops = nil, nil }, relay.ErrPathLength},
		{"record missing", func(p *relay.Proof) { p.Hops = p.Hops[:2] }, relay.ErrIncomplete},
		{"record extra", func(p *relay.Proof) { p.Hops = append(p.Hops, p.Hops[2]) }, relay.ErrHopCount},
		{"hop received later", func(p *relay.Proof) { p.Hops[1].Received++ }, relay.ErrHopSig},
		{"hop received earlier", func(p *relay.Proof) { p.Hops[1].Received-- }, relay.ErrHopSig},
		{"hop handed off later", func(p *relay.Proof) { p.Hops[2].HandedOff++ }, relay.ErrHopSig},
		{"hop received before the previous hand-off", func(p *relay.Proof) { p.Hops[1].Received = p.Hops[0].HandedOff - 1 }, relay.ErrTimestamps},
		{"hop handed off before receipt", func(p *relay.Proof) { p.Hops[0].HandedOff = p.Hops[0].Received - 1 }, relay.ErrTimestamps},
		{"first receipt before the send", func(p *relay.Proof) { p.Hops[0].Received = p.Sent - 1 }, relay.ErrTimestamps},
		{"ack time", func(p *relay.Proof) { p.Ack.Received++ }, relay.ErrAckSig},
		{"ack before the last hand-off", func(p *relay.Proof) { p.Ack.Received = p.Hops[2].HandedOff - 1 }, relay.ErrTimestamps},
		{"ack missing", func(p *relay.Proof) { p.Ack = relay.AckRecord{} }, relay.ErrNoAck},
	}
	sigs := []struct {
		name string
		sig  func(p *relay.Proof) []byte
		want error
	}{
		{"route sig", func(p *relay.Proof) []byte { return p.RouteSig[:] }, relay.ErrRouteSig},
		{"hop 0 sig", func(p *relay.Proof) []byte { return p.Hops[0].Sig[:] }, relay.ErrHopSig},
		{"hop 1 sig", func(p *relay.Proof) []byte { return p.Hops[1].Sig[:] }, relay.ErrHopSig},
		{"hop 2 sig", func(p *relay.Proof) []byte { return p.Hops[2].Sig[:] }, relay.ErrHopSig},
		{"ack sig", func(p *relay.Proof) []byte { return p.Ack.Sig[:] }, relay.ErrAckSig},
	}
	for _, s := range sigs {
		for i := range 64 {
			for _, bit := range []byte{0x01, 0x80} {
				cases = append(cases, struct {
					name string
					f    func(p *relay.Proof)
					want error
				}{s.name, func(p *relay.Proof) { s.sig(p)[i] ^= bit }, s.want})
			}
		}
	}
	// Signatures moved to another field never verify either.
	cases = append(cases, struct {
		name string
		f    func(p *relay.Proof)
		want error
	}{"hop sig reused for the ack", func(p *relay.Proof) { p.Ack.Sig = p.Hops[2].Sig }, relay.ErrAckSig})

	if err := relay.Verify(fresh()); err != nil {
		t.Fatal(err)
	}
	for _, c := range cases {
		p := fresh()
		c.f(p)
		err := relay.Verify(p)
		if !errors.Is(err, c.want) {
			t.Errorf("%s: err = %v, want %v", c.name, err, c.want)
		}
		if rep := relay.Audit(p, relay.DefaultAuditConfig()); rep.Verdict == relay.VerdictDelivered || rep.Verdict == relay.VerdictDelayed {
			t.Errorf("%s: audit says %s", c.name, rep.Verdict)
		}
	}
	t.Logf("%d tampered proofs rejected", len(cases))
}

// Every single-bit change at every byte of a serialized proof is caught:
// by ParseProof or by Verify.
func TestTamperedChainBytesRejected(t *testing.T) {
	p := buildProof(t, proofSpec{hops: 3, payload: []byte("m")})
	data, err := p.SerializeForChain()
	if err != nil {
		t.Fatal(err)
	}
	q, err := relay.ParseProof(data)
	if err != nil || relay.Verify(q) != nil {
		t.Fatalf("round trip: %v", err)
	}
	checked := 0
	for i := range data {
		for _, bit := range []byte{0x01, 0x80} {
			b := bytes.Clone(data)
			b[i] ^= bit
			q, err := relay.ParseProof(b)
			if err == nil && relay.Verify(q) == nil {
				t.Fatalf("byte %d ^ %#x accepted", i, bit)
			}
			checked++
		}
	}
	t.Logf("%d mutations of %d bytes rejected", checked, len(data))
}

func TestVerifyTimestampsAreNonDecreasing(t *testing.T) {
	// Equal times everywhere verify (an honest relay hands off in the same
	// instant it receives; clocks may agree to the nanosecond).
	t0 := time.Unix(1700000000, 0).UnixNano()
	p := buildProof(t, proofSpec{hops: 2, sent: t0, times: []int64{t0, t0, t0, t0, t0}})
	if err := relay.Verify(p); err != nil {
		t.Fatal(err)
	}
	// A relay signing decreasing times is caught, and the audit names it.
	p = buildProof(t, proofSpec{hops: 2, sent: t0, times: []int64{t0 + 10, t0 + 20, t0 + 15, t0 + 30, t0 + 40}})
	if err := relay.Verify(p); !errors.Is(err, relay.ErrTimestamps) {
		t.Fatalf("err = %v", err)
	}
	rep := relay.Audit(p, relay.DefaultAuditConfig())
	if rep.Verdict != relay.VerdictForged || rep.Confirmed != 1 || !slices.Equal(rep.Suspects, []identity.PeerID{p.Path[1]}) {
		t.Fatalf("report %+v", rep)
	}
}

// The on-chain proof format is pinned: version 1, type 1, then the fields
// at the offsets of docs/relay-proofs.md.
func TestProofChainGolden(t *testing.T) {
	p := buildProof(t, proofSpec{hops: 1, payload: []byte("hello"), sent: 1767225600000000000})
	data, err := p.SerializeForChain()
	if err != nil {
		t.Fatal(err)
	}
	if len(data) != relay.ProofChainLen(1) || len(data) != 395 {
		t.Fatalf("length %d", len(data))
	}
	const golden = proofGolden1Hop
	if got := hex.EncodeToString(data); got != golden {
		t.Errorf("serialized proof:\n got %s\nwant %s", got, golden)
	}
	// Field offsets (docs/relay-proofs.md).
	ph := relay.PayloadHash([]byte("hello"))
	checks := []struct {
		name   string
		off    int
		want   []byte
		length int
	}{
		{"version+type", 0, []byte{1, 1}, 2},
		{"id", 2, p.ID[:], 32},
		{"payload hash", 34, ph[:], 32},
		{"nonce", 66, []byte{0, 0, 0, 0, 0, 0, 0, 7}, 8},
		{"sender", 74, p.Sender.PublicKey(), 32},
		{"sent", 106, be64(p.Sent), 8},
		{"route sig", 114, p.RouteSig[:], 64},
		{"recipient", 178, p.Recipient.PublicKey(), 32},
		{"hop count", 210, []byte{1}, 1},
		{"hop 0 key", 211, p.Path[0].PublicKey(), 32},
		{"hop 0 received", 243, be64(p.Hops[0].Received), 8},
		{"hop 0 handed off", 251, be64(p.Hops[0].HandedOff), 8},
		{"hop 0 sig", 259, p.Hops[0].Sig[:], 64},
		{"ack received", 323, be64(p.Ack.Received), 8},
		{"ack sig", 331, p.Ack.Sig[:], 64},
	}
	for _, c := range checks {
		if got := data[c.off : c.off+c.length]; !bytes.Equal(got, c.want) {
			t.Errorf("%s at %d: %x, want %x", c.name, c.off, got, c.want)
		}
	}
	// Partial proofs have no chain form.
	p.Ack = relay.AckRecord{}
	if _, err := p.SerializeForChain(); !errors.Is(err, relay.ErrNoAck) {
		t.Errorf("partial: %v", err)
	}
}

func be64(v int64) []byte {
	b := make([]byte, 8)
	for i := range 8 {
		b[7-i] = byte(uint64(v) >> (8 * i))
	}
	return b
}

func TestParseProofErrors(t *testing.T) {
	p := buildProof(t, proofSpec{hops: 2})
	data, _ := p.SerializeForChain()
	patch := func(i int, v byte) []byte { b := bytes.Clone(data); b[i] = v; return b }
	for name, b := range map[string][]byte{
		"empty":          nil,
		"version":        patch(0, 2),
		"type":           patch(1, relay.ChainTypeBatch),
		"hop count 0":    patch(210, 0),
		"hop count 9":    patch(210, 9),
		"hop count 3":    patch(210, 3),
		"truncated":      data[:len(data)-1],
		"trailing":       append(bytes.Clone(data), 0),
		"header only":    data[:2],
		"fixed part cut": data[:200],
	} {
		if _, err := relay.ParseProof(b); !errors.Is(err, relay.ErrEncoding) {
			t.Errorf("%s: err = %v", name, err)
		}
	}
}

func TestIDAndSigningBytesAreDomainSeparated(t *testing.T) {
	p := buildProof(t, proofSpec{hops: 1})
	id := relay.ComputeID(p.Sender, p.Nonce, p.PayloadHash)
	route := relay.RouteBytes(id, 1, p.Recipient, p.Path)
	hand := relay.HandoffBytes(id, 0, p.Path[0], p.Recipient, 1, 1)
	ack := relay.AckBytes(id, p.Recipient, 1, relay.ChainHash(p.Path, p.Hops))
	for _, pre := range []struct {
		b    []byte
		want string
	}{{route, "dchat/relay/route/v1\x00"}, {hand, "dchat/relay/handoff/v1\x00"}, {ack, "dchat/relay/ack/v1\x00"}} {
		if !bytes.HasPrefix(pre.b, []byte(pre.want)) {
			t.Errorf("%q lacks its domain", pre.b[:24])
		}
	}
	// The chain hash covers the order of the hops.
	p3 := buildProof(t, proofSpec{hops: 3})
	h := relay.ChainHash(p3.Path, p3.Hops)
	sw := slices.Clone(p3.Hops)
	sw[0], sw[1] = sw[1], sw[0]
	if relay.ChainHash(p3.Path, sw) == h {
		t.Error("chain hash ignores hop order")
	}
}

// proofGolden1Hop is the on-chain form of buildProof's 1-hop proof of
// "hello", field by field (offset, field).
const proofGolden1Hop = "0101" + // 0 version, type
	"9f3df69c53fab3100adca374b8c9069cfb985b4e60b5eb21c73c68eeeaadf871" + // 2 message ID
	"2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824" + // 34 payload hash
	"0000000000000007" + // 66 nonce
	"5c9c6df261c9cb840475776aaefcd944b405328fab28f9b3a95ef40490d3de84" + // 74 sender key
	"18867251edfa0000" + // 106 sent
	"ff68d11f99a8c1105142daf3bc8c5fb1b405cbe9ea3f82ad1c1b8a4e3257574c84d2e275825686ee74f69151d26f0e6d6b39a5a5b9cdfced0cf710575c3beb03" + // 114 route signature
	"204040e364c10f2bec9c1fe500a1cd4c247c89d650a01ed7e82caba867877c21" + // 178 recipient key
	"01" + // 210 hop count
	"d04ab232742bb4ab3a1368bd4615e4e6d0224ab71a016baf8520a332c9778737" + // 211 hop 0 key
	"18867251ee929680" + // 243 hop 0 received
	"18867251ef2b2d00" + // 251 hop 0 handed off
	"f3fa7e6b559303c133477c1a829a50bd161da50aa05465256171c73b3dbb2632f460d043879e16e1be8f1636ba164f7e487ff807f1f3e077254cc710113a0e0d" + // 259 hop 0 signature
	"18867251efc3c380" + // 323 ack received
	"71bda35b434f778dbfbc1432d3d4c50a504197aac48a7ab97b8801b393a65df3ea367c25afe83555b2dbee7f25a2b7faa61bee2d36da6b921ddd92a925b50401" //  331 ack signature
