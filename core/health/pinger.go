package health

import (
	"fmt"
	"net/netip"
	"time"

	"github.com/dchat/network/core"
	"github.com/dchat/network/core/wire"
)

// Config tunes a Pinger.
type Config struct {
	// Timeout is how long a PING waits for its PONG.
	Timeout time.Duration
	// MaxOutstanding bounds PINGs in flight; further Ping calls fail, so a
	// node cannot be made to hold unbounded state.
	MaxOutstanding int
}

// DefaultConfig returns the plan's values: a 10 s timeout.
func DefaultConfig() Config { return Config{Timeout: 10 * time.Second, MaxOutstanding: 4096} }

// Validate checks the config.
func (c Config) Validate() error {
	if c.Timeout <= 0 {
		return fmt.Errorf("%w: health: timeout must be positive, got %v", core.ErrConfig, c.Timeout)
	}
	if c.MaxOutstanding <= 0 {
		return fmt.Errorf("%w: health: max outstanding must be positive, got %d", core.ErrConfig, c.MaxOutstanding)
	}
	return nil
}

// Pinger sends and answers liveness probes for one node.
type Pinger struct {
	node    *core.Node
	cfg     Config
	pending map[uint64]*probe
	stats   Stats
}

type probe struct {
	nonce uint64
	to    netip.AddrPort
	sent  time.Time
	timer core.Timer
}

// Stats counts a Pinger's probes.
type Stats struct {
	Sent, Answered, TimedOut, Served uint64
}

// New attaches a Pinger to node, handling PING and PONG.
func New(node *core.Node, cfg Config) (*Pinger, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	p := &Pinger{node: node, cfg: cfg, pending: make(map[uint64]*probe)}
	if err := node.Register(wire.KindPing, p.handlePing); err != nil {
		return nil, err
	}
	if err := node.Register(wire.KindPong, p.handlePong); err != nil {
		return nil, err
	}
	node.Attach(p)
	return p, nil
}

// Start implements core.Component.
func (p *Pinger) Start(time.Time) {}

// Stop implements core.Component: outstanding probes are abandoned.
func (p *Pinger) Stop(time.Time) {
	for nonce, pr := range p.pending { // order is irrelevant: every entry is cancelled, nothing is emitted
		pr.timer.Stop()
		delete(p.pending, nonce)
	}
}

// Stats returns the probe counters.
func (p *Pinger) Stats() Stats { return p.stats }

// Outstanding returns the number of probes awaiting an answer.
func (p *Pinger) Outstanding() int { return len(p.pending) }

// ErrBusy is returned by Ping when MaxOutstanding probes are in flight.
var ErrBusy = fmt.Errorf("health: too many outstanding pings")

// Ping sends a PING to addr (a local command). The result arrives later as a
// PingRTT or PingTimeout event. It returns the probe's nonce.
func (p *Pinger) Ping(now time.Time, to netip.AddrPort) (uint64, error) {
	if len(p.pending) >= p.cfg.MaxOutstanding {
		return 0, ErrBusy
	}
	env := p.node.Env()
	nonce := env.Rand.Uint64()
	for nonce == 0 || p.pending[nonce] != nil {
		nonce = env.Rand.Uint64()
	}
	pr := &probe{nonce: nonce, to: to, sent: now}
	pr.timer = env.Clock.AfterFunc(p.cfg.Timeout, func() { p.onTimeout(pr) })
	p.pending[nonce] = pr
	p.stats.Sent++
	p.node.Send(to, wire.Ping{Nonce: nonce}.AppendPacket(nil))
	p.node.Observe(now, PingSent{To: to, Nonce: nonce})
	return nonce, nil
}

func (p *Pinger) onTimeout(pr *probe) {
	if p.pending[pr.nonce] != pr {
		return
	}
	delete(p.pending, pr.nonce)
	p.stats.TimedOut++
	now := p.node.Env().Clock.Now()
	p.node.Observe(now, PingTimeout{To: pr.to, Nonce: pr.nonce, After: now.Sub(pr.sent)})
}

func (p *Pinger) handlePing(now time.Time, from netip.AddrPort, body []byte) error {
	m, err := wire.DecodePing(body)
	if err != nil {
		return err
	}
	p.stats.Served++
	p.node.Send(from, wire.Pong{Nonce: m.Nonce, Observed: from}.AppendPacket(nil))
	return nil
}

func (p *Pinger) handlePong(now time.Time, from netip.AddrPort, body []byte) error {
	m, err := wire.DecodePong(body)
	if err != nil {
		return err
	}
	pr := p.pending[m.Nonce]
	if pr == nil || pr.to != from {
		return core.Dropped(core.ReasonUnsolicited)
	}
	delete(p.pending, m.Nonce)
	pr.timer.Stop()
	p.stats.Answered++
	p.node.Observe(now, PingRTT{From: from, Nonce: m.Nonce, RTT: now.Sub(pr.sent), Observed: m.Observed})
	return nil
}
