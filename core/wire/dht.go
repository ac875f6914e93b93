package wire

import "net/netip"

// DHT kinds (range 0x10-0x2f). See core/dht for the protocol.
const (
	// KindDHTPing asks a peer to prove it is alive at an address
	// (Kademlia's PING); answered by KindDHTPong.
	KindDHTPing Kind = 0x10
	// KindFindNode asks for the k closest peers to a target key.
	KindFindNode Kind = 0x11
	// KindNodes answers FIND_NODE (and FIND_VALUE when the value is not
	// held) with up to k peers.
	KindNodes Kind = 0x12
	// KindFindValue asks for the record stored under a key.
	KindFindValue Kind = 0x13
	// KindValue answers FIND_VALUE with a signed record.
	KindValue Kind = 0x14
	// KindStore asks a peer to keep a signed record.
	KindStore Kind = 0x15
	// KindStoreAck answers STORE.
	KindStoreAck Kind = 0x16
	// KindDHTPong answers KindDHTPing.
	KindDHTPong Kind = 0x17
)

func init() {
	RegisterKindName(KindDHTPing, "dht-ping")
	RegisterKindName(KindFindNode, "find-node")
	RegisterKindName(KindNodes, "nodes")
	RegisterKindName(KindFindValue, "find-value")
	RegisterKindName(KindValue, "value")
	RegisterKindName(KindStore, "store")
	RegisterKindName(KindStoreAck, "store-ack")
	RegisterKindName(KindDHTPong, "dht-pong")
}

// Sizes and bounds of DHT fields.
const (
	// DHTIDLen is the length of a peer's Ed25519 public key, which names
	// it on the wire (the peer ID is derived from it).
	DHTIDLen = 32
	// DHTKeyLen is the length of a DHT key (SHA-256).
	DHTKeyLen = 32
	// DHTSigLen is the length of an Ed25519 signature.
	DHTSigLen = 64
	// MaxDHTNodes bounds the entries of a NODES message (k is at most 256).
	MaxDHTNodes = 256
	// MaxDHTValue bounds a record's value.
	MaxDHTValue = 16 << 10

	// dhtNodeMinLen is the smallest NODES entry: id, flags, family 0.
	dhtNodeMinLen = DHTIDLen + 1 + 1
)

// Capability flags carried in DHT headers and NODES entries.
const (
	DHTFlagRelay        uint8 = 1 << 0
	DHTFlagNATTraversal uint8 = 1 << 1
)

// DHTHeader begins every DHT body:
//
//	request id (8) | sender public key (32) | flags (1) | max bandwidth (uvarint)
//
// Requests carry a fresh ID; responses echo it. Flags and Bandwidth
// describe the sender's own capabilities (bytes per second, 0 unknown).
type DHTHeader struct {
	ReqID     uint64
	Sender    [DHTIDLen]byte
	Flags     uint8
	Bandwidth uint64
}

func (h *DHTHeader) append(b []byte) []byte {
	b = AppendU64(b, h.ReqID)
	b = append(b, h.Sender[:]...)
	b = append(b, h.Flags)
	return AppendUvarint(b, h.Bandwidth)
}

func (h *DHTHeader) decode(r *Reader) {
	h.ReqID = r.U64("dht request id")
	copy(h.Sender[:], r.Fixed("dht sender", DHTIDLen))
	h.Flags = r.U8("dht flags")
	h.Bandwidth = r.Uvarint("dht bandwidth", 1<<63-1)
}

// DHTPing is a liveness probe (KindDHTPing): header only.
type DHTPing struct{ DHTHeader }

// AppendPacket appends the whole datagram (envelope and body).
func (m *DHTPing) AppendPacket(b []byte) []byte { return m.append(AppendEnvelope(b, KindDHTPing)) }

// DecodeDHTPing decodes a DHTPing body.
func DecodeDHTPing(body []byte) (DHTPing, error) {
	var m DHTPing
	r := NewReader(body)
	m.decode(r)
	return m, r.Done()
}

// DHTPong answers a DHTPing (KindDHTPong): header only.
type DHTPong struct{ DHTHeader }

// AppendPacket appends the whole datagram (envelope and body).
func (m *DHTPong) AppendPacket(b []byte) []byte { return m.append(AppendEnvelope(b, KindDHTPong)) }

// DecodeDHTPong decodes a DHTPong body.
func DecodeDHTPong(body []byte) (DHTPong, error) {
	var m DHTPong
	r := NewReader(body)
	m.decode(r)
	return m, r.Done()
}

// FindNode asks for the peers closest to Target (KindFindNode):
// header | target (32).
type FindNode struct {
	DHTHeader
	Target [DHTKeyLen]byte
}

// AppendPacket appends the whole datagram (envelope and body).
func (m *FindNode) AppendPacket(b []byte) []byte {
	return append(m.append(AppendEnvelope(b, KindFindNode)), m.Target[:]...)
}

// DecodeFindNode decodes a FindNode body.
func DecodeFindNode(body []byte) (FindNode, error) {
	var m FindNode
	r := NewReader(body)
	m.decode(r)
	copy(m.Target[:], r.Fixed("find-node target", DHTKeyLen))
	return m, r.Done()
}

// FindValue asks for the record under Key (KindFindValue): header | key (32).
type FindValue struct {
	DHTHeader
	Key [DHTKeyLen]byte
}

// AppendPacket appends the whole datagram (envelope and body).
func (m *FindValue) AppendPacket(b []byte) []byte {
	return append(m.append(AppendEnvelope(b, KindFindValue)), m.Key[:]...)
}

// DecodeFindValue decodes a FindValue body.
func DecodeFindValue(body []byte) (FindValue, error) {
	var m FindValue
	r := NewReader(body)
	m.decode(r)
	copy(m.Key[:], r.Fixed("find-value key", DHTKeyLen))
	return m, r.Done()
}

// DHTNode is one NODES entry: id (32) | flags (1) | address (AppendAddrPort).
type DHTNode struct {
	ID    [DHTIDLen]byte
	Flags uint8
	Addr  netip.AddrPort
}

// Nodes answers FIND_NODE or FIND_VALUE (KindNodes):
// header | count (uvarint, at most MaxDHTNodes) | entries.
type Nodes struct {
	DHTHeader
	Nodes []DHTNode
}

// AppendPacket appends the whole datagram (envelope and body).
func (m *Nodes) AppendPacket(b []byte) []byte {
	b = m.append(AppendEnvelope(b, KindNodes))
	b = AppendUvarint(b, uint64(len(m.Nodes)))
	for i := range m.Nodes {
		n := &m.Nodes[i]
		b = append(b, n.ID[:]...)
		b = append(b, n.Flags)
		b = AppendAddrPort(b, n.Addr)
	}
	return b
}

// DecodeNodes decodes a Nodes body. The count is bounded (MaxDHTNodes, and
// by the remaining bytes) before the entries are allocated.
func DecodeNodes(body []byte) (Nodes, error) { return DecodeNodesInto(body, nil) }

// DecodeNodesInto decodes a Nodes body as DecodeNodes does, but puts the
// entries in buf's array when it has room for them (m.Nodes then aliases
// buf), so that a caller decoding one message at a time allocates once.
func DecodeNodesInto(body []byte, buf []DHTNode) (Nodes, error) {
	var m Nodes
	r := NewReader(body)
	m.decode(r)
	n := r.Count("nodes", MaxDHTNodes, dhtNodeMinLen)
	if r.Err() != nil {
		return m, r.Err()
	}
	switch {
	case n == 0:
	case n <= cap(buf):
		m.Nodes = buf[:n]
		clear(m.Nodes)
	default:
		m.Nodes = make([]DHTNode, n)
	}
	for i := range m.Nodes {
		e := &m.Nodes[i]
		copy(e.ID[:], r.Fixed("nodes id", DHTIDLen))
		e.Flags = r.U8("nodes flags")
		e.Addr = r.AddrPort("nodes addr")
	}
	return m, r.Done()
}

// DHTRecord is a signed record:
//
//	key (32) | publisher public key (32) | expires (8, Unix ns) |
//	value length (uvarint, at most MaxDHTValue) | value | signature (64)
//
// The signature covers everything before it (see core/dht). Value aliases
// the decoded body.
type DHTRecord struct {
	Key       [DHTKeyLen]byte
	Publisher [DHTIDLen]byte
	Expires   int64
	Value     []byte
	Sig       [DHTSigLen]byte
}

func (rec *DHTRecord) append(b []byte) []byte {
	b = append(b, rec.Key[:]...)
	b = append(b, rec.Publisher[:]...)
	b = AppendU64(b, uint64(rec.Expires))
	b = AppendBytes(b, rec.Value)
	return append(b, rec.Sig[:]...)
}

func (rec *DHTRecord) decode(r *Reader) {
	copy(rec.Key[:], r.Fixed("record key", DHTKeyLen))
	copy(rec.Publisher[:], r.Fixed("record publisher", DHTIDLen))
	rec.Expires = int64(r.U64("record expires"))
	rec.Value = r.Bytes("record value", MaxDHTValue)
	copy(rec.Sig[:], r.Fixed("record sig", DHTSigLen))
}

// Value answers FIND_VALUE with the record (KindValue): header | record.
type Value struct {
	DHTHeader
	Record DHTRecord
}

// AppendPacket appends the whole datagram (envelope and body).
func (m *Value) AppendPacket(b []byte) []byte {
	return m.Record.append(m.append(AppendEnvelope(b, KindValue)))
}

// DecodeValue decodes a Value body.
func DecodeValue(body []byte) (Value, error) {
	var m Value
	r := NewReader(body)
	m.decode(r)
	m.Record.decode(r)
	return m, r.Done()
}

// Store asks the receiver to keep a record (KindStore): header | record.
type Store struct {
	DHTHeader
	Record DHTRecord
}

// AppendPacket appends the whole datagram (envelope and body).
func (m *Store) AppendPacket(b []byte) []byte {
	return m.Record.append(m.append(AppendEnvelope(b, KindStore)))
}

// DecodeStore decodes a Store body.
func DecodeStore(body []byte) (Store, error) {
	var m Store
	r := NewReader(body)
	m.decode(r)
	m.Record.decode(r)
	return m, r.Done()
}

// StoreAck answers STORE (KindStoreAck): header | ok (1: 0 refused, 1 kept).
type StoreAck struct {
	DHTHeader
	OK bool
}

// AppendPacket appends the whole datagram (envelope and body).
func (m *StoreAck) AppendPacket(b []byte) []byte {
	b = m.append(AppendEnvelope(b, KindStoreAck))
	if m.OK {
		return append(b, 1)
	}
	return append(b, 0)
}

// DecodeStoreAck decodes a StoreAck body; the ok byte must be 0 or 1.
func DecodeStoreAck(body []byte) (StoreAck, error) {
	var m StoreAck
	r := NewReader(body)
	m.decode(r)
	switch ok := r.U8("store-ack ok"); {
	case r.Err() != nil:
	case ok > 1:
		r.fail("store-ack ok: %d is not 0 or 1", ok)
	default:
		m.OK = ok == 1
	}
	return m, r.Done()
}
