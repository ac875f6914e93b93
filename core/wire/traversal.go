package wire

import (
	"net/netip"
	"strconv"
	"time"
)

// NAT traversal kinds (range 0x60-0x6f). See core/traversal for the
// protocol: a node REGISTERs with rendezvous nodes, which answer
// REGISTERED; to reach a peer it sends CONNECT to a rendezvous, which
// answers with an OFFER to both sides (or REFUSED); both then send PUNCH
// probes to each other's candidate endpoints, answered by PUNCH-ACK, and
// keep the chosen path alive with PATH-PING and PATH-PONG.
const (
	// KindNATRegister announces a node to a rendezvous (and keeps the
	// node's NAT binding towards it open).
	KindNATRegister Kind = 0x60
	// KindNATRegistered answers REGISTER with the observed source endpoint.
	KindNATRegistered Kind = 0x61
	// KindNATConnect asks a rendezvous to introduce the sender to a peer.
	KindNATConnect Kind = 0x62
	// KindNATOffer tells each side of an introduction about the other.
	KindNATOffer Kind = 0x63
	// KindNATRefused answers a CONNECT the rendezvous cannot serve.
	KindNATRefused Kind = 0x64
	// KindPunch is a connectivity check (hole-punching probe) sent to a
	// candidate endpoint.
	KindPunch Kind = 0x65
	// KindPunchAck answers a PUNCH, to the address it came from.
	KindPunchAck Kind = 0x66
	// KindPathPing keeps a chosen path alive and checks it still works.
	KindPathPing Kind = 0x67
	// KindPathPong answers a PATH-PING.
	KindPathPong Kind = 0x68
)

func init() {
	RegisterKindName(KindNATRegister, "nat-register")
	RegisterKindName(KindNATRegistered, "nat-registered")
	RegisterKindName(KindNATConnect, "nat-connect")
	RegisterKindName(KindNATOffer, "nat-offer")
	RegisterKindName(KindNATRefused, "nat-refused")
	RegisterKindName(KindPunch, "punch")
	RegisterKindName(KindPunchAck, "punch-ack")
	RegisterKindName(KindPathPing, "path-ping")
	RegisterKindName(KindPathPong, "path-pong")
}

// NATKeyLen is the length of the Ed25519 public key that names a peer in
// traversal messages (the peer ID is derived from it).
const NATKeyLen = 32

// MaxNATDuration bounds the durations traversal messages carry (RTTs and
// start delays), which travel as microseconds.
const MaxNATDuration = time.Minute

// NATOfferInitiator is the Offer flag telling its recipient that it asked
// for the introduction (sent CONNECT); without it the recipient is the
// target.
const NATOfferInitiator uint8 = 1 << 0

// Refusal reasons carried by NATRefused. Unknown codes decode as they are;
// NATRefusedName names them.
const (
	NATRefusedUnspecified uint8 = 0
	// NATRefusedUnknown: the target is not registered with the rendezvous.
	NATRefusedUnknown uint8 = 1
	// NATRefusedRateLimited: the sender asked too often.
	NATRefusedRateLimited uint8 = 2
	// NATRefusedSelf: the sender asked to be introduced to itself.
	NATRefusedSelf uint8 = 3
)

var natRefusedNames = [...]string{"unspecified", "unknown-peer", "rate-limited", "self"}

// NATRefusedName returns a refusal code's trace name, or "code-N".
func NATRefusedName(code uint8) string {
	if int(code) < len(natRefusedNames) {
		return natRefusedNames[code]
	}
	return "code-" + strconv.Itoa(int(code))
}

// NATInfo is what a node knows about its own reachability:
//
//	type (1) | public (addr) | mapped (addr) | relayed (addr)
//
// Type is a core.NATType (values this version does not know decode as they
// are); Public is the STUN-reported endpoint (RFC 8489 XOR-MAPPED-ADDRESS),
// Mapped the UPnP/NAT-PMP forwarded one, Relayed the TURN relayed transport
// address (RFC 8656). Any of them may be absent (family 0).
type NATInfo struct {
	Type    uint8
	Public  netip.AddrPort
	Mapped  netip.AddrPort
	Relayed netip.AddrPort
}

func (i *NATInfo) append(b []byte) []byte {
	b = append(b, i.Type)
	b = AppendAddrPort(b, i.Public)
	b = AppendAddrPort(b, i.Mapped)
	return AppendAddrPort(b, i.Relayed)
}

func (i *NATInfo) read(r *Reader, what string) {
	i.Type = r.U8(what + " type")
	i.Public = r.AddrPort(what + " public")
	i.Mapped = r.AddrPort(what + " mapped")
	i.Relayed = r.AddrPort(what + " relayed")
}

// appendMicros appends d as a uvarint count of microseconds, clamped to
// [0, MaxNATDuration].
func appendMicros(b []byte, d time.Duration) []byte {
	d = min(max(d, 0), MaxNATDuration)
	return AppendUvarint(b, uint64(d/time.Microsecond))
}

func readMicros(r *Reader, what string) time.Duration {
	return time.Duration(r.Uvarint(what, uint64(MaxNATDuration/time.Microsecond))) * time.Microsecond
}

// NATRegister announces a node to a rendezvous (KindNATRegister):
//
//	nonce (8) | sender key (32) | info | rtt (uvarint µs)
//
// Nonce is echoed in the REGISTERED answer. RTT is the sender's last
// measured round trip to this rendezvous (0 unknown); the rendezvous uses it
// to time introductions.
type NATRegister struct {
	Nonce  uint64
	Sender [NATKeyLen]byte
	Info   NATInfo
	RTT    time.Duration
}

// AppendPacket appends the whole datagram (envelope and body).
func (m *NATRegister) AppendPacket(b []byte) []byte {
	b = AppendU64(AppendEnvelope(b, KindNATRegister), m.Nonce)
	b = append(b, m.Sender[:]...)
	b = m.Info.append(b)
	return appendMicros(b, m.RTT)
}

// DecodeNATRegister decodes a NATRegister body.
func DecodeNATRegister(body []byte) (NATRegister, error) {
	var m NATRegister
	r := NewReader(body)
	m.Nonce = r.U64("register nonce")
	copy(m.Sender[:], r.Fixed("register sender", NATKeyLen))
	m.Info.read(r, "register info")
	m.RTT = readMicros(r, "register rtt")
	return m, r.Done()
}

// NATRegistered answers a REGISTER (KindNATRegistered): nonce (8) |
// observed (addr), the echoed nonce and the source endpoint the rendezvous
// saw the REGISTER come from.
type NATRegistered struct {
	Nonce    uint64
	Observed netip.AddrPort
}

// AppendPacket appends the whole datagram (envelope and body).
func (m NATRegistered) AppendPacket(b []byte) []byte {
	return AppendAddrPort(AppendU64(AppendEnvelope(b, KindNATRegistered), m.Nonce), m.Observed)
}

// DecodeNATRegistered decodes a NATRegistered body.
func DecodeNATRegistered(body []byte) (NATRegistered, error) {
	r := NewReader(body)
	m := NATRegistered{Nonce: r.U64("registered nonce"), Observed: r.AddrPort("registered observed")}
	return m, r.Done()
}

// NATConnect asks a rendezvous for an introduction (KindNATConnect):
//
//	txn (8) | sender key (32) | target key (32) | info | rtt (uvarint µs)
//
// Txn is the initiator's random, non-zero name for the attempt; the OFFERs
// and every probe of the attempt carry it.
type NATConnect struct {
	Txn    uint64
	Sender [NATKeyLen]byte
	Target [NATKeyLen]byte
	Info   NATInfo
	RTT    time.Duration
}

// AppendPacket appends the whole datagram (envelope and body).
func (m *NATConnect) AppendPacket(b []byte) []byte {
	b = AppendU64(AppendEnvelope(b, KindNATConnect), m.Txn)
	b = append(b, m.Sender[:]...)
	b = append(b, m.Target[:]...)
	b = m.Info.append(b)
	return appendMicros(b, m.RTT)
}

// DecodeNATConnect decodes a NATConnect body.
func DecodeNATConnect(body []byte) (NATConnect, error) {
	var m NATConnect
	r := NewReader(body)
	m.Txn = r.U64("nat-connect txn")
	copy(m.Sender[:], r.Fixed("nat-connect sender", NATKeyLen))
	copy(m.Target[:], r.Fixed("nat-connect target", NATKeyLen))
	m.Info.read(r, "nat-connect info")
	m.RTT = readMicros(r, "nat-connect rtt")
	return m, r.Done()
}

// NATOffer introduces the other side of an attempt (KindNATOffer):
//
//	txn (8) | peer key (32) | info | observed (addr) | delay (uvarint µs) | flags (1)
//
// Peer and Info describe the other side, Observed is the endpoint the
// rendezvous sees it at. Delay is how long the recipient waits before it
// starts punching, so that both sides start at about the same moment.
type NATOffer struct {
	Txn      uint64
	Peer     [NATKeyLen]byte
	Info     NATInfo
	Observed netip.AddrPort
	Delay    time.Duration
	Flags    uint8
}

// AppendPacket appends the whole datagram (envelope and body).
func (m *NATOffer) AppendPacket(b []byte) []byte {
	b = AppendU64(AppendEnvelope(b, KindNATOffer), m.Txn)
	b = append(b, m.Peer[:]...)
	b = m.Info.append(b)
	b = AppendAddrPort(b, m.Observed)
	b = appendMicros(b, m.Delay)
	return append(b, m.Flags)
}

// DecodeNATOffer decodes a NATOffer body.
func DecodeNATOffer(body []byte) (NATOffer, error) {
	var m NATOffer
	r := NewReader(body)
	m.Txn = r.U64("offer txn")
	copy(m.Peer[:], r.Fixed("offer peer", NATKeyLen))
	m.Info.read(r, "offer info")
	m.Observed = r.AddrPort("offer observed")
	m.Delay = readMicros(r, "offer delay")
	m.Flags = r.U8("offer flags")
	return m, r.Done()
}

// NATRefused refuses a CONNECT (KindNATRefused): txn (8) | target key (32)
// | reason (1).
type NATRefused struct {
	Txn    uint64
	Target [NATKeyLen]byte
	Reason uint8
}

// AppendPacket appends the whole datagram (envelope and body).
func (m *NATRefused) AppendPacket(b []byte) []byte {
	b = AppendU64(AppendEnvelope(b, KindNATRefused), m.Txn)
	return append(append(b, m.Target[:]...), m.Reason)
}

// DecodeNATRefused decodes a NATRefused body.
func DecodeNATRefused(body []byte) (NATRefused, error) {
	var m NATRefused
	r := NewReader(body)
	m.Txn = r.U64("refused txn")
	copy(m.Target[:], r.Fixed("refused target", NATKeyLen))
	m.Reason = r.U8("refused reason")
	return m, r.Done()
}

// NATProbe is the body of PUNCH, PUNCH-ACK, PATH-PING and PATH-PONG:
//
//	txn (8) | sender key (32) | seq (4)
//
// Txn names the attempt, Seq the probe within it; an answer echoes both
// and carries its own sender's key.
type NATProbe struct {
	Txn    uint64
	Sender [NATKeyLen]byte
	Seq    uint32
}

// NATProbeLen is the length of a probe datagram, envelope included.
const NATProbeLen = HeaderLen + 8 + NATKeyLen + 4

// AppendPacket appends the whole datagram with the given kind, one of
// KindPunch, KindPunchAck, KindPathPing and KindPathPong.
func (m *NATProbe) AppendPacket(b []byte, kind Kind) []byte {
	b = AppendU64(AppendEnvelope(b, kind), m.Txn)
	return AppendU32(append(b, m.Sender[:]...), m.Seq)
}

// DecodeNATProbe decodes the body of any of the four probe kinds.
func DecodeNATProbe(body []byte) (NATProbe, error) {
	var m NATProbe
	r := NewReader(body)
	m.Txn = r.U64("probe txn")
	copy(m.Sender[:], r.Fixed("probe sender", NATKeyLen))
	m.Seq = r.U32("probe seq")
	return m, r.Done()
}
