package gossip

import (
	"net/netip"
	"time"

	"github.com/dchat/network/core/identity"
)

// Published is observed when the node publishes a message; it is the
// message's delivery at its origin.
type Published struct {
	ID   ID     `json:"id"`
	Seq  uint64 `json:"seq"`
	Size int    `json:"size"`
}

// Kind implements core.Event.
func (Published) Kind() string { return "gossip.publish" }

// Delivered is observed at a node's first receipt of a valid message.
type Delivered struct {
	ID     ID              `json:"id"`
	Sender identity.PeerID `json:"sender"`
	From   netip.AddrPort  `json:"from"`
	// Hops is the number of hops the delivered copy travelled (1 when it
	// came straight from the sender).
	Hops int `json:"hops"`
	// Latency is the receipt time less the message's timestamp.
	Latency time.Duration `json:"latency_ns"`
	// Via is "push" for a pushed copy, "pull" for an answer to our IWANT,
	// "repair" for an answer to an IWANT for an ID a digest reply listed.
	Via string `json:"via"`
}

// Kind implements core.Event.
func (Delivered) Kind() string { return "gossip.deliver" }

// Duplicate is observed for every full copy of a message received after
// the first (or after publishing it).
type Duplicate struct {
	ID   ID             `json:"id"`
	From netip.AddrPort `json:"from"`
}

// Kind implements core.Event.
func (Duplicate) Kind() string { return "gossip.dup" }

// Forwarded is observed when a message is pushed on (or first pushed by
// its publisher): To is the number of peers sent a full copy.
type Forwarded struct {
	ID ID  `json:"id"`
	To int `json:"to"`
}

// Kind implements core.Event.
func (Forwarded) Kind() string { return "gossip.forward" }

// Delivery paths reported in Delivered.Via.
const (
	ViaPush = "push"
	ViaPull = "pull"
	// ViaRepair: an answer to an IWANT for an ID listed in a digest reply
	// (anti-entropy repair).
	ViaRepair = "repair"
)

// Drop reasons for gossip input (observed as core.Drop).
const (
	// ReasonMalformed: the datagram does not decode.
	ReasonMalformed = "malformed"
	// ReasonForged: the carried ID is not the content's hash, or the
	// signature does not verify.
	ReasonForged = "forged"
	// ReasonReplayed: a new ID whose (sender, sequence number) was seen
	// already or fell below the sender's window.
	ReasonReplayed = "replayed"
	// ReasonExpired: the timestamp is older than the replay window.
	ReasonExpired = "expired"
	// ReasonFuture: the timestamp is further ahead than the allowed skew.
	ReasonFuture = "future"
	// ReasonTTL: TTL 0 or above the maximum, or a hop count of 0.
	ReasonTTL = "ttl"
	// ReasonOversized: a payload, IHAVE or IWANT list over its bound.
	ReasonOversized = "oversized"
	// ReasonRateLimited: over the sending peer's or the global rate.
	ReasonRateLimited = "rate-limited"
	// ReasonPublisherRate: a new message over its publisher's rate
	// (Config.PublisherRate), dropped and not forwarded.
	ReasonPublisherRate = "publisher-rate"
	// ReasonUnsolicited: an IWANT for nothing we hold, a digest from a
	// peer we do not gossip with, or a digest reply nobody asked for.
	ReasonUnsolicited = "unsolicited"
)
