package transport

import (
	"bytes"
	"crypto/ed25519"
	"errors"
	"fmt"
	"io"

	"github.com/flynn/noise"

	"github.com/dchat/network/core/identity"
)

// The Noise protocol: Noise_XX_25519_ChaChaPoly_SHA256 (Noise rev. 34
// §7.5). XX sends both static keys encrypted, so neither side needs to know
// the other's key beforehand, and the initiator's identity is revealed
// only to a responder that proved its own. Each side's handshake payload
// (message 2 for the responder, message 3 for the initiator) carries its
// Ed25519 identity key and that key's signature of its Noise static key,
// as in the libp2p Noise handshake: the static key is authenticated by the
// handshake's DH operations, the signature binds it to the identity, and
// the peer ID follows from the identity key.
var (
	cipherSuite = noise.NewCipherSuite(noise.DH25519, noise.CipherChaChaPoly, noise.HashSHA256)
	// prologue is mixed into the handshake hash: both sides must agree on
	// the protocol and its version, or message 2 fails to decrypt.
	prologue = []byte("dchat-network/transport/v1")
	// staticSigContext prefixes the Noise static key in the identity's
	// signature, so the signature cannot be replayed in another context.
	staticSigContext = []byte("dchat-noise-static-key:")
)

// payloadVersion is the first byte of the handshake payload.
const payloadVersion = 1

// Handshake errors; recv.go maps them to drop reasons.
var (
	errBadPayload   = errors.New("transport: malformed handshake payload")
	errBadSignature = errors.New("transport: bad identity signature")
)

// localKeys are a host's long-lived handshake credentials: a Noise static
// key made when the host is created and the identity's endorsement of it.
//
// Concurrency: immutable after newLocalKeys.
type localKeys struct {
	id      identity.PeerID
	static  noise.DHKey
	payload []byte // payloadLen bytes
}

func newLocalKeys(id *identity.Identity, entropy io.Reader) (*localKeys, error) {
	static, err := cipherSuite.GenerateKeypair(entropy)
	if err != nil {
		return nil, fmt.Errorf("transport: static key: %w", err)
	}
	p := make([]byte, 0, payloadLen)
	p = append(p, payloadVersion)
	p = append(p, id.PublicKey()...)
	p = append(p, id.Sign(staticSigned(static.Public))...)
	return &localKeys{id: id.ID(), static: static, payload: p}, nil
}

func staticSigned(static []byte) []byte {
	return append(append(make([]byte, 0, len(staticSigContext)+dhLen), staticSigContext...), static...)
}

// verifyPayload checks a peer's handshake payload against the Noise static
// key the handshake authenticated and returns the peer's ID.
func verifyPayload(payload, peerStatic []byte) (identity.PeerID, error) {
	if len(payload) != payloadLen || payload[0] != payloadVersion || len(peerStatic) != dhLen {
		return identity.PeerID{}, errBadPayload
	}
	pub := ed25519.PublicKey(payload[1:33])
	if !ed25519.Verify(pub, staticSigned(peerStatic), payload[33:]) {
		return identity.PeerID{}, errBadSignature
	}
	return identity.PeerIDFromPublicKey(pub), nil
}

// newNoise starts one side of an XX handshake.
func newNoise(k *localKeys, initiator bool, entropy io.Reader) (*noise.HandshakeState, error) {
	return noise.NewHandshakeState(noise.Config{
		CipherSuite:   cipherSuite,
		Random:        entropy,
		Pattern:       noise.HandshakeXX,
		Initiator:     initiator,
		Prologue:      prologue,
		StaticKeypair: k.static,
	})
}

// msg1Padding is message 1's payload: zeros, sent in clear (no key yet) but
// mixed into the handshake hash. It makes an init as large as the reply it
// asks for.
var msg1Padding = make([]byte, msg1Pad)

// initiatorKey returns the Noise static key of whoever initiated a
// session: two sessions made at once between the same pair are resolved
// in favour of the one whose initiator has the lower key.
func initiatorKey(s *session, local []byte) []byte {
	if s.initiator {
		return local
	}
	return s.peerStatic
}

// lowerKeyWins reports whether a session initiated by the key a beats one
// initiated by the key b.
func lowerKeyWins(a, b []byte) bool { return bytes.Compare(a, b) < 0 }
