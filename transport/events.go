package transport

import (
	"net/netip"
	"time"

	"github.com/dchat/network/core/identity"
)

// Transport events go to the host's observer, on its loop, beside the
// node's own. Drops are observed as core.Drop with Msg "transport.<frame>"
// ("transport.data", "transport.init", ...) and Reason a DropReason's name,
// except those of the socket reader (inbox-full, oversized, read-error),
// which are only counted: the reader does not run on the loop.

// SessionUp is observed when a handshake completes.
type SessionUp struct {
	Peer identity.PeerID `json:"peer"`
	Addr netip.AddrPort  `json:"addr"`
	// Initiator: this node sent message 1.
	Initiator bool `json:"initiator"`
	// Rekey: the session replaces a live one with the same peer.
	Rekey bool `json:"rekey"`
	// Restarted: the peer kept its identity but not its Noise static key,
	// which a host makes when it starts: a new process (its old sessions,
	// and whatever state went with them, are gone).
	Restarted bool `json:"restarted,omitempty"`
	// Took is the handshake's duration on this side.
	Took time.Duration `json:"took_ns"`
}

// Kind implements core.Event.
func (SessionUp) Kind() string { return "transport.up" }

// SessionDown is observed when an established session ends.
type SessionDown struct {
	Peer   identity.PeerID `json:"peer"`
	Addr   netip.AddrPort  `json:"addr"`
	Reason string          `json:"reason"`
	Age    time.Duration   `json:"age_ns"`
}

// Kind implements core.Event.
func (SessionDown) Kind() string { return "transport.down" }

// HandshakeFailed is observed when a handshake ends without a session:
// one this node initiated (Dropped datagrams were waiting for it), or one
// it answered whose message 3 never came.
type HandshakeFailed struct {
	Addr      netip.AddrPort `json:"addr"`
	Initiator bool           `json:"initiator"`
	Reason    string         `json:"reason"`
	Dropped   int            `json:"dropped"`
}

// Kind implements core.Event.
func (HandshakeFailed) Kind() string { return "transport.fail" }

// Reasons a session ends or a handshake fails.
const (
	reasonIdle        = "idle"
	reasonExpired     = "expired"
	reasonStale       = "stale"
	reasonReplaced    = "replaced"
	reasonRetired     = "retired"
	reasonShutdown    = "shutdown"
	reasonUnconfirmed = "unconfirmed"
	reasonTimeout     = "timeout"
	reasonSignature   = "bad-signature"
	reasonSelf        = "self"
	reasonFull        = "sessions-full"
)
