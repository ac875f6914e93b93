package dht

import (
	"encoding/hex"
	"net/netip"
	"time"

	"github.com/dchat/network/core/identity"
)

// HexKey is a DHT key that prints (and marshals) as hex.
type HexKey identity.Key

// MarshalText implements encoding.TextMarshaler.
func (k HexKey) MarshalText() ([]byte, error) { return []byte(hex.EncodeToString(k[:])), nil }

// String returns the key in hex.
func (k HexKey) String() string { return hex.EncodeToString(k[:]) }

// Lookup purposes reported in LookupDone.Purpose.
const (
	PurposeUser      = "user"
	PurposePeer      = "peer"
	PurposeValue     = "value"
	PurposePut       = "put"
	PurposeBootstrap = "bootstrap"
	PurposeRefresh   = "refresh"
	// PurposeDepth: a lookup of a random far key after the join, to
	// measure the network's depth (Table.SetDepth).
	PurposeDepth = "depth"
)

// LookupDone is observed when a lookup ends, whatever its purpose.
type LookupDone struct {
	Target  HexKey `json:"target"`
	Purpose string `json:"purpose"`
	OK      bool   `json:"ok"`
	// Found is the number of peers returned.
	Found int `json:"found"`
	// Value is set when a FIND_VALUE lookup returned a valid record.
	Value bool `json:"value,omitempty"`
	// Hops is the longest chain of responses that led to the result: a
	// peer from the own table answering is hop 1, a peer it named hop 2...
	Hops int `json:"hops"`
	// Messages is the number of requests the lookup sent.
	Messages int           `json:"messages"`
	Latency  time.Duration `json:"latency_ns"`
}

// Kind implements core.Event.
func (LookupDone) Kind() string { return "dht.lookup" }

// BootstrapDone is observed when a bootstrap attempt ends: bootstrap peers
// contacted, self-lookup and bucket refreshes done. OK is false when no
// bootstrap peer answered; the bootstrap is then tried again in RetryIn
// (0: no retry). Took counts from the first attempt's start; Attempt is
// the attempt's number when it is not the first.
type BootstrapDone struct {
	Took      time.Duration `json:"took_ns"`
	TableSize int           `json:"table_size"`
	OK        bool          `json:"ok"`
	Attempt   int           `json:"attempt,omitempty"`
	RetryIn   time.Duration `json:"retry_in_ns,omitempty"`
}

// Kind implements core.Event.
func (BootstrapDone) Kind() string { return "dht.bootstrap" }

// TableEmpty is observed when the routing table loses its last peer
// outside a bootstrap; the node joins again through its bootstrap peers
// in RejoinIn (a new bootstrap, with its own BootstrapDone).
type TableEmpty struct {
	RejoinIn time.Duration `json:"rejoin_in_ns"`
}

// Kind implements core.Event.
func (TableEmpty) Kind() string { return "dht.table_empty" }

// PeerAdded is observed when a peer enters the routing table.
type PeerAdded struct {
	Peer identity.PeerID `json:"peer"`
	Addr netip.AddrPort  `json:"addr"`
}

// Kind implements core.Event.
func (PeerAdded) Kind() string { return "dht.add" }

// PeerEvicted is observed when a peer leaves the routing table.
type PeerEvicted struct {
	Peer   identity.PeerID `json:"peer"`
	Addr   netip.AddrPort  `json:"addr"`
	Reason string          `json:"reason"`
}

// Kind implements core.Event.
func (PeerEvicted) Kind() string { return "dht.evict" }

// Eviction reasons.
const (
	// EvictUnresponsive: MaxFailures consecutive requests went unanswered.
	EvictUnresponsive = "unresponsive"
	// EvictPingFailed: the least recently seen entry of a full bucket did
	// not answer the liveness ping (Kademlia §2.2).
	EvictPingFailed = "ping-failed"
	// EvictDeep: the buckets beyond the network's depth held more than k
	// peers when the depth became known (Table.SetDepth); the latest
	// admitted left.
	EvictDeep = "deep-cap"
)

// PutDone is observed when a Put (or a republish) has sent its STOREs and
// heard back: Stored of Tried peers kept the record.
type PutDone struct {
	Key    HexKey `json:"key"`
	Stored int    `json:"stored"`
	Tried  int    `json:"tried"`
}

// Kind implements core.Event.
func (PutDone) Kind() string { return "dht.put" }

// Drop reasons for DHT input (observed as core.Drop).
const (
	// ReasonMalformed: the datagram does not decode.
	ReasonMalformed = "malformed"
	// ReasonUnsolicited: a response with an unknown request ID, from
	// another address than the request went to, or of a kind that does
	// not answer the request (e.g. VALUE to FIND_NODE).
	ReasonUnsolicited = "unsolicited"
	// ReasonOversized: a NODES list longer than k.
	ReasonOversized = "oversized"
	// ReasonInvalidPeer: a sender or NODES entry with a zero ID, the
	// receiver's own ID, a duplicated ID or an unusable address; or a
	// responder whose ID is not the one asked.
	ReasonInvalidPeer = "invalid-peer"
	// ReasonWrongDistance: a NODES answer to a lookup whose entries are not
	// ordered closest-first to the target asked about.
	ReasonWrongDistance = "wrong-distance"
	// ReasonBadRecord: a record with a bad signature, expired, with an
	// expiry beyond the TTL or under another key than asked.
	ReasonBadRecord = "bad-record"
)

// DepthEstimated is observed when the node's estimate of the network's
// depth in key bits (Table.SetDepth) changes.
type DepthEstimated struct {
	Depth   int `json:"depth"`
	Samples int `json:"samples"`
}

// Kind implements core.Event.
func (DepthEstimated) Kind() string { return "dht.depth" }
