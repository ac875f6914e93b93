package transport

import "sync/atomic"

// DropReason says why the transport discarded a datagram (received, or
// handed to it by core to send).
type DropReason uint8

// Drop reasons. Receive side first, then send side.
const (
	// DropInboxFull: the loop's inbox was full; the socket reader dropped
	// the datagram unread.
	DropInboxFull DropReason = iota
	// DropOversized: the datagram was larger than MaxPacket (its read was
	// truncated).
	DropOversized
	// DropReadError: the socket returned an error other than closing.
	DropReadError
	// DropMalformed: unknown type, wrong length or reserved bytes set.
	DropMalformed
	// DropUnknownSession: no session or handshake has the frame's index.
	DropUnknownSession
	// DropAddrMismatch: the frame's session belongs to another address.
	DropAddrMismatch
	// DropBadMAC: a data frame failed authentication.
	DropBadMAC
	// DropReplay: a data frame's counter was seen, too old, or past the
	// session's limit.
	DropReplay
	// DropBadHandshake: a handshake message failed to decrypt or to
	// process (bad MAC, invalid key).
	DropBadHandshake
	// DropBadSignature: the handshake payload was malformed or its
	// identity signature of the Noise static key did not verify.
	DropBadSignature
	// DropSelf: a handshake with this node's own identity or address.
	DropSelf
	// DropCookieRequired: an init came without a valid cookie while the
	// node was under load; a cookie reply was sent instead.
	DropCookieRequired
	// DropHalfOpenFull and DropHalfOpenPerIP: too many handshakes await
	// their third message, in all or from the source's IP.
	DropHalfOpenFull
	DropHalfOpenPerIP
	// DropSessionsFull: MaxSessions sessions are established.
	DropSessionsFull
	// DropUnexpected: a handshake message that does not fit the state
	// (duplicate, late, or too many cookie replies).
	DropUnexpected
	// DropNoNode: an authenticated datagram arrived but no node is set.
	DropNoNode
	// DropTooLarge: core handed a datagram larger than MaxPacket-Overhead.
	DropTooLarge
	// DropQueueFull: the destination's queue (QueueLen, QueueBytes) was
	// full while its handshake ran.
	DropQueueFull
	// DropDialLimit: MaxDialing handshakes were already under way.
	DropDialLimit
	// DropHandshakeTimeout: queued datagrams dropped because their
	// handshake timed out.
	DropHandshakeTimeout
	// DropHandshakeFailed: queued datagrams dropped because their
	// handshake failed otherwise (bad signature, own identity, no room).
	DropHandshakeFailed
	// DropWriteError: the socket refused the datagram.
	DropWriteError
	// DropBadAddr: an invalid, unspecified or zero-port destination, or
	// this node's own address.
	DropBadAddr
	// DropClosed: sent after shutdown, or queued at shutdown.
	DropClosed
	// DropSTUNUnknown: a STUN message (RFC 7983 demultiplexing) that is
	// not a response to one of this host's binding requests: an unknown
	// or finished transaction, a request or an indication.
	DropSTUNUnknown
	// DropSTUNMalformed: a datagram that looks like STUN but does not
	// decode, or a success response without a mapped address.
	DropSTUNMalformed

	numDropReasons
)

var dropNames = [numDropReasons]string{
	"inbox-full", "oversized", "read-error", "malformed", "unknown-session", "addr-mismatch",
	"bad-mac", "replay", "bad-handshake", "bad-signature", "self", "cookie-required",
	"half-open-full", "half-open-per-ip", "sessions-full", "unexpected", "no-node",
	"too-large", "queue-full", "dial-limit", "handshake-timeout", "handshake-failed", "write-error", "bad-addr", "closed",
	"stun-unknown", "stun-malformed",
}

// String returns the reason's name, as in Stats.Drops and drop events.
func (r DropReason) String() string {
	if r < numDropReasons {
		return dropNames[r]
	}
	return "invalid"
}

// DropReasons lists every reason, in order.
func DropReasons() []DropReason {
	out := make([]DropReason, numDropReasons)
	for i := range out {
		out[i] = DropReason(i)
	}
	return out
}

// Stats is a snapshot of a host's counters.
type Stats struct {
	// Datagrams and bytes on the socket, every frame type included.
	PacketsIn, PacketsOut uint64
	BytesIn, BytesOut     uint64
	// Delivered counts the datagrams handed to the node.
	Delivered uint64
	// Handshakes this node initiated, answered (message 2 sent) and
	// completed (either side); Retransmits of messages 1 and 3; handshakes
	// that timed out (either side); the initiator's that were abandoned to
	// a simultaneous one with a lower key.
	HandshakesInitiated, HandshakesAnswered, HandshakesCompleted uint64
	Retransmits, HandshakeTimeouts, HandshakesAbandoned          uint64
	// Rekeys are handshakes started to replace a live session (age,
	// message count, or staleness).
	Rekeys uint64
	// CookiesSent are cookie replies sent under load.
	CookiesSent uint64
	// Keepalives are empty data frames sent.
	Keepalives uint64
	// SessionsClosed counts established sessions that ended (idle,
	// expired, stale, replaced, shutdown).
	SessionsClosed uint64
	// Gauges: established sessions, responder half-open handshakes and
	// initiated handshakes now.
	Sessions, HalfOpen, Dialing int64
	// Dropped is the sum of Drops; Drops the non-zero counts by reason.
	Dropped uint64
	Drops   map[string]uint64
}

// counters are a host's statistics: written by the loop and the socket
// reader, read from anywhere.
type counters struct {
	packetsIn, packetsOut, bytesIn, bytesOut atomic.Uint64
	delivered                                atomic.Uint64
	initiated, answered, completed           atomic.Uint64
	retransmits, timeouts, abandoned, rekeys atomic.Uint64
	cookies, keepalives, closed              atomic.Uint64
	sessions, halfOpen, dialing              atomic.Int64
	drops                                    [numDropReasons]atomic.Uint64
}

func (c *counters) snapshot() Stats {
	s := Stats{
		PacketsIn: c.packetsIn.Load(), PacketsOut: c.packetsOut.Load(),
		BytesIn: c.bytesIn.Load(), BytesOut: c.bytesOut.Load(),
		Delivered:           c.delivered.Load(),
		HandshakesInitiated: c.initiated.Load(), HandshakesAnswered: c.answered.Load(),
		HandshakesCompleted: c.completed.Load(), Retransmits: c.retransmits.Load(),
		HandshakeTimeouts: c.timeouts.Load(), HandshakesAbandoned: c.abandoned.Load(),
		Rekeys: c.rekeys.Load(), CookiesSent: c.cookies.Load(), Keepalives: c.keepalives.Load(),
		SessionsClosed: c.closed.Load(),
		Sessions:       c.sessions.Load(), HalfOpen: c.halfOpen.Load(), Dialing: c.dialing.Load(),
		Drops: map[string]uint64{},
	}
	for i := range c.drops {
		if v := c.drops[i].Load(); v > 0 {
			s.Drops[dropNames[i]] = v
			s.Dropped += v
		}
	}
	return s
}
