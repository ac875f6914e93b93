package wire

// Gossip anti-entropy kinds (see core/gossip, "Anti-entropy repair").
const (
	// KindDigest summarises the message IDs the sender holds, per bucket
	// of message timestamps; the receiver answers with a DigestReply.
	KindDigest Kind = 0x33
	// KindDigestReply lists IDs the sender holds in the buckets where a
	// Digest differed from its own holdings.
	KindDigestReply Kind = 0x34
)

func init() {
	RegisterKindName(KindDigest, "digest")
	RegisterKindName(KindDigestReply, "digest-reply")
}

// Bounds of the anti-entropy messages.
const (
	// MaxDigestBuckets bounds a Digest's span and so its bucket list.
	MaxDigestBuckets = 4096
	// MaxDigestCount bounds one bucket's count.
	MaxDigestCount = 1 << 24
	// MaxDigestWidth bounds a bucket's width in nanoseconds (one hour).
	MaxDigestWidth = 3600 * 1000 * 1000 * 1000
	// DigestBucketMinLen is the least a bucket takes on the wire: one-byte
	// gap and count, and the fingerprint.
	DigestBucketMinLen = 1 + 1 + 8
	// DigestFlagCounter marks a digest sent because the receiver's own
	// digest showed it may hold something the sender lacks; it is never
	// answered by another counter-digest.
	DigestFlagCounter = 0x01
)

// DigestBucket is one non-empty bucket of a Digest: the bucket's index in
// the digest's span, how many IDs it holds and the XOR of their first 8
// bytes (big-endian).
type DigestBucket struct {
	Index       uint32
	Count       uint32
	Fingerprint uint64
}

// Digest (KindDigest) summarises the IDs the sender holds whose message
// timestamps fall in [Start, Start+Span*Width): bucket i covers
// [Start+i*Width, Start+(i+1)*Width). Only non-empty buckets are listed,
// in increasing index order. Pad zero bytes follow: a requester pads its
// digest to let the reply list more IDs, since a reply is never larger
// than its request. The body is
//
//	flags (1) | start (8, Unix ns) | width (uvarint ns, 1 to MaxDigestWidth) |
//	span (uvarint, at most MaxDigestBuckets) | bucket count (uvarint) |
//	per bucket: index gap (uvarint: index - previous index - 1, the first
//	from -1) | count (uvarint, 1 to MaxDigestCount) | fingerprint (8) |
//	pad length (uvarint) | pad (zeros)
type Digest struct {
	Flags   uint8
	Start   int64
	Width   uint64
	Span    uint32
	Buckets []DigestBucket
	Pad     int
}

// AppendPacket appends the whole datagram (envelope and body).
func (m *Digest) AppendPacket(b []byte) []byte {
	b = AppendEnvelope(b, KindDigest)
	b = append(b, m.Flags)
	b = AppendU64(b, uint64(m.Start))
	b = AppendUvarint(b, m.Width)
	b = AppendUvarint(b, uint64(m.Span))
	b = AppendUvarint(b, uint64(len(m.Buckets)))
	prev := int64(-1)
	for _, k := range m.Buckets {
		b = AppendUvarint(b, uint64(int64(k.Index)-prev-1))
		b = AppendUvarint(b, uint64(k.Count))
		b = AppendU64(b, k.Fingerprint)
		prev = int64(k.Index)
	}
	b = AppendUvarint(b, uint64(m.Pad))
	for range m.Pad {
		b = append(b, 0)
	}
	return b
}

// BodyLen returns the length of the body AppendPacket produces (the
// datagram less HeaderLen).
func (m *Digest) BodyLen() int {
	n := 1 + 8 + uvarintLen(m.Width) + uvarintLen(uint64(m.Span)) + uvarintLen(uint64(len(m.Buckets)))
	prev := int64(-1)
	for _, k := range m.Buckets {
		n += uvarintLen(uint64(int64(k.Index)-prev-1)) + uvarintLen(uint64(k.Count)) + 8
		prev = int64(k.Index)
	}
	return n + uvarintLen(uint64(m.Pad)) + m.Pad
}

// DecodeDigest decodes a Digest body. Indices must increase and stay
// within the span, counts be positive, unknown flags and pad bytes zero.
func DecodeDigest(body []byte) (Digest, error) {
	var m Digest
	r := NewReader(body)
	m.Flags = r.U8("digest flags")
	m.Start = int64(r.U64("digest start"))
	m.Width = r.Uvarint("digest width", MaxDigestWidth)
	m.Span = uint32(r.Uvarint("digest span", MaxDigestBuckets))
	n := r.Count("digest buckets", MaxDigestBuckets, DigestBucketMinLen)
	if r.Err() != nil {
		return Digest{}, r.Err()
	}
	switch {
	case m.Flags&^DigestFlagCounter != 0:
		r.fail("digest flags %#x: unknown bits", m.Flags)
	case m.Width == 0:
		r.fail("digest width 0")
	case n > int(m.Span):
		r.fail("digest: %d buckets in a span of %d", n, m.Span)
	}
	if r.Err() != nil {
		return Digest{}, r.Err()
	}
	if n > 0 {
		m.Buckets = make([]DigestBucket, n)
	}
	next := uint64(0) // the least index the next bucket may have
	for i := range m.Buckets {
		idx := next + r.Uvarint("digest bucket gap", MaxDigestBuckets)
		c := r.Uvarint("digest bucket count", MaxDigestCount)
		fp := r.U64("digest bucket fingerprint")
		if r.Err() != nil {
			return Digest{}, r.Err()
		}
		if idx >= uint64(m.Span) || c == 0 {
			r.fail("digest bucket %d: index %d of span %d, count %d", i, idx, m.Span, c)
			return Digest{}, r.Err()
		}
		m.Buckets[i] = DigestBucket{Index: uint32(idx), Count: uint32(c), Fingerprint: fp}
		next = idx + 1
	}
	pad := r.Bytes("digest pad", MaxPacket)
	for _, c := range pad {
		if c != 0 {
			r.fail("digest pad: non-zero byte")
			break
		}
	}
	m.Pad = len(pad)
	if err := r.Done(); err != nil {
		return Digest{}, err
	}
	return m, nil
}

// DigestReply (KindDigestReply) answers a Digest with IDs the sender
// holds in the buckets that differed, oldest first, and how many more it
// holds there that did not fit (the requester pads its next digest to make
// room for them). The body is more (uvarint, at most MaxDigestCount) then
// the IDs as in IHave.
type DigestReply struct {
	More uint32
	IDs  [][GossipIDLen]byte
}

// AppendPacket appends the whole datagram (envelope and body).
func (m DigestReply) AppendPacket(b []byte) []byte {
	b = AppendEnvelope(b, KindDigestReply)
	b = AppendUvarint(b, uint64(m.More))
	return appendIDs(b, m.IDs)
}

// DigestReplyLen returns the body length of a DigestReply with n IDs and
// the given more count.
func DigestReplyLen(more uint32, n int) int {
	return uvarintLen(uint64(more)) + uvarintLen(uint64(n)) + n*GossipIDLen
}

// DecodeDigestReply decodes a DigestReply body.
func DecodeDigestReply(body []byte) (DigestReply, error) {
	r := NewReader(body)
	more := r.Uvarint("digest-reply more", MaxDigestCount)
	if r.Err() != nil {
		return DigestReply{}, r.Err()
	}
	ids, err := decodeIDs(body[len(body)-r.Len():], "digest-reply")
	if err != nil {
		return DigestReply{}, err
	}
	return DigestReply{More: uint32(more), IDs: ids}, nil
}
