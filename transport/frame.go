package transport

import (
	"encoding/binary"
	"errors"
	"fmt"
)

// Frame types, the first byte of every datagram (docs/transport.md has the
// byte tables). A new version of the protocol takes new type codes, so an
// old node drops what it cannot read as malformed.
const (
	frameInit   byte = 0x01 // Noise XX message 1: -> e (padded, optional cookie)
	frameResp   byte = 0x02 // Noise XX message 2: <- e, ee, s, es + identity
	frameFinish byte = 0x03 // Noise XX message 3: -> s, se + identity
	frameData   byte = 0x04 // transport data, AEAD with an explicit counter
	frameCookie byte = 0x05 // cookie reply to an init under load
)

// Frame sizes.
const (
	// initLen is the fixed size of an init frame: padded so that no reply
	// is larger than the datagram that caused it (no amplification).
	initLen       = 256
	initHeaderLen = 8 + cookieSize
	respHeaderLen = 12
	finHeaderLen  = 8
	dataHeaderLen = 16
	cookieLen     = 8 + cookieSize
	cookieSize    = 16
	tagLen        = 16

	dhLen      = 32
	payloadLen = 1 + 32 + 64 // version, Ed25519 key, signature
	// Noise message lengths for XX with 25519 and an AEAD: msg1 is e and
	// the padding (in clear); msg2 e, s and the payload (both encrypted);
	// msg3 s and the payload.
	msg1Len   = initLen - initHeaderLen
	msg1Pad   = msg1Len - dhLen
	msg2Len   = dhLen + dhLen + tagLen + payloadLen + tagLen
	msg3Len   = dhLen + tagLen + payloadLen + tagLen
	respLen   = respHeaderLen + msg2Len
	finishLen = finHeaderLen + msg3Len

	// Overhead is what the transport adds to a core datagram: the data
	// header and the AEAD tag.
	Overhead = dataHeaderLen + tagLen

	minPacket = initLen
)

// errMalformed is wrapped by every frame parse error.
var errMalformed = errors.New("transport: malformed frame")

// frame is a parsed datagram. body aliases the datagram.
type frame struct {
	typ      byte
	sender   uint32 // init, resp: the sender's session index
	receiver uint32 // resp, finish, data, cookie: the receiver's index
	counter  uint64 // data: the nonce
	cookie   [cookieSize]byte
	header   []byte // data: the header, authenticated as associated data
	body     []byte // the Noise message, or the ciphertext with its tag
}

// parseFrame checks a datagram's type, length and reserved bytes and splits
// it into its fields. It never allocates.
func parseFrame(b []byte) (frame, error) {
	var f frame
	if len(b) < 8 {
		return f, fmt.Errorf("%w: %d bytes", errMalformed, len(b))
	}
	f.typ = b[0]
	if b[1]|b[2]|b[3] != 0 {
		return f, fmt.Errorf("%w: reserved bytes set", errMalformed)
	}
	want := 0
	switch f.typ {
	case frameInit:
		want = initLen
	case frameResp:
		want = respLen
	case frameFinish:
		want = finishLen
	case frameCookie:
		want = cookieLen
	case frameData:
		if len(b) < dataHeaderLen+tagLen {
			return f, fmt.Errorf("%w: data frame of %d bytes", errMalformed, len(b))
		}
	default:
		return f, fmt.Errorf("%w: type 0x%02x", errMalformed, f.typ)
	}
	if want != 0 && len(b) != want {
		return f, fmt.Errorf("%w: %s frame of %d bytes, want %d", errMalformed, typeName(f.typ), len(b), want)
	}
	idx := binary.BigEndian.Uint32(b[4:8])
	switch f.typ {
	case frameInit:
		f.sender = idx
		copy(f.cookie[:], b[8:initHeaderLen])
		f.body = b[initHeaderLen:]
	case frameResp:
		f.sender = idx
		f.receiver = binary.BigEndian.Uint32(b[8:12])
		f.body = b[respHeaderLen:]
	case frameFinish:
		f.receiver = idx
		f.body = b[finHeaderLen:]
	case frameCookie:
		f.receiver = idx
		copy(f.cookie[:], b[8:cookieLen])
	case frameData:
		f.receiver = idx
		f.counter = binary.BigEndian.Uint64(b[8:16])
		f.header = b[:dataHeaderLen]
		f.body = b[dataHeaderLen:]
	}
	return f, nil
}

func appendHeader(dst []byte, typ byte, idx uint32) []byte {
	dst = append(dst, typ, 0, 0, 0)
	return binary.BigEndian.AppendUint32(dst, idx)
}

// appendInit appends an init frame: the sender's index, the cookie (zero
// when none was asked for) and Noise message 1 (msg1Len bytes).
func appendInit(dst []byte, sender uint32, cookie *[cookieSize]byte, msg1 []byte) []byte {
	dst = appendHeader(dst, frameInit, sender)
	dst = append(dst, cookie[:]...)
	return append(dst, msg1...)
}

// appendResp appends a response frame: the responder's index, the
// initiator's index and Noise message 2.
func appendResp(dst []byte, sender, receiver uint32, msg2 []byte) []byte {
	dst = appendHeader(dst, frameResp, sender)
	dst = binary.BigEndian.AppendUint32(dst, receiver)
	return append(dst, msg2...)
}

// appendFinish appends a finish frame: the responder's index and Noise
// message 3.
func appendFinish(dst []byte, receiver uint32, msg3 []byte) []byte {
	return append(appendHeader(dst, frameFinish, receiver), msg3...)
}

// appendDataHeader appends a data frame's header; the ciphertext follows.
func appendDataHeader(dst []byte, receiver uint32, counter uint64) []byte {
	return binary.BigEndian.AppendUint64(appendHeader(dst, frameData, receiver), counter)
}

// appendCookie appends a cookie reply to the init whose sender index was
// receiver.
func appendCookie(dst []byte, receiver uint32, cookie *[cookieSize]byte) []byte {
	return append(appendHeader(dst, frameCookie, receiver), cookie[:]...)
}

// typeName names a frame type in drop events.
func typeName(t byte) string {
	switch t {
	case frameInit:
		return "init"
	case frameResp:
		return "resp"
	case frameFinish:
		return "finish"
	case frameData:
		return "data"
	case frameCookie:
		return "cookie"
	}
	return "datagram"
}
