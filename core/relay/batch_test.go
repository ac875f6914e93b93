package relay_test

import (
	"bytes"
	"encoding/hex"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/dchat/network/core/coretest"
	"github.com/dchat/network/core/relay"
)

func proofsFor(t testing.TB, n int) []*relay.Proof {
	t.Helper()
	var out []*relay.Proof
	for i := range n {
		out = append(out, buildProof(t, proofSpec{
			hops: 1 + i%3, payload: []byte(fmt.Sprintf("proof %d", i)),
			sent: coretest.Epoch.Add(time.Duration(i) * time.Second).UnixNano(),
		}))
	}
	return out
}

func TestBatchSealVerifyInclusion(t *testing.T) {
	batcher := ident(t, 0x42)
	proofs := proofsFor(t, 7)
	b, err := relay.NewBatch(batcher, 3, proofs)
	if err != nil {
		t.Fatal(err)
	}
	if err := b.Verify(); err != nil {
		t.Fatal(err)
	}
	if b.Count != 7 || b.Seq != 3 || b.Relay != batcher.ID() || b.First != proofs[0].Ack.Received || b.Last != proofs[6].Ack.Received {
		t.Fatalf("batch %+v", b)
	}
	// Every proof's inclusion verifies from the chain forms alone: the
	// batch header, the serialized proof and the serialized inclusion.
	header, err := relay.ParseBatch(b.SerializeForChain())
	if err != nil || header.Verify() != nil {
		t.Fatalf("header: %v", err)
	}
	for i, p := range proofs {
		in, err := b.Inclusion(i)
		if err != nil {
			t.Fatal(err)
		}
		in2, err := relay.ParseInclusion(in.SerializeForChain())
		if err != nil {
			t.Fatal(err)
		}
		leaf, _ := p.SerializeForChain()
		if err := in2.Verify(header.Root, leaf); err != nil || in2.Size != uint64(header.Count) {
			t.Fatalf("proof %d: %v", i, err)
		}
		other, _ := proofs[(i+1)%7].SerializeForChain()
		if err := in2.Verify(header.Root, other); !errors.Is(err, relay.ErrInclusion) {
			t.Fatalf("proof %d: another proof verifies at its index", i)
		}
	}
	// Any change to the header breaks the signature or the encoding.
	data := b.SerializeForChain()
	for i := range data {
		m := bytes.Clone(data)
		m[i] ^= 0x01
		if h, err := relay.ParseBatch(m); err == nil && h.Verify() == nil {
			t.Fatalf("header byte %d changed and still verifies", i)
		}
	}
	// Contents that do not match the header are caught.
	b.Proofs[2], b.Proofs[3] = b.Proofs[3], b.Proofs[2]
	if err := b.Verify(); !errors.Is(err, relay.ErrBatchContents) {
		t.Fatalf("reordered proofs: %v", err)
	}
	if _, err := relay.NewBatch(batcher, 1, nil); err == nil {
		t.Fatal("empty batch")
	}
}

func TestBatchChainGolden(t *testing.T) {
	b, err := relay.NewBatch(ident(t, 0x42), 1, proofsFor(t, 2))
	if err != nil {
		t.Fatal(err)
	}
	data := b.SerializeForChain()
	if relay.BatchChainLen != 158 || len(data) != relay.BatchChainLen {
		t.Fatalf("length %d", len(data))
	}
	if got := hex.EncodeToString(data); got != batchGolden {
		t.Errorf("serialized batch:\n got %s\nwant %s", got, batchGolden)
	}
	if !bytes.Equal(data[2:34], b.Relay.PublicKey()) || !bytes.Equal(data[42:74], b.Root[:]) || data[77] != 2 {
		t.Error("batch field offsets")
	}
	in, _ := b.Inclusion(1)
	if got := hex.EncodeToString(in.SerializeForChain()); got != inclusionGolden {
		t.Errorf("serialized inclusion:\n got %s\nwant %s", got, inclusionGolden)
	}
}

// A batch seals at BatchSize proofs, and at BatchInterval after its first
// proof; senders and relays each batch the proofs they hold.
func TestBatchingTriggers(t *testing.T) {
	cfg := relay.DefaultConfig()
	c := newCluster(t, 3, delay, relays(cfg))
	for k := range 100 {
		c.send(t, 0, 2, []int{1}, []byte(fmt.Sprintf("m%d", k)))
		c.run(100 * time.Millisecond)
	}
	c.run(time.Second)
	for _, i := range []int{0, 1} {
		bs := c.batches[i]
		if len(bs) != 1 || bs[0].Count != 100 || bs[0].Seq != 1 || bs[0].Relay != c.id(i) {
			t.Fatalf("node %d batches %+v", i, bs)
		}
		if err := bs[0].Verify(); err != nil {
			t.Fatal(err)
		}
		for k, p := range bs[0].Proofs {
			in, _ := bs[0].Inclusion(k)
			leaf, _ := p.SerializeForChain()
			if err := in.Verify(bs[0].Root, leaf); err != nil {
				t.Fatalf("node %d proof %d: %v", i, k, err)
			}
		}
		ev := eventsAt[relay.BatchSealed](c, i)
		if len(ev) != 1 || ev[0].Count != 100 || ev[0].Root != bs[0].Root {
			t.Fatalf("node %d events %+v", i, ev)
		}
	}
	if len(c.batches[2]) != 0 {
		t.Error("the recipient batches")
	}

	// Five more proofs wait for the hour.
	start := c.net.Now()
	for k := range 5 {
		c.send(t, 0, 2, []int{1}, []byte(fmt.Sprintf("late %d", k)))
		c.run(time.Minute)
	}
	firstAck := start.Add(3 * delay) // the first proof's direct ack
	c.run(firstAck.Add(time.Hour).Sub(c.net.Now()) - time.Nanosecond)
	if len(c.batches[0]) != 1 {
		t.Fatalf("sealed before the hour: %d", len(c.batches[0]))
	}
	c.run(time.Nanosecond)
	bs := c.batches[0]
	if len(bs) != 2 || bs[1].Count != 5 || bs[1].Seq != 2 {
		t.Fatalf("batches %+v", bs)
	}
	ev := eventsAt[relay.BatchSealed](c, 0)
	var at time.Time
	for _, o := range c.net.Events {
		if e, ok := o.Ev.(relay.BatchSealed); ok && o.Node == addr(0) && e.Seq == 2 {
			at = o.Time
		}
	}
	if len(ev) != 2 || !at.Equal(firstAck.Add(time.Hour)) {
		t.Fatalf("hour batch at %v, want %v", at, firstAck.Add(time.Hour))
	}
	if s := c.rs[0].Stats(); s.Batches != 2 || s.BatchedProofs != 105 {
		t.Fatalf("stats %+v", s)
	}
	// Flush seals at once.
	c.send(t, 0, 2, []int{1}, []byte("flush"))
	c.run(time.Second)
	c.rs[0].Flush(c.net.Now())
	if len(c.batches[0]) != 3 || c.batches[0][2].Count != 1 {
		t.Fatalf("flush: %d batches", len(c.batches[0]))
	}
}

// batchGolden is the on-chain header of NewBatch(0x42, seq 1) over
// proofsFor(2), field by field (offset, field).
const batchGolden = "0102" + // 0 version, type
	"2152f8d19b791d24453242e15f2eab6cb7cffa7b6a5ed30097960e069881db12" + // 2 batching node key
	"0000000000000001" + // 34 sequence
	"29ddb197b34b421ac0c6c25ede9fc52b43a93407b6794d30821840d205a5854c" + // 42 Merkle root
	"00000002" + // 74 proof count
	"18867251efc3c380" + // 78 first ack time
	"188672522c8fba80" + // 86 last ack time
	"f069462d3ce2ba4f48518caf2be2184f86d214bfd8304db2f4d3f04362a5f789abb0a6150688c7bbe4f3e7386c556983ad86622d7a27b46b22ded95c4f0b0706" // 94 signature

// inclusionGolden is the on-chain inclusion proof of leaf 1 of that batch.
const inclusionGolden = "0103" + // 0 version, type
	"0000000000000001" + // 2 index
	"0000000000000002" + // 10 tree size
	"01" + // 18 hash count
	"6ccfce757de072e517c1bd4558f4d2de5f6ec46bc0c945f759e117b23676ed4d" // 19 hash 0
