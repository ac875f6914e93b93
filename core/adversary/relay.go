package adversary

import (
	"net/netip"
	"time"

	"github.com/dchat/network/core"
	"github.com/dchat/network/core/relay"
	"github.com/dchat/network/core/wire"
)

// RelayAttacker plays relay-cheat over a node's real relay component: it
// is the component's relay.Cheat. Of the messages it is asked to relay it
// drops one, claims delivery of the next (an acknowledgement it signs
// itself, since it cannot sign for the recipient) and hands the third off
// with a forged hand-off signature, in turn.
type RelayAttacker struct {
	node  *core.Node
	n     uint64
	stats Stats
}

// NewRelay makes node's relay component r cheat.
func NewRelay(node *core.Node, r *relay.Relay) *RelayAttacker {
	a := &RelayAttacker{node: node}
	r.SetCheat(a)
	return a
}

// Stats returns the attacker's counters.
func (a *RelayAttacker) Stats() Stats { return a.stats }

// Forward implements relay.Cheat.
func (a *RelayAttacker) Forward(now time.Time, _ netip.AddrPort, m *wire.RelayData) bool {
	a.n++
	switch a.n % 3 {
	case 1:
		a.stats.Dropped++
	case 2:
		a.stats.Claimed++
		ack := wire.RelayAck{ID: m.ID, Received: now.UnixNano(), Records: m.Records}
		copy(ack.Sig[:], a.node.Identity().Sign(m.ID[:]))
		a.node.Send(m.SenderAddr, ack.AppendPacket(nil))
	default:
		k := len(m.Records)
		t := max(now.UnixNano(), m.Sent)
		if k > 0 {
			t = max(t, m.Records[k-1].HandedOff)
		}
		if err := relay.AppendHandoff(a.node.Identity(), m, t, t); err != nil {
			return false
		}
		m.Records[k].Sig[0] ^= 0x80
		a.stats.ForgedHops++
		next := m.Recipient
		if k+1 < len(m.Path) {
			next = m.Path[k+1]
		}
		a.node.Send(next.Addr, m.AppendPacket(nil))
		rc := wire.RelayReceipt{ID: m.ID, Hop: uint8(k), Record: m.Records[k]}
		a.node.Send(m.SenderAddr, rc.AppendPacket(nil))
	}
	return false
}
