package gossip

import (
	"cmp"
	"encoding/binary"
	"fmt"
	"net/netip"
	"slices"
	"time"

	"github.com/hashicorp/golang-lru/v2/simplelru"
	"golang.org/x/time/rate"

	"github.com/dchat/network/core"
	"github.com/dchat/network/core/wire"
)

// RepairConfig tunes anti-entropy repair (see the package documentation,
// "Anti-entropy repair").
type RepairConfig struct {
	// Check is how often the node looks for new peers (each gets a digest
	// at once) and sends due follow-ups. 0 disables repair.
	Check time.Duration
	// Interval is the period of digests to one random peer; 0 sends
	// digests only to new peers and as follow-ups.
	Interval time.Duration
	// Window is how far back, by message timestamp, digests reach; the
	// history keeps messages at least this long to serve them. At most
	// CacheTTL: older messages are dropped as expired anyway.
	Window time.Duration
	// Settle is the newest stretch left out of digests: messages still
	// spreading by push, which heartbeat IHAVEs cover.
	Settle time.Duration
	// Bucket is the width of a digest bucket of message timestamps.
	Bucket time.Duration
	// MaxBuckets bounds a digest's span, sent (the newest MaxBuckets
	// buckets of Window) and accepted.
	MaxBuckets int
	// MaxReplyIDs bounds the IDs of a digest reply, sent or accepted.
	MaxReplyIDs int
	// FollowUp is the delay before another digest to a peer whose reply
	// listed IDs we lacked or had more: by then the IWANTs were answered.
	FollowUp time.Duration
	// MaxRounds bounds the follow-ups of one exchange.
	MaxRounds int
	// MinInterval is the least time between two digests to one peer.
	MinInterval time.Duration
	// ReplyTimeout is how long a reply to our digest is accepted.
	ReplyTimeout time.Duration
	// PeerRate and PeerBurst limit the digests a peer may send us.
	PeerRate  float64
	PeerBurst int
}

// DefaultRepairConfig returns the repair defaults: a check every second,
// a digest to one random peer every 10 s over 5 minutes (the message cache
// TTL) of 1 s buckets, the newest 3 s left out, replies of at most 32 IDs.
func DefaultRepairConfig() RepairConfig {
	return RepairConfig{
		Check:        time.Second,
		Interval:     10 * time.Second,
		Window:       5 * time.Minute,
		Settle:       3 * time.Second,
		Bucket:       time.Second,
		MaxBuckets:   512,
		MaxReplyIDs:  32,
		FollowUp:     time.Second,
		MaxRounds:    30,
		MinInterval:  500 * time.Millisecond,
		ReplyTimeout: 5 * time.Second,
		PeerRate:     2,
		PeerBurst:    4,
	}
}

func (c RepairConfig) validate(cacheTTL time.Duration) error {
	if c.Check == 0 {
		return nil // repair off: nothing else is read
	}
	if err := core.CheckBounds("gossip: Repair", []core.IntBound{
		{Name: "MaxBuckets", V: c.MaxBuckets, Min: 1},
		{Name: "MaxReplyIDs", V: c.MaxReplyIDs, Min: 1},
		{Name: "MaxRounds", V: c.MaxRounds, Min: 0},
		{Name: "PeerBurst", V: c.PeerBurst, Min: 1},
	}, []core.DurationBound{
		{Name: "Check", V: c.Check, Positive: true},
		{Name: "Interval", V: c.Interval, Positive: false},
		{Name: "Window", V: c.Window, Positive: true},
		{Name: "Settle", V: c.Settle, Positive: false},
		{Name: "Bucket", V: c.Bucket, Positive: true},
		{Name: "FollowUp", V: c.FollowUp, Positive: true},
		{Name: "MinInterval", V: c.MinInterval, Positive: false},
		{Name: "ReplyTimeout", V: c.ReplyTimeout, Positive: true},
	}); err != nil {
		return err
	}
	bad := func(field, format string, args ...any) error {
		return fmt.Errorf("%w: gossip: Repair.%s: "+format, append([]any{core.ErrConfig, field}, args...)...)
	}
	switch {
	case c.Window > cacheTTL:
		return bad("Window", "must not exceed CacheTTL (%v), got %v", cacheTTL, c.Window)
	case c.Bucket < time.Millisecond || c.Bucket > wire.MaxDigestWidth:
		return bad("Bucket", "must be 1ms to 1h, got %v", c.Bucket)
	case c.MaxBuckets > wire.MaxDigestBuckets:
		return bad("MaxBuckets", "at most %d, got %d", wire.MaxDigestBuckets, c.MaxBuckets)
	case c.MaxReplyIDs > wire.MaxGossipIDs:
		return bad("MaxReplyIDs", "at most %d, got %d", wire.MaxGossipIDs, c.MaxReplyIDs)
	case !(c.PeerRate > 0) || c.PeerRate > 1e6:
		return bad("PeerRate", "must be positive and finite, got %g", c.PeerRate)
	}
	return nil
}

// on reports whether repair runs.
func (c RepairConfig) on() bool { return c.Check > 0 }

// RepairStats counts anti-entropy work.
type RepairStats struct {
	DigestsSent    uint64 // digests sent (fresh, periodic, follow-up, counter)
	DigestBytes    uint64 // their bytes, padding included
	RepliesSent    uint64 // digest replies sent
	ReplyIDs       uint64 // IDs listed in them
	DigestsMatched uint64 // digests received that matched ours everywhere
	Repaired       uint64 // messages delivered in answer to a repair IWANT
}

// maxKnownPeers bounds the peer list remembered between checks.
const maxKnownPeers = 1024

// maxFollowUps bounds the follow-ups waiting.
const maxFollowUps = 256

// replyOverhead is what a reply's body takes besides its IDs, at most
// (more and count uvarints).
const replyOverhead = 8

// repairState is a component's anti-entropy state: the peers seen at the
// last check (sorted), per-peer exchange state (an LRU), the follow-ups
// due (in due order by construction) and scratch space.
//
// Concurrency: not safe for concurrent use.
type repairState struct {
	raw    []netip.AddrPort // the peer list at the last check, as given
	known  []netip.AddrPort // the same, sorted and without duplicates
	cur    []netip.AddrPort
	peers  *simplelru.LRU[netip.AddrPort, *repairPeer]
	follow []followUp
	next   time.Time // next periodic digest
	late   bool      // a message older than Settle arrived since the last check
	lateAt time.Time // the last digest sent for late arrivals
	timer  core.Timer
	items  []*entry // scratch: entries of a range, sorted
	ids    [][wire.GossipIDLen]byte
	bks    []wire.DigestBucket
}

// repairPeer is the exchange state with one peer.
type repairPeer struct {
	in       *rate.Limiter // digests it may send us
	sentAt   time.Time     // our last digest to it (zero: none)
	awaiting bool          // a reply to it is expected
	rounds   int           // follow-ups in the current exchange
}

type followUp struct {
	at  time.Time
	to  netip.AddrPort
	ids int // reply IDs to make room for
}

func newRepairState(cfg Config) (*repairState, error) {
	peers, err := simplelru.NewLRU[netip.AddrPort, *repairPeer](cfg.MaxTrackedPeers, nil)
	if err != nil {
		return nil, err
	}
	return &repairState{peers: peers}, nil
}

func (g *Gossip) repairPeer(a netip.AddrPort) *repairPeer {
	r := &g.rep
	if p, ok := r.peers.Get(a); ok {
		return p
	}
	c := &g.cfg.Repair
	p := &repairPeer{in: rate.NewLimiter(rate.Limit(c.PeerRate), c.PeerBurst)}
	r.peers.Add(a, p)
	return p
}

// startRepair arms the check timer at a random offset within the first
// period, and the first periodic digest within the first Interval.
func (g *Gossip) startRepair(now time.Time) {
	c := &g.cfg.Repair
	if !c.on() {
		return
	}
	r := &g.rep
	d := time.Duration(g.sel.rand.Int64N(int64(c.Check))) + 1
	r.timer = g.node.Env().Clock.AfterFunc(d, g.onRepairTimer)
	if c.Interval > 0 {
		r.next = now.Add(time.Duration(g.sel.rand.Int64N(int64(c.Interval))) + 1)
	}
}

// stopRepair cancels the timer and forgets the peers seen, so that after a
// restart every peer counts as new and gets a digest.
func (g *Gossip) stopRepair() {
	r := &g.rep
	if r.timer != nil {
		r.timer.Stop()
		r.timer = nil
	}
	r.known, r.raw = r.known[:0], r.raw[:0]
	clear(r.follow)
	r.follow = r.follow[:0]
}

// onRepairTimer is the periodic check: a digest to every peer that
// appeared since the last check (a new session, a healed partition), the
// follow-ups due, and every Interval one digest to a random peer.
func (g *Gossip) onRepairTimer() {
	r := &g.rep
	r.timer = nil
	if !g.running {
		return
	}
	env := g.node.Env()
	now := env.Clock.Now()
	c := &g.cfg.Repair
	r.timer = env.Clock.AfterFunc(c.Check, g.onRepairTimer)
	g.hist.prune(now)

	if peers := g.peers.GossipPeers(); !r.same(peers) {
		// The list changed (or came in another order): sort it and look
		// for addresses not known at the last check.
		r.raw = r.raw[:0]
		cur := r.cur[:0]
		for _, p := range peers {
			if len(r.raw) < maxKnownPeers {
				r.raw = append(r.raw, p.Addr)
			}
			if p.Addr.IsValid() && p.Addr != g.self {
				cur = append(cur, p.Addr)
			}
		}
		slices.SortFunc(cur, netip.AddrPort.Compare)
		cur = slices.Compact(cur)
		if len(cur) > maxKnownPeers {
			cur = cur[:maxKnownPeers]
		}
		for _, a := range cur {
			if _, found := slices.BinarySearchFunc(r.known, a, netip.AddrPort.Compare); !found {
				g.sendDigest(now, a, 0, 0, true)
			}
		}
		r.known, r.cur = cur, r.known
	}

	n := 0
	for n < len(r.follow) && !r.follow[n].at.After(now) {
		f := r.follow[n]
		n++
		if _, found := slices.BinarySearchFunc(r.known, f.to, netip.AddrPort.Compare); found {
			g.sendDigest(now, f.to, f.ids, 0, false)
		}
	}
	if n > 0 {
		k := copy(r.follow, r.follow[n:])
		clear(r.follow[k:])
		r.follow = r.follow[:k]
	}

	if r.late && len(r.known) > 0 && !now.Before(r.lateAt.Add(c.FollowUp)) {
		// Old messages are arriving (a partition healed, a peer came back):
		// others may be missing too, so compare with a random peer now
		// rather than at the next periodic digest.
		r.late, r.lateAt = false, now
		g.sendDigest(now, r.known[g.sel.rand.IntN(len(r.known))], 0, 0, true)
	}
	if c.Interval > 0 && !now.Before(r.next) {
		r.next = now.Add(c.Interval)
		if len(r.known) > 0 {
			g.sendDigest(now, r.known[g.sel.rand.IntN(len(r.known))], 0, 0, true)
		}
	}
}

// noteLate flags the acceptance of a message older than Settle: evidence
// of a gap that push and IHAVE did not fill, so the next check sends a
// digest to a random peer.
func (g *Gossip) noteLate(now time.Time, unixNano int64) {
	if c := &g.cfg.Repair; c.on() && now.UnixNano()-unixNano > int64(c.Settle) {
		g.rep.late = true
	}
}

// digestRange returns the range of message timestamps a digest sent now
// covers: the newest MaxBuckets buckets of Window that end Settle ago,
// aligned to the bucket width so that every node bins alike.
func (g *Gossip) digestRange(now time.Time) (start int64, span int) {
	c := &g.cfg.Repair
	w := int64(c.Bucket)
	hi := now.Add(-c.Settle).UnixNano()
	hi -= mod(hi, w)
	span = min(c.MaxBuckets, int(c.Window/c.Bucket))
	return hi - int64(span)*w, span
}

// mod is the non-negative remainder of a / b (b > 0).
func mod(a, b int64) int64 {
	m := a % b
	if m < 0 {
		m += b
	}
	return m
}

// collect fills r.items with the held messages whose timestamps lie in
// [lo, hi), ordered by timestamp then ID.
func (g *Gossip) collect(lo, hi int64) []*entry {
	r := &g.rep
	items := r.items[:0]
	g.hist.newest(func(e *entry) bool {
		if t := e.msg.time; t >= lo && t < hi {
			items = append(items, e)
		}
		return true
	})
	slices.SortFunc(items, func(a, b *entry) int {
		if c := cmp.Compare(a.msg.time, b.msg.time); c != 0 {
			return c
		}
		return slices.Compare(a.msg.id[:], b.msg.id[:])
	})
	r.items = items
	return items
}

// dropItems empties r.items, keeping its storage but no entry: a hot
// entry kept there past its turn to cold would keep its whole object
// (holders and all) alive, and an evicted one its record.
func (r *repairState) dropItems() {
	clear(r.items)
	r.items = r.items[:0]
}

// fingerprint is the bucket fingerprint of one ID: its first 8 bytes.
func fingerprint(id ID) uint64 { return binary.BigEndian.Uint64(id[:8]) }

// sendDigest sends to a peer the digest of what the node holds, padded to
// let the reply list room IDs. A fresh digest starts a new exchange (its
// follow-up count reset) and goes only if the last digest to the peer is
// MinInterval old; a follow-up answers a reply, so it always goes.
func (g *Gossip) sendDigest(now time.Time, to netip.AddrPort, room int, flags uint8, fresh bool) {
	c := &g.cfg.Repair
	p := g.repairPeer(to)
	if fresh {
		if !p.sentAt.IsZero() && now.Before(p.sentAt.Add(c.MinInterval)) {
			return
		}
		p.rounds = 0
	}
	r := &g.rep
	start, span := g.digestRange(now)
	w := int64(c.Bucket)
	bks := r.bks[:0]
	for _, e := range g.collect(start, start+int64(span)*w) {
		idx := uint32((e.msg.time - start) / w)
		if n := len(bks); n > 0 && bks[n-1].Index == idx {
			bks[n-1].Count++
			bks[n-1].Fingerprint ^= fingerprint(e.msg.id)
			continue
		}
		bks = append(bks, wire.DigestBucket{Index: idx, Count: 1, Fingerprint: fingerprint(e.msg.id)})
	}
	r.dropItems()
	r.bks = bks
	d := wire.Digest{Flags: flags, Start: start, Width: uint64(w), Span: uint32(span), Buckets: bks}
	if room > 0 {
		room = min(room, c.MaxReplyIDs)
		d.Pad = max(0, replyOverhead+room*wire.GossipIDLen-d.BodyLen())
	}
	pkt := d.AppendPacket(make([]byte, 0, wire.HeaderLen+d.BodyLen()+2))
	g.node.Send(to, pkt)
	p.sentAt, p.awaiting = now, true
	g.stats.Repair.DigestsSent++
	g.stats.Repair.DigestBytes += uint64(len(pkt))
}

// isPeer reports whether a is one of the peers gossip runs with now.
func (g *Gossip) isPeer(a netip.AddrPort) bool {
	peers := g.peers.GossipPeers()
	for i := range peers {
		if peers[i].Addr == a {
			return true
		}
	}
	return false
}

// handleDigest compares a peer's digest with what the node holds and
// answers with the IDs it holds in the buckets that differ, oldest first,
// within the request's own size (never an amplifier). If the peer may hold
// something the node lacks, the node sends its own digest back (a counter,
// never answered by another). Digests are taken only from gossip peers and
// at the peer's digest rate.
func (g *Gossip) handleDigest(now time.Time, from netip.AddrPort, body []byte) error {
	c := &g.cfg.Repair
	if !c.on() {
		return core.Dropped(ReasonUnsolicited)
	}
	d, err := wire.DecodeDigest(body)
	if err != nil {
		return err
	}
	switch {
	case int(d.Span) > c.MaxBuckets:
		return core.Dropped(ReasonOversized)
	case d.Width < uint64(time.Millisecond):
		return core.Dropped(ReasonMalformed)
	case !g.isPeer(from):
		return core.Dropped(ReasonUnsolicited)
	case !g.repairPeer(from).in.AllowN(now, 1):
		return core.Dropped(ReasonRateLimited)
	}
	// Compare only buckets that lie inside our own window: older ones we
	// may have dropped, and a start far in the past or future (a skewed
	// or hostile clock) just compares nothing.
	w := int64(d.Width)
	hi := d.Start + int64(d.Span)*w // at most 2^12 x 2^42 past Start
	if hi < d.Start {
		return core.Dropped(ReasonMalformed) // a start at the end of time
	}
	first := int64(0)
	if oldest := now.Add(-c.Window).UnixNano(); hi <= oldest {
		first = int64(d.Span)
	} else if d.Start < oldest {
		first = (oldest - d.Start + w - 1) / w
	}
	items := g.collect(d.Start+first*w, hi)

	budget := min(c.MaxReplyIDs, max(0, (len(body)-replyOverhead)/wire.GossipIDLen))
	ids := g.rep.ids[:0]
	more := 0
	theyHaveMore := false
	k := 0 // next of their buckets
	for i := 0; i < len(items); {
		idx := uint32((items[i].msg.time - d.Start) / w)
		j, count, fp := i, uint32(0), uint64(0)
		for ; j < len(items) && uint32((items[j].msg.time-d.Start)/w) == idx; j++ {
			count++
			fp ^= fingerprint(items[j].msg.id)
		}
		for k < len(d.Buckets) && d.Buckets[k].Index < idx {
			if int64(d.Buckets[k].Index) >= first {
				theyHaveMore = true // a bucket where we hold nothing
			}
			k++
		}
		var theirs wire.DigestBucket
		if k < len(d.Buckets) && d.Buckets[k].Index == idx {
			theirs = d.Buckets[k]
			k++
		}
		if theirs.Count != count || theirs.Fingerprint != fp {
			theyHaveMore = theyHaveMore || theirs.Count > 0
			for _, e := range items[i:j] {
				if !g.relays(e) {
					continue
				}
				if len(ids) < budget {
					ids = append(ids, e.msg.id)
				} else {
					more++
				}
			}
		}
		i = j
	}
	for ; k < len(d.Buckets); k++ {
		if int64(d.Buckets[k].Index) >= first {
			theyHaveMore = true
		}
	}
	g.rep.dropItems()
	g.rep.ids = ids
	if len(ids) > 0 || more > 0 {
		m := wire.DigestReply{More: uint32(min(more, wire.MaxDigestCount)), IDs: ids}
		g.node.Send(from, m.AppendPacket(nil))
		g.stats.Repair.RepliesSent++
		g.stats.Repair.ReplyIDs += uint64(len(ids))
	} else if !theyHaveMore {
		g.stats.Repair.DigestsMatched++
	}
	if theyHaveMore && d.Flags&wire.DigestFlagCounter == 0 {
		g.sendDigest(now, from, 0, wire.DigestFlagCounter, true)
	}
	return nil
}

// handleDigestReply takes the IDs a peer listed in answer to our digest:
// those missing are asked for like an IHAVE's (after IWantDelay, one
// IWANT out per ID). If some were missing or the peer has more, another
// digest follows after FollowUp, padded to make room for them, up to
// MaxRounds per exchange. A reply nobody asked for is dropped.
func (g *Gossip) handleDigestReply(now time.Time, from netip.AddrPort, body []byte) error {
	c := &g.cfg.Repair
	m, err := wire.DecodeDigestReply(body)
	if err != nil {
		return err
	}
	p, ok := g.rep.peers.Peek(from)
	switch {
	case !c.on() || !ok || !p.awaiting || now.After(p.sentAt.Add(c.ReplyTimeout)):
		return core.Dropped(ReasonUnsolicited)
	case len(m.IDs) > c.MaxReplyIDs:
		return core.Dropped(ReasonOversized)
	}
	p.awaiting = false
	missing := g.noteHave(now, from, m.IDs, true)
	if (missing == 0 && m.More == 0) || p.rounds >= c.MaxRounds {
		return nil
	}
	p.rounds++
	if len(m.IDs) == 0 {
		// Our digest left no room for a single ID: ask again at once,
		// padded.
		g.sendDigest(now, from, int(m.More), 0, false)
	} else if len(g.rep.follow) < maxFollowUps {
		g.rep.follow = append(g.rep.follow, followUp{at: now.Add(c.FollowUp), to: from, ids: int(m.More)})
	}
	return nil
}

// retention is how long the history must keep messages for repair: Window,
// or nothing beyond HistoryWindow when repair is off.
func (c RepairConfig) retention() time.Duration {
	if !c.on() {
		return 0
	}
	return c.Window
}

// same reports whether peers lists the addresses of the last check, in the
// same order: the usual case, checked without sorting.
func (r *repairState) same(peers []Peer) bool {
	if len(peers) != len(r.raw) || len(peers) > maxKnownPeers {
		return false
	}
	for i := range peers {
		if peers[i].Addr != r.raw[i] {
			return false
		}
	}
	return true
}
