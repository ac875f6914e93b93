package transport

import (
	"fmt"
	"io"
	"net/netip"
	"net/url"
	"time"

	"github.com/dchat/network/core"
)

// MaxUDPPayload is the largest UDP payload over IPv4 (65,535 less the IP
// and UDP headers), the ceiling of Config.MaxPacket.
const MaxUDPPayload = 65507

// Config tunes a Host. DefaultConfig gives every field a value; Validate
// reports the first out-of-range one.
type Config struct {
	// Listen is the UDP address to bind (port 0 picks a free port). A
	// specific address (127.0.0.2:0) makes LocalAddr exact; an unspecified
	// one (0.0.0.0:7000) reports the unspecified address.
	Listen netip.AddrPort
	// Conn, if set, is used instead of binding Listen: an in-memory network
	// in tests, or a decorator that delays and drops (chaos). The Host owns
	// it and closes it when Run returns.
	Conn PacketConn

	// MaxPacket is the largest datagram sent or accepted, frame included
	// (at most MaxUDPPayload). Larger received datagrams are dropped as
	// oversized; core datagrams that would not fit once framed
	// (MaxPacket - Overhead) are dropped as too large.
	MaxPacket int
	// InboxLen bounds the datagrams read but not yet handled by the loop;
	// the socket reader drops (and counts) what does not fit.
	InboxLen int
	// Commands bounds the Do calls waiting for the loop.
	Commands int

	// QueueLen and QueueBytes bound what Send holds per destination while
	// its handshake runs (32 datagrams, 64 KiB).
	QueueLen   int
	QueueBytes int
	// HandshakeTimeout is how long a handshake may take before its queue is
	// dropped. Message 1 (and message 3, until the responder confirms) is
	// retransmitted after RetransmitBase, then at doubling intervals
	// (0.5 s, 1 s, 2 s: sent at 0, 0.5, 1.5 and 3.5 s for a 5 s timeout).
	HandshakeTimeout time.Duration
	RetransmitBase   time.Duration

	// MaxSessions bounds the established sessions (the retired ones kept
	// during a rekey are not counted). A handshake that would exceed it is
	// refused.
	MaxSessions int
	// MaxDialing bounds the handshakes this node initiates at once.
	MaxDialing int
	// MaxHalfOpen bounds the handshakes other nodes initiated that await
	// their third message; MaxHalfOpenPerIP bounds them per source IPv4
	// address or IPv6 /64.
	MaxHalfOpen      int
	MaxHalfOpenPerIP int
	// CookieThreshold is the number of half-open handshakes from which a
	// new handshake must echo a cookie (a stateless return-routability
	// check, as WireGuard's cookie reply, §5.4.7): a flood from spoofed
	// addresses then costs one MAC per datagram and no state.
	// HandshakeRate (per second) and HandshakeBurst limit the handshakes
	// answered without a cookie, so a flood is cookie-checked even before
	// the threshold fills.
	CookieThreshold int
	HandshakeRate   float64
	HandshakeBurst  int

	// IdleTimeout closes a session that carried nothing either way for
	// this long.
	IdleTimeout time.Duration
	// KeepaliveAfter: after receiving data and sending nothing for this
	// long, a node sends an empty keepalive, so that its peer can tell a
	// live session from a dead one (WireGuard's passive keepalive).
	KeepaliveAfter time.Duration
	// StaleAfter: a session that sent data and received nothing for this
	// long is re-handshaken (the peer may have restarted and lost it). It
	// must exceed KeepaliveAfter plus a round trip.
	StaleAfter time.Duration
	// RekeyAfter and RekeyAfterMessages start a new handshake on a session
	// this node initiated once it is that old or has sent that many
	// messages; either side rekeys at RekeyAfter + HandshakeTimeout, and
	// a session is closed at RekeyAfter + 3 x HandshakeTimeout.
	RekeyAfter         time.Duration
	RekeyAfterMessages uint64
	// TickInterval is the period of session maintenance (expiry,
	// keepalives, staleness, rekeys).
	TickInterval time.Duration

	// STUNRTO is the first retransmission timeout of a STUN request (RFC
	// 8489 §6.2.1; each later wait doubles) and STUNTimeout the time a
	// query may take: with 250 ms and 1.5 s a request is sent at 0, 0.25
	// and 0.75 s and fails at 1.5 s. STUNFilterTimeout bounds the RFC 5780
	// filtering tests, whose answers a filtering NAT drops (sent at 0 and
	// 0.25 s, given up at 0.7 s), so that a full behaviour discovery
	// takes about STUNFilterTimeout plus three round trips.
	STUNRTO           time.Duration
	STUNTimeout       time.Duration
	STUNFilterTimeout time.Duration
	// TURNServers are the credentials for AllocateRelay, by server.
	// TURNTimeout bounds an allocation.
	TURNServers []TURNServer
	TURNTimeout time.Duration
	// UPnPURL, if set, is the gateway's root description
	// (http://10.99.0.1:5000/rootDesc.xml): MapPort uses it instead of
	// SSDP discovery. UPnPTimeout bounds a mapping (discovery included),
	// a renewal and the deletion at shutdown.
	UPnPURL     string
	UPnPTimeout time.Duration

	// Entropy feeds the Noise keys (the static key made in New and every
	// ephemeral key). nil means crypto/rand; tests may inject a seeded
	// stream to get reproducible handshakes.
	Entropy io.Reader
}

// DefaultConfig returns the defaults: UDP on 0.0.0.0:0, datagrams up to
// 65,507 bytes, 32 datagrams / 64 KiB queued per destination, 5 s
// handshakes, 1,024 sessions, 256 half-open handshakes (8 per IP), cookies
// from 64 half-open or above 200 handshakes/s, 3 min idle timeout, 10 s
// keepalives, 15 s staleness, rekey after 10 min or 2^32 messages.
func DefaultConfig() Config {
	return Config{
		Listen:             netip.AddrPortFrom(netip.IPv4Unspecified(), 0),
		MaxPacket:          MaxUDPPayload,
		InboxLen:           1024,
		Commands:           64,
		QueueLen:           32,
		QueueBytes:         64 << 10,
		HandshakeTimeout:   5 * time.Second,
		RetransmitBase:     500 * time.Millisecond,
		MaxSessions:        1024,
		MaxDialing:         256,
		MaxHalfOpen:        256,
		MaxHalfOpenPerIP:   8,
		CookieThreshold:    64,
		HandshakeRate:      200,
		HandshakeBurst:     100,
		IdleTimeout:        3 * time.Minute,
		KeepaliveAfter:     10 * time.Second,
		StaleAfter:         15 * time.Second,
		RekeyAfter:         10 * time.Minute,
		RekeyAfterMessages: 1 << 32,
		TickInterval:       time.Second,
		STUNRTO:            250 * time.Millisecond,
		STUNTimeout:        1500 * time.Millisecond,
		STUNFilterTimeout:  700 * time.Millisecond,
		TURNTimeout:        5 * time.Second,
		UPnPTimeout:        5 * time.Second,
	}
}

// Validate reports the first out-of-range field.
func (c Config) Validate() error {
	bad := func(field, format string, args ...any) error {
		return fmt.Errorf("%w: transport: %s: "+format, append([]any{core.ErrConfig, field}, args...)...)
	}
	if err := core.CheckBounds("transport", []core.IntBound{
		{Name: "MaxPacket", V: c.MaxPacket, Min: minPacket},
		{Name: "InboxLen", V: c.InboxLen, Min: 1},
		{Name: "Commands", V: c.Commands, Min: 1},
		{Name: "QueueLen", V: c.QueueLen, Min: 1},
		{Name: "QueueBytes", V: c.QueueBytes, Min: 1},
		{Name: "MaxSessions", V: c.MaxSessions, Min: 1},
		{Name: "MaxDialing", V: c.MaxDialing, Min: 1},
		{Name: "MaxHalfOpen", V: c.MaxHalfOpen, Min: 1},
		{Name: "MaxHalfOpenPerIP", V: c.MaxHalfOpenPerIP, Min: 1},
		{Name: "CookieThreshold", V: c.CookieThreshold, Min: 0},
		{Name: "HandshakeBurst", V: c.HandshakeBurst, Min: 1},
	}, []core.DurationBound{
		{Name: "HandshakeTimeout", V: c.HandshakeTimeout, Positive: true},
		{Name: "RetransmitBase", V: c.RetransmitBase, Positive: true},
		{Name: "IdleTimeout", V: c.IdleTimeout, Positive: true},
		{Name: "KeepaliveAfter", V: c.KeepaliveAfter, Positive: true},
		{Name: "StaleAfter", V: c.StaleAfter, Positive: true},
		{Name: "RekeyAfter", V: c.RekeyAfter, Positive: true},
		{Name: "TickInterval", V: c.TickInterval, Positive: true},
		{Name: "STUNRTO", V: c.STUNRTO, Positive: true},
		{Name: "STUNTimeout", V: c.STUNTimeout, Positive: true},
		{Name: "STUNFilterTimeout", V: c.STUNFilterTimeout, Positive: true},
		{Name: "TURNTimeout", V: c.TURNTimeout, Positive: true},
		{Name: "UPnPTimeout", V: c.UPnPTimeout, Positive: true},
	}); err != nil {
		return err
	}
	switch {
	case c.Conn == nil && !c.Listen.IsValid():
		return bad("Listen", "not a valid address: %v", c.Listen)
	case c.MaxPacket > MaxUDPPayload:
		return bad("MaxPacket", "at most %d, got %d", MaxUDPPayload, c.MaxPacket)
	case c.CookieThreshold > c.MaxHalfOpen:
		return bad("CookieThreshold", "must not exceed MaxHalfOpen (%d), got %d", c.MaxHalfOpen, c.CookieThreshold)
	case !(c.HandshakeRate > 0):
		return bad("HandshakeRate", "must be positive, got %v", c.HandshakeRate)
	case c.RetransmitBase >= c.HandshakeTimeout:
		return bad("RetransmitBase", "must be shorter than HandshakeTimeout (%v), got %v", c.HandshakeTimeout, c.RetransmitBase)
	case c.StaleAfter <= c.KeepaliveAfter:
		return bad("StaleAfter", "must exceed KeepaliveAfter (%v), got %v", c.KeepaliveAfter, c.StaleAfter)
	case c.RekeyAfterMessages == 0 || c.RekeyAfterMessages > rejectAfterMessages:
		return bad("RekeyAfterMessages", "must be in [1, 2^60], got %d", c.RekeyAfterMessages)
	case c.STUNRTO >= c.STUNTimeout:
		return bad("STUNRTO", "must be shorter than STUNTimeout (%v), got %v", c.STUNTimeout, c.STUNRTO)
	case c.STUNFilterTimeout > c.STUNTimeout:
		return bad("STUNFilterTimeout", "must not exceed STUNTimeout (%v), got %v", c.STUNTimeout, c.STUNFilterTimeout)
	}
	for i, s := range c.TURNServers {
		if !s.Addr.IsValid() || s.Addr.Port() == 0 || s.Addr.Addr().IsUnspecified() {
			return bad("TURNServers", "server %d: not a valid address: %v", i, s.Addr)
		}
	}
	if c.UPnPURL != "" {
		if u, err := url.Parse(c.UPnPURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return bad("UPnPURL", "want an http URL of the gateway's root description, got %q", c.UPnPURL)
		}
	}
	return nil
}

// rekeyBy is when a session is rekeyed by either side, and expireAt when it
// is closed, measured from its establishment.
func (c Config) rekeyBy() time.Duration  { return c.RekeyAfter + c.HandshakeTimeout }
func (c Config) expireAt() time.Duration { return c.RekeyAfter + 3*c.HandshakeTimeout }

// retireAfter is how long a replaced session still accepts datagrams (the
// peer may send on it until its own handshake completes).
func (c Config) retireAfter() time.Duration { return 2 * c.HandshakeTimeout }
