package traversal

import (
	"net/netip"
	"time"

	"github.com/dchat/network/core/identity"
)

// Discovered is observed when self discovery (a STUN query with RFC 5780
// behaviour discovery) answers, or when the node has no Connectivity and
// assumes it is public (Assumed).
type Discovered struct {
	Type      string         `json:"type"`
	Public    netip.AddrPort `json:"public"`
	Mapping   string         `json:"mapping,omitempty"`
	Filtering string         `json:"filtering,omitempty"`
	Server    netip.AddrPort `json:"server"`
	Took      time.Duration  `json:"took_ns"`
	Assumed   bool           `json:"assumed,omitempty"`
	Err       string         `json:"err,omitempty"`
}

// Kind implements core.Event.
func (Discovered) Kind() string { return "nat.discovered" }

// Mapped is observed when the UPnP/NAT-PMP port mapping answers.
type Mapped struct {
	External netip.AddrPort `json:"external"`
	Lease    time.Duration  `json:"lease_ns"`
	Took     time.Duration  `json:"took_ns"`
	Err      string         `json:"err,omitempty"`
}

// Kind implements core.Event.
func (Mapped) Kind() string { return "nat.mapped" }

// RelayAllocated is observed when the TURN allocation answers.
type RelayAllocated struct {
	Server   netip.AddrPort `json:"server"`
	Relayed  netip.AddrPort `json:"relayed"`
	Lifetime time.Duration  `json:"lifetime_ns"`
	Took     time.Duration  `json:"took_ns"`
	Err      string         `json:"err,omitempty"`
}

// Kind implements core.Event.
func (RelayAllocated) Kind() string { return "nat.relay" }

// Reachability is observed when the node's own reachable state is first
// decided and whenever it changes (after ReachabilityAfter agreeing
// observations).
type Reachability struct {
	Reachable bool   `json:"reachable"`
	Type      string `json:"type"`
	Reason    string `json:"reason"`
}

// Kind implements core.Event.
func (Reachability) Kind() string { return "nat.reachable" }

// Registered is observed when a rendezvous first answers a REGISTER, and
// when the endpoint it observes changes.
type Registered struct {
	Rendezvous netip.AddrPort `json:"rendezvous"`
	Observed   netip.AddrPort `json:"observed"`
	RTT        time.Duration  `json:"rtt_ns"`
}

// Kind implements core.Event.
func (Registered) Kind() string { return "nat.registered" }

// Introduced is observed at a rendezvous when it sends OFFERs for a
// CONNECT.
type Introduced struct {
	Initiator      identity.PeerID `json:"initiator"`
	Target         identity.PeerID `json:"target"`
	InitiatorDelay time.Duration   `json:"initiator_delay_ns"`
	TargetDelay    time.Duration   `json:"target_delay_ns"`
}

// Kind implements core.Event.
func (Introduced) Kind() string { return "nat.introduced" }

// Attempt is observed once per method a ladder tried: when the method's
// first candidate answered (OK), or when the ladder ended without it
// answering. Took runs from the method's first probe. Result is "ok",
// "failed" (the ladder ran out) or "abandoned" (a better path made it
// moot).
type Attempt struct {
	Peer       identity.PeerID `json:"peer"`
	Method     Method          `json:"method"`
	Addr       netip.AddrPort  `json:"addr"`
	LocalType  string          `json:"local_type"`
	RemoteType string          `json:"remote_type"`
	Initiator  bool            `json:"initiator"`
	OK         bool            `json:"ok"`
	Result     string          `json:"result"`
	Took       time.Duration   `json:"took_ns"`
}

// Kind implements core.Event.
func (Attempt) Kind() string { return "nat.attempt" }

// PathSet is observed when a ladder finds its first working path to a
// peer. Took runs from the Connect call (initiator) or the OFFER's arrival
// (target).
type PathSet struct {
	Peer       identity.PeerID `json:"peer"`
	Addr       netip.AddrPort  `json:"addr"`
	Method     Method          `json:"method"`
	LocalType  string          `json:"local_type"`
	RemoteType string          `json:"remote_type"`
	Initiator  bool            `json:"initiator"`
	Took       time.Duration   `json:"took_ns"`
}

// Kind implements core.Event.
func (PathSet) Kind() string { return "nat.path" }

// Upgrade is observed when a peer's path switches to a better method.
type Upgrade struct {
	Peer     identity.PeerID `json:"peer"`
	From     Method          `json:"from"`
	FromAddr netip.AddrPort  `json:"from_addr"`
	To       Method          `json:"to"`
	Addr     netip.AddrPort  `json:"addr"`
	// Acks is the number of probes the new path had answered.
	Acks int `json:"acks"`
	// Took runs from the Connect call or the OFFER's arrival.
	Took time.Duration `json:"took_ns"`
}

// Kind implements core.Event.
func (Upgrade) Kind() string { return "nat.upgrade" }

// Failure reasons, in Failed events.
const (
	FailExhausted    = "exhausted"          // every method tried, none answered
	FailUnknownPeer  = "unknown-peer"       // the rendezvous does not know the target
	FailRefused      = "refused"            // the rendezvous refused for another reason
	FailRendezvous   = "rendezvous-timeout" // no rendezvous answered the CONNECT
	FailNoRendezvous = "no-rendezvous"      // none configured
)

// Failed is observed when a ladder ends without any working path.
type Failed struct {
	Peer       identity.PeerID `json:"peer"`
	LocalType  string          `json:"local_type"`
	RemoteType string          `json:"remote_type"`
	Initiator  bool            `json:"initiator"`
	Reason     string          `json:"reason"`
	Took       time.Duration   `json:"took_ns"`
}

// Kind implements core.Event.
func (Failed) Kind() string { return "nat.failed" }

// Lost is observed when FallbackAfter consecutive PATH-PINGs on a peer's
// path went unanswered. If another candidate had answered, the node falls
// back to it (Fallback, FallbackMethod); otherwise the peer has no path.
type Lost struct {
	Peer           identity.PeerID `json:"peer"`
	Addr           netip.AddrPort  `json:"addr"`
	Method         Method          `json:"method"`
	Misses         int             `json:"misses"`
	Fallback       netip.AddrPort  `json:"fallback"`
	FallbackMethod Method          `json:"fallback_method"`
}

// Kind implements core.Event.
func (Lost) Kind() string { return "nat.lost" }
