package transport

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/binary"
	"io"
	"net/netip"
	"time"
)

// cookieRotate is how long a cookie secret is used; cookies made with the
// previous one are still accepted, so a cookie lives 2 to 4 minutes.
const cookieRotate = 2 * time.Minute

// cookieJar makes and checks cookies: a MAC, under a rotating secret, of
// the init's source address and sender index. Echoing one proves the
// initiator receives at its address (a stateless return-routability check,
// as DTLS's HelloVerifyRequest, RFC 6347 §4.2.1, or WireGuard's cookie
// reply): the responder keeps no state until it does.
//
// Concurrency: owned by its host's loop.
type cookieJar struct {
	entropy   io.Reader
	cur, prev [32]byte
	rotated   time.Time
	started   bool
}

func (j *cookieJar) rotate(now time.Time) {
	if j.started && now.Sub(j.rotated) < cookieRotate {
		return
	}
	j.prev = j.cur
	if _, err := io.ReadFull(j.entropy, j.cur[:]); err != nil {
		// Without entropy, derive from the old secret and time: still
		// unpredictable to a peer that never saw a secret.
		j.cur = sha256.Sum256(binary.BigEndian.AppendUint64(j.prev[:], uint64(now.UnixNano())))
	}
	if !j.started {
		j.prev = j.cur
	}
	j.rotated, j.started = now, true
}

func cookieMAC(secret *[32]byte, from netip.AddrPort, sender uint32) [cookieSize]byte {
	m := hmac.New(sha256.New, secret[:])
	ip := from.Addr().As16()
	var b [16 + 2 + 4]byte
	copy(b[:], ip[:])
	binary.BigEndian.PutUint16(b[16:], from.Port())
	binary.BigEndian.PutUint32(b[18:], sender)
	m.Write(b[:])
	var out [cookieSize]byte
	copy(out[:], m.Sum(nil))
	return out
}

// make returns the cookie for an init from `from` with sender index sender.
func (j *cookieJar) make(now time.Time, from netip.AddrPort, sender uint32) [cookieSize]byte {
	j.rotate(now)
	return cookieMAC(&j.cur, from, sender)
}

// valid reports whether cookie is the current or the previous secret's.
func (j *cookieJar) valid(now time.Time, from netip.AddrPort, sender uint32, cookie *[cookieSize]byte) bool {
	if *cookie == ([cookieSize]byte{}) {
		return false
	}
	j.rotate(now)
	a, b := cookieMAC(&j.cur, from, sender), cookieMAC(&j.prev, from, sender)
	return hmac.Equal(a[:], cookie[:]) || hmac.Equal(b[:], cookie[:])
}
