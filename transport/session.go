package transport

import (
	"errors"
	"net/netip"
	"time"

	"github.com/flynn/noise"

	"github.com/dchat/network/core"
	"github.com/dchat/network/core/identity"
)

// errExhausted is returned when a session's send counter reached its limit.
var errExhausted = errors.New("transport: session counter exhausted")

// session is an established Noise session with one peer at one address.
// Data frames carry the receiver's index and an explicit 64-bit counter,
// the AEAD nonce: UDP may lose and reorder, so the nonce cannot be
// implicit as in Noise's own transport messages (Noise §11.4 leaves this to
// the application); the receiver checks counters with a replay filter.
//
// Concurrency: owned by its host's loop.
type session struct {
	index      uint32 // ours: the peer puts it in its frames
	remote     uint32 // the peer's: we put it in ours
	addr       netip.AddrPort
	peer       identity.PeerID
	peerStatic []byte
	initiator  bool

	send   noise.Cipher
	recv   noise.Cipher
	sendN  uint64
	replay replayFilter

	established                time.Time
	lastRecv, lastSend         time.Time // any frame, keepalives included
	lastRecvData, lastSendData time.Time // non-empty data only
	packetsIn, packetsOut      uint64
	bytesIn, bytesOut          uint64
	// unanswered is when the first data frame since the last receipt
	// went out (zero: none); stale that a staleness handshake started.
	unanswered time.Time
	stale      bool

	// The initiator's session is unconfirmed until the responder's first
	// data frame (its confirmation keepalive, or data) proves it got
	// message 3; until then message 3 is retransmitted.
	confirmed   bool
	finish      []byte   // the initiator's message 3 frame
	finishSum   [32]byte // the responder's: hash of message 3, to spot duplicates
	finishTimer core.Timer
	finishNext  time.Duration

	retired  bool // replaced: receive only, until retireAt
	retireAt time.Time
}

// seal appends a data frame carrying plaintext to dst.
func (s *session) seal(dst, plaintext []byte) ([]byte, error) {
	if s.sendN >= rejectAfterMessages {
		return dst, errExhausted
	}
	start := len(dst)
	dst = appendDataHeader(dst, s.remote, s.sendN)
	dst = s.send.Encrypt(dst, s.sendN, dst[start:start+dataHeaderLen], plaintext)
	s.sendN++
	return dst, nil
}

// open authenticates and decrypts a data frame in place (f.body is
// overwritten) after a replay check, and records its counter.
func (s *session) open(f *frame) ([]byte, DropReason, bool) {
	if !s.replay.check(f.counter) {
		return nil, DropReplay, false
	}
	pt, err := s.recv.Decrypt(f.body[:0], f.counter, f.header, f.body)
	if err != nil {
		return nil, DropBadMAC, false
	}
	if !s.replay.accept(f.counter) {
		return nil, DropReplay, false
	}
	return pt, 0, true
}

// SessionInfo describes a session, for a status page.
type SessionInfo struct {
	Peer        identity.PeerID `json:"peer"`
	Addr        netip.AddrPort  `json:"addr"`
	Initiator   bool            `json:"initiator"`
	Confirmed   bool            `json:"confirmed"`
	Retired     bool            `json:"retired"`
	Established time.Time       `json:"established"`
	LastRecv    time.Time       `json:"last_recv"`
	LastSend    time.Time       `json:"last_send"`
	PacketsIn   uint64          `json:"packets_in"`
	PacketsOut  uint64          `json:"packets_out"`
	BytesIn     uint64          `json:"bytes_in"`
	BytesOut    uint64          `json:"bytes_out"`
}

func (s *session) info() SessionInfo {
	return SessionInfo{
		Peer: s.peer, Addr: s.addr, Initiator: s.initiator, Confirmed: s.confirmed, Retired: s.retired,
		Established: s.established, LastRecv: s.lastRecv, LastSend: s.lastSend,
		PacketsIn: s.packetsIn, PacketsOut: s.packetsOut, BytesIn: s.bytesIn, BytesOut: s.bytesOut,
	}
}

// handshake is a handshake in progress: ours as initiator (waiting for
// message 2), or a peer's that we answered (waiting for message 3).
//
// Concurrency: owned by its host's loop.
type handshake struct {
	index     uint32 // ours
	remote    uint32 // the peer's: from message 1 (responder) or 2 (initiator)
	addr      netip.AddrPort
	initiator bool
	rekey     bool // replaces (or checks) a live session
	hs        *noise.HandshakeState
	frame     []byte // what we sent last: init, or resp; resent on retransmission
	started   time.Time
	timer     core.Timer
	next      time.Duration // next retransmission interval
	cookies   int           // cookie replies followed
}

// peer is everything a host holds for one remote address: its session (and
// the one it replaced, during a rekey), our handshake to it, the
// handshakes it started with us, and what waits for a session.
//
// Concurrency: owned by its host's loop.
type peer struct {
	addr    netip.AddrPort
	cur     *session
	prev    *session
	dial    *handshake
	inbound int // half-open handshakes from this address
	queue   [][]byte
	queued  int // bytes in queue
}

func (p *peer) empty() bool {
	return p.cur == nil && p.prev == nil && p.dial == nil && p.inbound == 0 && len(p.queue) == 0
}
