package gossip

import (
	"fmt"
	"net/netip"
	"slices"
	"time"

	"github.com/dchat/network/core"
	"github.com/dchat/network/core/wire"
)

// maxAnnouncers bounds the peers remembered as announcing one missing ID.
const maxAnnouncers = 8

// pending is an announced ID not yet received.
type pending struct {
	announcers []netip.AddrPort
	asked      bool
	askedTo    netip.AddrPort
	askedAt    time.Time
	repair     bool // the IWANT out answers a digest reply (repair.go)
}

// pullItem is an IHAVE's missing IDs, waiting IWantDelay for a pushed copy
// before they are asked for. Every item waits the same delay, so the queue
// is in deadline order by construction.
type pullItem struct {
	at     time.Time
	from   netip.AddrPort
	ids    []ID
	repair bool // listed in a digest reply
}

func containsAddr(s []netip.AddrPort, a netip.AddrPort) bool { return slices.Contains(s, a) }

// handleIHave notes which announced IDs are missing and queues them to be
// asked for after IWantDelay, unless an IWANT for them is already out and
// not timed out. The announcer is remembered as holding each ID.
func (g *Gossip) handleIHave(now time.Time, from netip.AddrPort, body []byte) error {
	ids, err := g.decodeIHave(body)
	if err != nil {
		return err
	}
	g.noteHave(now, from, ids, false)
	return nil
}

// decodeIHave decodes an IHAVE body as wire.DecodeIHave does, with the
// same checks and errors (FuzzDecodeIHave compares them), then drops a
// list longer than MaxIHaveLength as handleIHave always has. It does not
// allocate: the count is read as wire.Reader.Count reads it, but under a
// constant label (Count builds its label per call, on the heap), and the
// IDs go to a scratch buffer reused from packet to packet, since they are
// read and forgotten within the call (noteHave copies the ones it
// queues). The buffer is filled only after the length check, so it never
// holds more than MaxIHaveLength IDs.
func (g *Gossip) decodeIHave(body []byte) ([][wire.GossipIDLen]byte, error) {
	r := wire.NewReader(body)
	n := int(r.Uvarint("ihave ids count", wire.MaxGossipIDs))
	if r.Err() != nil {
		return nil, r.Err()
	}
	if n > r.Len()/wire.GossipIDLen {
		return nil, fmt.Errorf("%w: ihave ids: count %d cannot fit in %d bytes", wire.ErrMalformed, n, r.Len())
	}
	raw := r.Fixed("ihave id", n*wire.GossipIDLen) // cannot fail: the room is checked
	if err := r.Done(); err != nil {
		return nil, err
	}
	if n > g.cfg.MaxIHaveLength {
		return nil, core.Dropped(ReasonOversized)
	}
	ids := g.haveBuf[:0]
	for i := range n {
		ids = append(ids, [wire.GossipIDLen]byte(raw[i*wire.GossipIDLen:]))
	}
	g.haveBuf = ids
	return ids, nil
}

// noteHave is an IHAVE's effect, shared with digest replies (repair): it
// notes which of ids are missing, queues them to be asked from `from`
// after IWantDelay (unless asked already) and returns how many were
// missing.
func (g *Gossip) noteHave(now time.Time, from netip.AddrPort, ids [][wire.GossipIDLen]byte, repair bool) int {
	var want []ID
	missing := 0
	for _, raw := range ids {
		id := ID(raw)
		if e := g.hist.get(id); e != nil {
			e.addHolder(from)
			continue
		}
		if g.seen.has(id, now) {
			continue
		}
		missing++
		var p *pending
		if pp, ok := g.pending.Get(id); ok {
			p = *pp
		} else {
			p = &pending{}
			g.pending.Add(id, p)
		}
		if len(p.announcers) < maxAnnouncers && !containsAddr(p.announcers, from) {
			p.announcers = append(p.announcers, from)
		}
		if p.asked && now.Before(p.askedAt.Add(g.cfg.IWantTimeout)) {
			continue
		}
		if g.queued+len(want) >= g.cfg.MaxPending {
			break // later heartbeats announce the rest again
		}
		want = append(want, id)
	}
	if len(want) == 0 {
		return missing
	}
	g.queue = append(g.queue, pullItem{at: now.Add(g.cfg.IWantDelay), from: from, ids: want, repair: repair})
	g.queued += len(want)
	if g.cfg.IWantDelay == 0 {
		g.processPull(now)
	} else if g.pullTimer == nil {
		g.pullTimer = g.node.Env().Clock.AfterFunc(g.cfg.IWantDelay, g.onPullTimer)
	}
	return missing
}

// onPullTimer fires when the oldest queued IHAVE has waited IWantDelay.
func (g *Gossip) onPullTimer() {
	g.pullTimer = nil
	if !g.running {
		return
	}
	now := g.node.Env().Clock.Now()
	g.processPull(now)
	if g.qhead < len(g.queue) {
		g.pullTimer = g.node.Env().Clock.AfterFunc(g.queue[g.qhead].at.Sub(now), g.onPullTimer)
	}
}

// processPull sends IWANTs for the due queue items whose IDs are still
// missing and not already asked for, each to the peer that announced them.
func (g *Gossip) processPull(now time.Time) {
	for g.qhead < len(g.queue) && !g.queue[g.qhead].at.After(now) {
		it := g.queue[g.qhead]
		g.queue[g.qhead] = pullItem{}
		g.qhead++
		g.queued -= len(it.ids)
		ask := it.ids[:0]
		for _, id := range it.ids {
			if g.seen.has(id, now) {
				continue
			}
			p, ok := g.pending.Peek(id)
			if !ok {
				p = &pending{announcers: []netip.AddrPort{it.from}}
				g.pending.Add(id, p)
			}
			if p.asked && now.Before(p.askedAt.Add(g.cfg.IWantTimeout)) {
				continue
			}
			p.asked, p.askedTo, p.askedAt, p.repair = true, it.from, now, it.repair
			ask = append(ask, id)
		}
		for len(ask) > 0 {
			n := min(len(ask), g.cfg.MaxIWantLength)
			ids := g.wantBuf[:0]
			for _, id := range ask[:n] {
				ids = append(ids, id)
			}
			g.wantBuf = ids
			g.node.Send(it.from, wire.IWant{IDs: ids}.AppendPacket(make([]byte, 0, idsPacketLen(n))))
			g.stats.IWantSent++
			ask = ask[n:]
		}
	}
	if g.qhead == len(g.queue) {
		g.queue, g.qhead = g.queue[:0], 0
	} else if g.qhead > 64 && g.qhead*2 > len(g.queue) {
		n := copy(g.queue, g.queue[g.qhead:])
		clear(g.queue[n:])
		g.queue, g.qhead = g.queue[:n], 0
	}
}

// handleIWant answers with the requested messages still held, within the
// requester's serving rate. An IWANT for nothing held is dropped as
// unsolicited.
func (g *Gossip) handleIWant(now time.Time, from netip.AddrPort, body []byte) error {
	m, err := wire.DecodeIWant(body)
	if err != nil {
		return err
	}
	if len(m.IDs) > g.cfg.MaxIWantLength {
		return core.Dropped(ReasonOversized)
	}
	served, limited := 0, false
	for _, raw := range m.IDs {
		e := g.hist.get(ID(raw))
		if e == nil || !e.live() || !g.relays(e) {
			continue
		}
		if !g.flood.allowServe(now, from) {
			limited = true
			break
		}
		g.node.Send(from, e.packet())
		served++
	}
	g.stats.Served += uint64(served)
	switch {
	case served > 0:
		return nil
	case limited:
		return core.Dropped(ReasonRateLimited)
	}
	return core.Dropped(ReasonUnsolicited)
}
