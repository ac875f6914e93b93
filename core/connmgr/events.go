package connmgr

import (
	"net/netip"
	"time"

	"github.com/dchat/network/core/identity"
)

// Open is observed when a session is established.
type Open struct {
	Peer      identity.PeerID `json:"peer"`
	Addr      netip.AddrPort  `json:"addr"`
	Direction Direction       `json:"direction"`
	// RTT is the handshake's round trip (outbound, first CONNECT
	// answered), else 0.
	RTT time.Duration `json:"rtt_ns"`
	// Count is the number of connected sessions after this one.
	Count int `json:"count"`
}

// Kind implements core.Event.
func (Open) Kind() string { return "conn.open" }

// Close is observed when a session or a dial ends.
type Close struct {
	Peer      identity.PeerID `json:"peer"`
	Addr      netip.AddrPort  `json:"addr"`
	Direction Direction       `json:"direction"`
	// Was is the state the session ended in: connecting for a failed
	// dial, connected otherwise.
	Was    State  `json:"was"`
	Reason string `json:"reason"`
	Detail string `json:"detail,omitempty"`
	// Uptime is how long it was connected (0 for a failed dial).
	Uptime time.Duration `json:"uptime_ns"`
	// Count is the number of connected sessions left.
	Count int `json:"count"`
}

// Kind implements core.Event.
func (Close) Kind() string { return "conn.close" }

// Prune reasons, in Prune events and Stats.Prunes.
const (
	// PruneHighWater: sessions above MaxConnections (after SetLimits).
	PruneHighWater = "high-water"
	// PruneMakeRoom: at MaxConnections, to admit a new session.
	PruneMakeRoom = "make-room"
)

// Prune is observed for each session a trim chose, before its Close
// (reason "pruned").
type Prune struct {
	Peer      identity.PeerID `json:"peer"`
	Addr      netip.AddrPort  `json:"addr"`
	Direction Direction       `json:"direction"`
	Strategy  Strategy        `json:"strategy"`
	Reason    string          `json:"reason"`
	Score     float64         `json:"score"`
	// Count is the number of sessions (connected and dialling) when the
	// trim began.
	Count int `json:"count"`
}

// Kind implements core.Event.
func (Prune) Kind() string { return "conn.prune" }

// HealthChange is observed when a session's health state changes.
type HealthChange struct {
	Peer   identity.PeerID `json:"peer"`
	Addr   netip.AddrPort  `json:"addr"`
	State  HealthState     `json:"state"`
	Reason string          `json:"reason,omitempty"`
	SRTT   time.Duration   `json:"srtt_ns"`
	Loss   float64         `json:"loss"`
}

// Kind implements core.Event.
func (HealthChange) Kind() string { return "conn.health" }

// Reconnect is observed when an important peer is redialled.
type Reconnect struct {
	Peer identity.PeerID `json:"peer"`
	Addr netip.AddrPort  `json:"addr"`
	// Attempt counts redials since the last established session, from 1.
	Attempt int `json:"attempt"`
	// Backoff is the wait that preceded this redial.
	Backoff time.Duration `json:"backoff_ns"`
}

// Kind implements core.Event.
func (Reconnect) Kind() string { return "conn.reconnect" }

// Reject is observed when this node refuses an inbound CONNECT.
type Reject struct {
	Peer   identity.PeerID `json:"peer"`
	Addr   netip.AddrPort  `json:"addr"`
	Reason string          `json:"reason"`
}

// Kind implements core.Event.
func (Reject) Kind() string { return "conn.reject" }
