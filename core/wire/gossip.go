package wire

// Gossip kinds (range 0x30-0x3f). See core/gossip for the protocol.
const (
	// KindGossip carries one signed gossip message, pushed or sent in
	// answer to an IWANT.
	KindGossip Kind = 0x30
	// KindIHave announces the IDs of messages the sender holds.
	KindIHave Kind = 0x31
	// KindIWant asks for the messages with the given IDs.
	KindIWant Kind = 0x32
)

func init() {
	RegisterKindName(KindGossip, "gossip")
	RegisterKindName(KindIHave, "ihave")
	RegisterKindName(KindIWant, "iwant")
}

// Sizes of gossip fields.
const (
	// GossipIDLen is the length of a message ID (SHA-256).
	GossipIDLen = 32
	// GossipKeyLen is the length of the sender's Ed25519 public key.
	GossipKeyLen = 32
	// GossipSigLen is the length of an Ed25519 signature.
	GossipSigLen = 64

	// gossipFixedLen is every field of a Gossip body but the payload and
	// its length prefix.
	gossipFixedLen = GossipIDLen + 1 + 1 + GossipKeyLen + 8 + 8 + GossipSigLen

	// MaxGossipPayload is the largest payload a Gossip datagram can carry:
	// MaxPacket less the envelope, the fixed fields and a 3-byte length.
	MaxGossipPayload = MaxPacket - HeaderLen - gossipFixedLen - 3

	// MaxGossipIDs bounds the ID list of an IHAVE or IWANT, so that one
	// always fits a datagram (2 + 2 + 2000*32 bytes).
	MaxGossipIDs = 2000
)

// Gossip is one signed gossip message (KindGossip). The body is
//
//	id (32) | ttl (1) | hops (1) | sender (32) | seq (8) | time (8) |
//	sig (64) | payload length (uvarint) | payload
//
// ID is SHA-256 of the content (sender, seq, time, payload; see
// gossip.ComputeID), carried so a receiver can deduplicate before hashing.
// TTL and Hops change at every hop and are covered by neither the ID nor the
// signature; Sig signs the ID. Time is Unix nanoseconds. Payload aliases the
// decoded body.
type Gossip struct {
	ID      [GossipIDLen]byte
	TTL     uint8
	Hops    uint8
	Sender  [GossipKeyLen]byte
	Seq     uint64
	Time    int64
	Sig     [GossipSigLen]byte
	Payload []byte
}

// AppendPacket appends the whole datagram (envelope and body).
func (m *Gossip) AppendPacket(b []byte) []byte {
	b = AppendEnvelope(b, KindGossip)
	b = append(b, m.ID[:]...)
	b = append(b, m.TTL, m.Hops)
	b = append(b, m.Sender[:]...)
	b = AppendU64(b, m.Seq)
	b = AppendU64(b, uint64(m.Time))
	b = append(b, m.Sig[:]...)
	return AppendBytes(b, m.Payload)
}

// PacketLen returns the length of the datagram AppendPacket produces.
func (m *Gossip) PacketLen() int {
	return HeaderLen + gossipFixedLen + uvarintLen(uint64(len(m.Payload))) + len(m.Payload)
}

// DecodeGossip decodes a Gossip body. The payload is bounded by
// MaxGossipPayload before it is sliced; it aliases body.
func DecodeGossip(body []byte) (Gossip, error) {
	var m Gossip
	err := m.decode(body)
	return m, err
}

func (m *Gossip) decode(body []byte) error {
	r := NewReader(body)
	copy(m.ID[:], r.Fixed("gossip id", GossipIDLen))
	m.TTL = r.U8("gossip ttl")
	m.Hops = r.U8("gossip hops")
	copy(m.Sender[:], r.Fixed("gossip sender", GossipKeyLen))
	m.Seq = r.U64("gossip seq")
	m.Time = int64(r.U64("gossip time"))
	copy(m.Sig[:], r.Fixed("gossip sig", GossipSigLen))
	m.Payload = r.Bytes("gossip payload", MaxGossipPayload)
	return r.Done()
}

// IHave announces message IDs (KindIHave), after GossipSub v1.1's IHAVE:
// the receiver asks for the ones it lacks with an IWant. The body is a
// uvarint count (at most MaxGossipIDs) followed by the IDs.
type IHave struct {
	IDs [][GossipIDLen]byte
}

// AppendPacket appends the whole datagram (envelope and body).
func (m IHave) AppendPacket(b []byte) []byte {
	return appendIDs(AppendEnvelope(b, KindIHave), m.IDs)
}

// DecodeIHave decodes an IHave body.
func DecodeIHave(body []byte) (IHave, error) {
	ids, err := decodeIDs(body, "ihave")
	return IHave{IDs: ids}, err
}

// IWant requests the messages with the given IDs (KindIWant); the holder
// answers with one Gossip datagram per message it still has. The body has
// the same shape as IHave's.
type IWant struct {
	IDs [][GossipIDLen]byte
}

// AppendPacket appends the whole datagram (envelope and body).
func (m IWant) AppendPacket(b []byte) []byte {
	return appendIDs(AppendEnvelope(b, KindIWant), m.IDs)
}

// DecodeIWant decodes an IWant body.
func DecodeIWant(body []byte) (IWant, error) {
	ids, err := decodeIDs(body, "iwant")
	return IWant{IDs: ids}, err
}

func appendIDs(b []byte, ids [][GossipIDLen]byte) []byte {
	b = AppendUvarint(b, uint64(len(ids)))
	for i := range ids {
		b = append(b, ids[i][:]...)
	}
	return b
}

func decodeIDs(body []byte, what string) ([][GossipIDLen]byte, error) {
	r := NewReader(body)
	n := r.Count(what+" ids", MaxGossipIDs, GossipIDLen)
	if r.Err() != nil {
		return nil, r.Err()
	}
	ids := make([][GossipIDLen]byte, n)
	for i := range ids {
		copy(ids[i][:], r.Fixed(what+" id", GossipIDLen))
	}
	return ids, r.Done()
}
