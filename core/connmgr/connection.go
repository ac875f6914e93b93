package connmgr

import (
	"net/netip"
	"time"

	"github.com/dchat/network/core/identity"
)

// State is a session's lifecycle state.
type State uint8

// Session states. Connecting and Connected sessions count against the
// limits; Disconnecting ones only absorb late frames. Closed and Failed
// are terminal and only appear in OnDisconnected snapshots.
const (
	// Connecting: CONNECT sent, no answer yet (outbound only: an inbound
	// CONNECT is accepted or refused at once).
	Connecting State = iota + 1
	// Connected: both sides hold the session.
	Connected
	// Disconnecting: this node sent CLOSE and lingers for late frames.
	Disconnecting
	// Closed: the session ended normally (pruned, idle, closed by either
	// side, replaced, shut down).
	Closed
	// Failed: the dial failed (timeout, rejected, wrong peer) or the
	// session failed (unhealthy, reset by the peer).
	Failed
)

var stateNames = [...]string{"", "connecting", "connected", "disconnecting", "closed", "failed"}

// String returns the state's trace name.
func (s State) String() string {
	if int(s) < len(stateNames) && s != 0 {
		return stateNames[s]
	}
	return "unknown"
}

// MarshalText implements encoding.TextMarshaler.
func (s State) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// Direction says which side dialled.
type Direction uint8

// Directions.
const (
	Outbound Direction = iota + 1
	Inbound
)

// String returns "outbound" or "inbound".
func (d Direction) String() string {
	switch d {
	case Outbound:
		return "outbound"
	case Inbound:
		return "inbound"
	}
	return "unknown"
}

// MarshalText implements encoding.TextMarshaler.
func (d Direction) MarshalText() ([]byte, error) { return []byte(d.String()), nil }

// Close and failure reasons, in Connection.Reason, Closed events and
// Stats.Closes.
const (
	ReasonTimeout      = "timeout"        // the dial got no answer
	ReasonRejected     = "rejected"       // the peer refused the dial (Detail: its reason)
	ReasonUnhealthy    = "unhealthy"      // health checks failed
	ReasonIdle         = "idle"           // no application traffic for IdleTimeout
	ReasonPruned       = "pruned"         // trimmed
	ReasonClosedByPeer = "closed-by-peer" // the peer sent CLOSE (Detail: its reason)
	ReasonReset        = "reset"          // the peer has no such session any more
	ReasonLocal        = "local"          // Disconnect was called
	ReasonShutdown     = "shutdown"       // the manager stopped
	ReasonReplaced     = "replaced"       // a newer handshake with the peer won
	ReasonWrongPeer    = "wrong-peer"     // the address answered with another identity
	ReasonDuplicate    = "duplicate"      // another session with the peer exists
	ReasonSelf         = "self"           // the address is this node
)

// failure reports whether a session ending for reason ends Failed rather
// than Closed.
func failure(reason string) bool {
	switch reason {
	case ReasonTimeout, ReasonRejected, ReasonUnhealthy, ReasonReset, ReasonWrongPeer, ReasonSelf:
		return true
	}
	return false
}

// Connection is a snapshot of one session.
type Connection struct {
	Peer      identity.PeerID `json:"peer"`
	Addr      netip.AddrPort  `json:"addr"`
	Direction Direction       `json:"direction"`
	State     State           `json:"state"`
	// Reason and Detail say why a session ended (Closed or Failed);
	// Detail is the peer's own reason for ReasonRejected and
	// ReasonClosedByPeer.
	Reason string `json:"reason,omitempty"`
	Detail string `json:"detail,omitempty"`
	// Started is when the dial started or the CONNECT arrived; Opened when
	// the session was established (zero if it never was).
	Started time.Time `json:"started"`
	Opened  time.Time `json:"opened,omitzero"`
	// Protected reports a protection tag on the peer; Reputation is its
	// score in [-1, 1].
	Protected    bool        `json:"protected,omitempty"`
	Reputation   float64     `json:"reputation"`
	Health       HealthState `json:"health"`
	HealthReason string      `json:"health_reason,omitempty"`
	Metrics      Metrics     `json:"metrics"`
}

// Metrics are a session's counters. Bytes and messages count the manager's
// own frames and the traffic reported with Touch and Sent.
type Metrics struct {
	BytesIn  uint64 `json:"bytes_in"`
	BytesOut uint64 `json:"bytes_out"`
	MsgsIn   uint64 `json:"msgs_in"`
	MsgsOut  uint64 `json:"msgs_out"`
	// SRTT and RTTVar follow RFC 6298; MinRTT and LastRTT are raw
	// samples. 0 means no sample yet.
	SRTT    time.Duration `json:"srtt_ns"`
	RTTVar  time.Duration `json:"rttvar_ns"`
	MinRTT  time.Duration `json:"min_rtt_ns"`
	LastRTT time.Duration `json:"last_rtt_ns"`
	// Loss is the share of lost probes among the recent ones; ProbesSent
	// and ProbesLost count all of them.
	Loss       float64 `json:"loss"`
	ProbesSent uint64  `json:"probes_sent"`
	ProbesLost uint64  `json:"probes_lost"`
	// Uptime is the time since Opened (until the end, for ended sessions).
	Uptime time.Duration `json:"uptime_ns"`
	// LastSeen is when the peer was last heard from (any frame or
	// Touch); LastActive when application traffic last went either way
	// (Touch or Sent; the handshake counts).
	LastSeen   time.Time `json:"last_seen"`
	LastActive time.Time `json:"last_active"`
}
