package wire

import "strconv"

// Connection-management kinds (range 0x40-0x4f). See core/connmgr for the
// protocol: a session is opened by CONNECT and ACCEPT (or refused by
// REJECT), kept alive by CONN-PING and CONN-PONG, and ended by CLOSE. Every
// message after CONNECT carries the dialer's nonce, which names the session.
const (
	// KindConnect opens a session: the dialer's nonce and identity.
	KindConnect Kind = 0x40
	// KindAccept accepts a CONNECT: the echoed nonce and the acceptor's
	// identity.
	KindAccept Kind = 0x41
	// KindReject refuses a CONNECT, with a reason code.
	KindReject Kind = 0x42
	// KindClose ends a session, with a reason code.
	KindClose Kind = 0x43
	// KindConnPing is a health probe within a session.
	KindConnPing Kind = 0x44
	// KindConnPong answers a KindConnPing.
	KindConnPong Kind = 0x45
)

func init() {
	RegisterKindName(KindConnect, "connect")
	RegisterKindName(KindAccept, "accept")
	RegisterKindName(KindReject, "reject")
	RegisterKindName(KindClose, "close")
	RegisterKindName(KindConnPing, "conn-ping")
	RegisterKindName(KindConnPong, "conn-pong")
}

// ConnKeyLen is the length of the Ed25519 public key that names a peer in
// connection messages (the peer ID is derived from it).
const ConnKeyLen = 32

// Reason codes carried by Reject and Close. Unknown codes decode as they
// are (a newer peer may send more); ConnReasonName names them.
const (
	ConnReasonUnspecified uint8 = 0
	// ConnReasonFull: the acceptor is at its connection limit.
	ConnReasonFull uint8 = 1
	// ConnReasonShutdown: the sender is stopping.
	ConnReasonShutdown uint8 = 2
	// ConnReasonPruned: the sender trimmed its connections.
	ConnReasonPruned uint8 = 3
	// ConnReasonUnhealthy: the sender's health checks failed.
	ConnReasonUnhealthy uint8 = 4
	// ConnReasonIdle: no traffic for the sender's idle timeout.
	ConnReasonIdle uint8 = 5
	// ConnReasonTimeout: a dial timed out (sent by the dialer).
	ConnReasonTimeout uint8 = 6
	// ConnReasonLocal: closed on its user's request.
	ConnReasonLocal uint8 = 7
	// ConnReasonUnknownSession: the receiver has no session with that
	// nonce (an answer to a probe of a session it forgot).
	ConnReasonUnknownSession uint8 = 8
	// ConnReasonSelf: the dialer claims the acceptor's own identity.
	ConnReasonSelf uint8 = 9
	// ConnReasonWrongPeer: the CONNECT names another peer as its target,
	// or the ACCEPT came from another peer than the one dialled.
	ConnReasonWrongPeer uint8 = 10
	// ConnReasonReputation: the dialer's reputation is below the
	// acceptor's threshold.
	ConnReasonReputation uint8 = 11
	// ConnReasonDuplicate: a session with the peer exists already.
	ConnReasonDuplicate uint8 = 12
)

var connReasonNames = [...]string{
	ConnReasonUnspecified:    "unspecified",
	ConnReasonFull:           "full",
	ConnReasonShutdown:       "shutdown",
	ConnReasonPruned:         "pruned",
	ConnReasonUnhealthy:      "unhealthy",
	ConnReasonIdle:           "idle",
	ConnReasonTimeout:        "timeout",
	ConnReasonLocal:          "local",
	ConnReasonUnknownSession: "unknown-session",
	ConnReasonSelf:           "self",
	ConnReasonWrongPeer:      "wrong-peer",
	ConnReasonReputation:     "reputation",
	ConnReasonDuplicate:      "duplicate",
}

// ConnReasonName returns a reason code's trace name, or "code-N" for a code
// this version does not know.
func ConnReasonName(code uint8) string {
	if int(code) < len(connReasonNames) {
		return connReasonNames[code]
	}
	return "code-" + strconv.Itoa(int(code))
}

// Connect opens a session (KindConnect):
//
//	nonce (8) | sender key (32) | target key (32)
//
// Nonce is the dialer's random session name, never 0. Target is the key of
// the peer the dialer means to reach, all zeros when it knows only the
// address; an acceptor with another identity refuses with
// ConnReasonWrongPeer.
type Connect struct {
	Nonce  uint64
	Sender [ConnKeyLen]byte
	Target [ConnKeyLen]byte
}

// AppendPacket appends the whole datagram (envelope and body).
func (m *Connect) AppendPacket(b []byte) []byte {
	b = AppendU64(AppendEnvelope(b, KindConnect), m.Nonce)
	b = append(b, m.Sender[:]...)
	return append(b, m.Target[:]...)
}

// DecodeConnect decodes a Connect body.
func DecodeConnect(body []byte) (Connect, error) {
	var m Connect
	r := NewReader(body)
	m.Nonce = r.U64("connect nonce")
	copy(m.Sender[:], r.Fixed("connect sender", ConnKeyLen))
	copy(m.Target[:], r.Fixed("connect target", ConnKeyLen))
	return m, r.Done()
}

// Accept accepts a Connect (KindAccept): nonce (8) | sender key (32), the
// nonce echoed from the CONNECT and the acceptor's own key.
type Accept struct {
	Nonce  uint64
	Sender [ConnKeyLen]byte
}

// AppendPacket appends the whole datagram (envelope and body).
func (m *Accept) AppendPacket(b []byte) []byte {
	return append(AppendU64(AppendEnvelope(b, KindAccept), m.Nonce), m.Sender[:]...)
}

// DecodeAccept decodes an Accept body.
func DecodeAccept(body []byte) (Accept, error) {
	var m Accept
	r := NewReader(body)
	m.Nonce = r.U64("accept nonce")
	copy(m.Sender[:], r.Fixed("accept sender", ConnKeyLen))
	return m, r.Done()
}

// Reject refuses a Connect (KindReject): nonce (8) | reason (1).
type Reject struct {
	Nonce  uint64
	Reason uint8
}

// AppendPacket appends the whole datagram (envelope and body).
func (m Reject) AppendPacket(b []byte) []byte {
	return append(AppendU64(AppendEnvelope(b, KindReject), m.Nonce), m.Reason)
}

// DecodeReject decodes a Reject body.
func DecodeReject(body []byte) (Reject, error) {
	r := NewReader(body)
	m := Reject{Nonce: r.U64("reject nonce"), Reason: r.U8("reject reason")}
	return m, r.Done()
}

// Close ends a session (KindClose): nonce (8) | reason (1). Either side may
// send it, and a dialer may send it for a dial it abandons.
type Close struct {
	Nonce  uint64
	Reason uint8
}

// AppendPacket appends the whole datagram (envelope and body).
func (m Close) AppendPacket(b []byte) []byte {
	return append(AppendU64(AppendEnvelope(b, KindClose), m.Nonce), m.Reason)
}

// DecodeClose decodes a Close body.
func DecodeClose(body []byte) (Close, error) {
	r := NewReader(body)
	m := Close{Nonce: r.U64("close nonce"), Reason: r.U8("close reason")}
	return m, r.Done()
}

// ConnProbe is the body of a health probe (KindConnPing) and of its answer
// (KindConnPong), which echoes it: nonce (8) | seq (4). Nonce names the
// session, Seq the probe within it.
type ConnProbe struct {
	Nonce uint64
	Seq   uint32
}

// AppendPacket appends the whole datagram with the given kind, which must
// be KindConnPing or KindConnPong.
func (m ConnProbe) AppendPacket(b []byte, kind Kind) []byte {
	return AppendU32(AppendU64(AppendEnvelope(b, kind), m.Nonce), m.Seq)
}

// ConnProbeLen is the length of a probe datagram, envelope included.
const ConnProbeLen = HeaderLen + 8 + 4

// DecodeConnProbe decodes a ConnPing or ConnPong body.
func DecodeConnProbe(body []byte) (ConnProbe, error) {
	r := NewReader(body)
	m := ConnProbe{Nonce: r.U64("probe nonce"), Seq: r.U32("probe seq")}
	return m, r.Done()
}
