package gossip_test

import (
	"bytes"
	"testing"
	"time"

	"github.com/dchat/network/core/gossip"
)

// TestSharedBodies: nodes sharing a payload store deliver the same bytes as
// nodes with their own copies, hold one copy per message while it is in
// their history, and let it go when every history has dropped it.
func TestSharedBodies(t *testing.T) {
	cfg := gossip.DefaultConfig()
	c := newCluster(t, 40, 6, 20*time.Millisecond, cfg, sharedCache(t))
	store := gossip.NewBodies()
	got := map[gossip.ID][][]byte{}
	for _, g := range c.gs {
		g.ShareBodies(store)
		g.OnDeliver(func(_ time.Time, m gossip.Message) { got[m.ID] = append(got[m.ID], m.Payload) })
	}
	c.publishRandom(t, 10, 100*time.Millisecond, 3)
	c.net.Run(c.net.Now().Add(2 * time.Second))
	if r := c.report(); r.missing() != 0 {
		t.Fatalf("messages missing with shared bodies:\n%v", r)
	}
	if store.Len() != 10 {
		t.Fatalf("store holds %d payloads, want one per message (10)", store.Len())
	}
	for id, ps := range got {
		if len(ps) != 40 {
			t.Fatalf("message %v delivered %d times, want 40", id, len(ps))
		}
		for _, p := range ps[1:] {
			if !bytes.Equal(p, ps[0]) || &p[0] != &ps[0][0] {
				t.Fatalf("message %v: nodes hold different copies", id)
			}
		}
	}
	// After the history's retention (the repair window: messages are
	// kept that long to serve repair) every node has dropped every message.
	c.net.Run(c.net.Now().Add(max(cfg.HistoryWindow, cfg.Repair.Window) + 2*cfg.HeartbeatInterval))
	if store.Len() != 0 {
		t.Fatalf("store still holds %d payloads after every history dropped them", store.Len())
	}
}
