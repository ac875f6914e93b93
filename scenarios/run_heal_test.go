package scenarios

import (
	"testing"

	"github.com/dchat/network/reports"
)

// checkPartitionHeal checks issue 8's target on partition-heal: two halves
// split for 60 s and heal; every message published during the split
// reaches every live node within 10 s after the heal (anti-entropy
// repair carries them across), and so does everything else.
func checkPartitionHeal(t *testing.T, s *reports.Summary) {
	t.Helper()
	g := s.Gossip
	if g == nil || g.Heal == nil {
		t.Fatalf("no gossip heal section: %+v", g)
	}
	h := g.Heal
	if h.Partitions != 1 || h.Messages < 100 {
		t.Fatalf("heal section %+v: want 1 partition and over 100 messages published during it", h)
	}
	if h.ReachedAll != h.Messages || h.Within10s != h.Messages {
		t.Errorf("of %d messages published during the partition, %d reached every live node, %d within 10 s of the heal (p95 %.0f ms, max %.0f ms)",
			h.Messages, h.ReachedAll, h.Within10s, h.AfterHealMs.P95, h.AfterHealMs.Max)
	}
	if g.DeliveryRatio != 1 || g.RepairDeliveries == 0 {
		t.Errorf("delivery ratio %v, repair deliveries %d", g.DeliveryRatio, g.RepairDeliveries)
	}
}
