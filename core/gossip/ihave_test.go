package gossip

import (
	"errors"
	"slices"
	"testing"

	"github.com/dchat/network/core"
	"github.com/dchat/network/core/wire"
)

// FuzzDecodeIHave checks that decodeIHave, the receive path's
// allocation-free IHAVE decoder, accepts and rejects exactly what
// wire.DecodeIHave does, with the same error text, and drops lists longer
// than MaxIHaveLength as oversized. The seeds cover every error.
func FuzzDecodeIHave(f *testing.F) {
	ids := [][wire.GossipIDLen]byte{idOf(1), idOf(2), idOf(3)}
	body := func(n int) []byte { return wire.IHave{IDs: ids[:n]}.AppendPacket(nil)[wire.HeaderLen:] }
	f.Add(body(0))
	f.Add(body(1))
	f.Add(body(3))                         // over the MaxIHaveLength of 2 below
	f.Add([]byte{})                        // no count
	f.Add([]byte{0x80})                    // truncated varint
	f.Add([]byte{0x80, 0x00})              // non-minimal varint
	f.Add([]byte{0xd1, 0x0f})              // 2001 IDs: over MaxGossipIDs
	f.Add(append([]byte{2}, ids[0][:]...)) // 2 IDs announced, 1 present
	f.Add(append(body(1), 0))              // a trailing byte
	f.Add(body(2)[:40])                    // an ID cut short
	g := &Gossip{cfg: DefaultConfig()}
	g.cfg.MaxIHaveLength = 2
	f.Fuzz(func(t *testing.T, b []byte) {
		got, err := g.decodeIHave(b)
		want, wantErr := wire.DecodeIHave(b)
		switch {
		case wantErr != nil:
			if err == nil || err.Error() != wantErr.Error() || !errors.Is(err, wire.ErrMalformed) {
				t.Fatalf("%x: error %v, want %v", b, err, wantErr)
			}
		case len(want.IDs) > g.cfg.MaxIHaveLength:
			if core.Reason(err) != ReasonOversized {
				t.Fatalf("%x: %d IDs: error %v, want oversized", b, len(want.IDs), err)
			}
		case err != nil || !slices.Equal(got, want.IDs):
			t.Fatalf("%x: got %x, %v; want %x", b, got, err, want.IDs)
		}
		if cap(g.haveBuf) > 2*g.cfg.MaxIHaveLength+8 {
			t.Fatalf("scratch grew to %d IDs", cap(g.haveBuf))
		}
	})
}
