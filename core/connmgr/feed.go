package connmgr

import (
	"fmt"
	"time"

	"github.com/dchat/network/core"
)

// CandidateSource supplies peers for a Manager to dial: a discovery
// mechanism (the DHT's routing table), a configured peer list, or both.
//
// CandidateVersion changes whenever the candidates may have changed; a
// constant version means a fixed list. Candidates appends the peers, in
// preference order, to dst and returns it; it is only called when the
// manager wants peers, so it may be costly.
type CandidateSource interface {
	CandidateVersion() uint64
	Candidates(dst []PeerAddr) []PeerAddr
}

// FeedConfig tunes a Feed.
type FeedConfig struct {
	// Interval is the period of the check while the manager holds fewer
	// than Target sessions.
	Interval time.Duration
	// Idle is the period of the check while it holds Target or more.
	Idle time.Duration
	// Refresh is how long the same candidate list (an unchanged version)
	// waits before it is offered again, e.g. to redial peers whose dial
	// failed once they are out of their cooldown.
	Refresh time.Duration
}

// DefaultFeedConfig checks every 2 s while below target (every 30 s
// otherwise) and offers an unchanged list again after 30 s.
func DefaultFeedConfig() FeedConfig {
	return FeedConfig{Interval: 2 * time.Second, Idle: 30 * time.Second, Refresh: 30 * time.Second}
}

// Validate reports the first out-of-range field.
func (c FeedConfig) Validate() error {
	return core.CheckBounds("connmgr: feed", nil, []core.DurationBound{
		{Name: "Interval", V: c.Interval, Positive: true},
		{Name: "Idle", V: c.Idle, Positive: true},
		{Name: "Refresh", V: c.Refresh},
	})
}

// Feed keeps a Manager supplied with candidates from a CandidateSource: on
// Start and then periodically (every Interval while the manager is below
// Target, every Idle otherwise, and within Interval of a session ending
// below Target), when the manager holds fewer than Target sessions
// (connected and dialling) and its candidate queue is empty, it
// offers the source's peers with AddCandidates, provided the source
// changed since the last offer or Refresh has passed. The manager then
// dials them up to Target, skipping connected and cooling-down peers.
//
// A Feed is a core.Component of the manager's node, attached after the
// manager so that it starts after it (and stops before it).
//
// Concurrency: not safe for concurrent use; it runs on its node's driver.
type Feed struct {
	m       *Manager
	env     core.Env
	src     CandidateSource
	cfg     FeedConfig
	timer   core.Timer
	due     time.Time // when timer fires
	running bool
	offered bool // an offer was made since Start
	version uint64
	last    time.Time
	offers  uint64
}

// NewFeed creates a feed from src to m and attaches it to m's node.
func NewFeed(m *Manager, src CandidateSource, cfg FeedConfig) (*Feed, error) {
	if m == nil || src == nil {
		return nil, fmt.Errorf("%w: connmgr: feed needs a manager and a source", core.ErrConfig)
	}
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	f := &Feed{m: m, env: m.env, src: src, cfg: cfg}
	m.node.Attach(f)
	m.OnDisconnected(f.onDisconnected)
	return f, nil
}

// Offers returns the number of times the feed offered candidates.
func (f *Feed) Offers() uint64 { return f.offers }

// Start implements core.Component: the first check runs at once.
func (f *Feed) Start(now time.Time) {
	if f.running {
		return
	}
	f.running, f.offered = true, false
	f.check(now)
}

// Stop implements core.Component.
func (f *Feed) Stop(time.Time) {
	f.running = false
	if f.timer != nil {
		f.timer.Stop()
		f.timer = nil
	}
}

func (f *Feed) onTick() {
	f.timer = nil
	if f.running {
		f.check(f.env.Clock.Now())
	}
}

// check offers candidates if the manager wants some, and re-arms.
func (f *Feed) check(now time.Time) {
	m := f.m
	wants := m.count() < m.cfg.Target
	if wants && len(m.cands) == 0 {
		v := f.src.CandidateVersion()
		if !f.offered || v != f.version || now.Sub(f.last) >= f.cfg.Refresh {
			list := f.src.Candidates(nil)
			f.offered, f.version, f.last = true, v, now
			f.offers++
			m.AddCandidates(now, list)
			// The list is not kept: offers are rare (the queue is empty
			// and the node below Target) and the queue holds copies.
		}
	}
	d := f.cfg.Idle
	if m.count() < m.cfg.Target {
		d = f.cfg.Interval
	}
	f.arm(now, d)
}

func (f *Feed) arm(now time.Time, d time.Duration) {
	if f.timer != nil {
		f.timer.Stop()
	}
	f.due = now.Add(d)
	f.timer = f.env.Clock.AfterFunc(d, f.onTick)
}

// onDisconnected brings the next check forward to Interval when a session
// or dial ending leaves the manager below Target while the feed idles.
func (f *Feed) onDisconnected(now time.Time, _ Connection) {
	if f.running && f.m.count() < f.m.cfg.Target && f.due.Sub(now) > f.cfg.Interval {
		f.arm(now, f.cfg.Interval)
	}
}
