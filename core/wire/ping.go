package wire

import "net/netip"

// Ping is a liveness probe (KindPing). The responder echoes Nonce in a Pong.
type Ping struct {
	Nonce uint64
}

// AppendPacket appends the whole datagram (envelope and body).
func (m Ping) AppendPacket(b []byte) []byte {
	return AppendU64(AppendEnvelope(b, KindPing), m.Nonce)
}

// DecodePing decodes a Ping body.
func DecodePing(body []byte) (Ping, error) {
	r := NewReader(body)
	m := Ping{Nonce: r.U64("ping nonce")}
	return m, r.Done()
}

// Pong answers a Ping (KindPong). Observed is the address the responder saw
// the ping come from, which tells the pinger its address as seen from outside
// (useful behind NATs).
type Pong struct {
	Nonce    uint64
	Observed netip.AddrPort
}

// AppendPacket appends the whole datagram (envelope and body).
func (m Pong) AppendPacket(b []byte) []byte {
	b = AppendU64(AppendEnvelope(b, KindPong), m.Nonce)
	return AppendAddrPort(b, m.Observed)
}

// DecodePong decodes a Pong body.
func DecodePong(body []byte) (Pong, error) {
	r := NewReader(body)
	m := Pong{Nonce: r.U64("pong nonce"), Observed: r.AddrPort("pong observed")}
	return m, r.Done()
}
