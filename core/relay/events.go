package relay

import (
	"net/netip"
	"time"

	"github.com/dchat/network/core/identity"
)

// Sent is observed when this node sends a relayed message.
type Sent struct {
	ID        MessageID       `json:"id"`
	Recipient identity.PeerID `json:"recipient"`
	FirstHop  identity.PeerID `json:"first_hop"`
	Hops      int             `json:"hops"`
	Size      int             `json:"size"`
}

// Kind implements core.Event.
func (Sent) Kind() string { return "relay.sent" }

// Forwarded is observed when this node, as a relay, hands a message off.
type Forwarded struct {
	ID     MessageID       `json:"id"`
	Sender identity.PeerID `json:"sender"`
	// Hop is this relay's index on the path (0 for the first relay).
	Hop  int             `json:"hop"`
	Next identity.PeerID `json:"next"`
	// Bytes is the size of the datagram sent on.
	Bytes int `json:"bytes"`
}

// Kind implements core.Event.
func (Forwarded) Kind() string { return "relay.forwarded" }

// Delivered is observed when this node, as the recipient, accepts a
// message (and acknowledges it).
type Delivered struct {
	ID     MessageID       `json:"id"`
	Sender identity.PeerID `json:"sender"`
	Hops   int             `json:"hops"`
	// Latency is the receive time less the send time.
	Latency time.Duration `json:"latency_ns"`
	Size    int           `json:"size"`
}

// Kind implements core.Event.
func (Delivered) Kind() string { return "relay.delivered" }

// Acked is observed when this node, as the sender, holds a verified proof
// of delivery.
type Acked struct {
	ID        MessageID       `json:"id"`
	Recipient identity.PeerID `json:"recipient"`
	Hops      int             `json:"hops"`
	// Latency is end to end: the acknowledgement's arrival less the send.
	Latency time.Duration `json:"latency_ns"`
	// Delivery is the recipient's signed receive time less the send.
	Delivery time.Duration `json:"delivery_ns"`
}

// Kind implements core.Event.
func (Acked) Kind() string { return "relay.acked" }

// Undelivered is observed when a sent message has no acknowledgement by
// its deadline. Confirmed relays returned signed hand-off receipts; the
// suspects are the ends of the first hand-off nobody confirmed (see Audit).
type Undelivered struct {
	ID        MessageID         `json:"id"`
	Recipient identity.PeerID   `json:"recipient"`
	FirstHop  identity.PeerID   `json:"first_hop"`
	Hops      int               `json:"hops"`
	Confirmed int               `json:"confirmed"`
	Suspects  []identity.PeerID `json:"suspects"`
}

// Kind implements core.Event.
func (Undelivered) Kind() string { return "relay.undelivered" }

// Refused is observed when this node refuses a relayed message: not a
// relay, path too long, over a bandwidth limit, over the per-sender cap, or
// any check failed (the reasons below).
type Refused struct {
	ID     MessageID       `json:"id"`
	Sender identity.PeerID `json:"sender"`
	From   netip.AddrPort  `json:"from"`
	Reason string          `json:"reason"`
	Bytes  int             `json:"bytes"`
}

// Kind implements core.Event.
func (Refused) Kind() string { return "relay.refused" }

// BatchSealed is observed when this node seals a batch of proofs.
type BatchSealed struct {
	Seq   uint64 `json:"seq"`
	Root  Hash   `json:"root"`
	Count int    `json:"count"`
	// First and Last bound the proofs' acknowledgement times.
	First time.Time `json:"first"`
	Last  time.Time `json:"last"`
}

// Kind implements core.Event.
func (BatchSealed) Kind() string { return "relay.batch" }

// Refusal and drop reasons (Refused.Reason, core.Drop.Reason, Stats.Refused).
const (
	// ReasonMalformed: the datagram does not decode.
	ReasonMalformed = "malformed"
	// ReasonNotRelay: relay traffic reached a node that is not a relay.
	ReasonNotRelay = "not-relay"
	// ReasonHops: the path is empty or longer than MaxHops.
	ReasonHops = "hops"
	// ReasonBadPath: a peer is repeated, an address is missing, or there
	// are more hop records than relays.
	ReasonBadPath = "bad-path"
	// ReasonMisrouted: this node is neither the next relay nor the recipient.
	ReasonMisrouted = "misrouted"
	// ReasonExpired: sent longer than AckTimeout ago.
	ReasonExpired = "expired"
	// ReasonFuture: sent further ahead than MaxClockSkew.
	ReasonFuture = "future"
	// ReasonDuplicate: a message ID seen already.
	ReasonDuplicate = "duplicate"
	// ReasonOversized: a payload over MaxPayload.
	ReasonOversized = "oversized"
	// ReasonForged: the ID, the route signature, a hand-off record, an
	// acknowledgement or a receipt does not verify.
	ReasonForged = "forged"
	// ReasonPeerBandwidth: over the sending peer's share of the bandwidth.
	ReasonPeerBandwidth = "bandwidth-peer"
	// ReasonBandwidth: over the relay's global bandwidth limit.
	ReasonBandwidth = "bandwidth-global"
	// ReasonPendingCap: the sender already has MaxPendingPerSender
	// messages in flight through this relay.
	ReasonPendingCap = "pending-cap"
	// ReasonUnsolicited: an acknowledgement or receipt for nothing this
	// node sent or relayed.
	ReasonUnsolicited = "unsolicited"
)
