package dht

import (
	"bytes"
	"errors"
	"fmt"
	"time"

	"github.com/dchat/network/core/identity"
	"github.com/dchat/network/core/wire"
)

// Record errors (all observed as the drop reason "bad-record").
var (
	ErrBadSignature = errors.New("dht: record signature does not verify")
	ErrExpired      = errors.New("dht: record expired")
	ErrTooLong      = errors.New("dht: record expiry beyond the TTL")
	ErrWrongKey     = errors.New("dht: record under another key")
	ErrValueTooLong = errors.New("dht: record value too large")
)

// recordDomain separates record signatures from every other signature.
const recordDomain = "dchat/dht/record/v1\x00"

// Record is a value stored in the DHT under Key, signed by its Publisher
// (Ed25519, RFC 8032) over a domain separator, the key, the publisher's
// public key, the expiry and the value. It is valid until Expires.
type Record struct {
	Key       identity.Key
	Publisher identity.PeerID
	Expires   time.Time
	Value     []byte
	Sig       [wire.DHTSigLen]byte
}

// SignRecord returns the record for (key, value) signed by id, valid until
// expires.
func SignRecord(id *identity.Identity, key identity.Key, value []byte, expires time.Time) Record {
	r := Record{Key: key, Publisher: id.ID(), Expires: time.Unix(0, expires.UnixNano()).UTC(), Value: bytes.Clone(value)}
	copy(r.Sig[:], id.Sign(r.signed()))
	return r
}

func (r *Record) signed() []byte {
	b := make([]byte, 0, len(recordDomain)+identity.KeyLen+wire.DHTIDLen+8+len(r.Value))
	b = append(b, recordDomain...)
	b = append(b, r.Key[:]...)
	pub := pubKey(r.Publisher)
	b = append(b, pub[:]...)
	b = wire.AppendU64(b, uint64(r.Expires.UnixNano()))
	return append(b, r.Value...)
}

// Verify checks the signature, that the record is not expired at now and
// that its expiry is at most maxTTL (plus skew) ahead.
func (r *Record) Verify(now time.Time, maxTTL time.Duration) error {
	switch {
	case !r.Expires.After(now):
		return ErrExpired
	case r.Expires.Sub(now) > maxTTL:
		return fmt.Errorf("%w: expires in %v", ErrTooLong, r.Expires.Sub(now))
	case r.Publisher.IsZero() || !r.Publisher.Verify(r.signed(), r.Sig[:]):
		return ErrBadSignature
	}
	return nil
}

func (r *Record) wire() wire.DHTRecord {
	return wire.DHTRecord{Key: r.Key, Publisher: pubKey(r.Publisher), Expires: r.Expires.UnixNano(), Value: r.Value, Sig: r.Sig}
}

// recordFrom converts a decoded record, copying the value out of the
// packet buffer.
func recordFrom(w *wire.DHTRecord) Record {
	return Record{
		Key:       identity.Key(w.Key),
		Publisher: identity.PeerIDFromPublicKey(w.Publisher[:]),
		Expires:   time.Unix(0, w.Expires).UTC(),
		Value:     bytes.Clone(w.Value),
		Sig:       w.Sig,
	}
}
