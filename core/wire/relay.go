package wire

import "net/netip"

// Relay kinds (range 0x50-0x5f; 0x40-0x4f is the connection manager's).
// See core/relay for the protocol.
const (
	// KindRelayData carries a payload along an explicit path of relays,
	// with the hand-off records of the hops it has passed.
	KindRelayData Kind = 0x50
	// KindRelayAck is the recipient's signed acknowledgement, with the
	// hop chain it received; it goes to the sender and back along the path.
	KindRelayAck Kind = 0x51
	// KindRelayReceipt is one hop's signed hand-off record, sent straight
	// to the sender when the hop passes the message on.
	KindRelayReceipt Kind = 0x52
)

func init() {
	RegisterKindName(KindRelayData, "relay-data")
	RegisterKindName(KindRelayAck, "relay-ack")
	RegisterKindName(KindRelayReceipt, "relay-receipt")
}

// Sizes and bounds of relay fields.
const (
	// RelayIDLen is the length of a relay message ID (SHA-256).
	RelayIDLen = 32
	// RelayKeyLen is the length of an Ed25519 public key naming a peer.
	RelayKeyLen = 32
	// RelaySigLen is the length of an Ed25519 signature.
	RelaySigLen = 64
	// MaxRelayPath bounds the relays of a path on the wire (core.Config's
	// max_relay_hops is at most 8).
	MaxRelayPath = 8
	// RelayRecordLen is the length of one hand-off record:
	// received (8) | handed off (8) | signature (64).
	RelayRecordLen = 8 + 8 + RelaySigLen

	// relayHopMinLen is the smallest path entry: key and address family 0.
	relayHopMinLen = RelayKeyLen + 1
	// relayHopMaxLen is the largest path entry: key and an IPv6 address.
	relayHopMaxLen = RelayKeyLen + maxAddrLen
	// maxAddrLen is the largest AppendAddrPort encoding (family, 16, port).
	maxAddrLen = 1 + 16 + 2

	// relayDataMaxOverhead is the largest RelayData body less its payload:
	// every field at its longest, MaxRelayPath hops and records, and a
	// 3-byte payload length.
	relayDataMaxOverhead = RelayIDLen + RelayKeyLen + maxAddrLen + 8 + 8 +
		RelayKeyLen + maxAddrLen + 1 + MaxRelayPath*relayHopMaxLen + RelaySigLen +
		1 + MaxRelayPath*RelayRecordLen + 3

	// MaxRelayPayload is the largest payload a RelayData datagram can
	// carry whatever its path: MaxPacket less the envelope and the largest
	// overhead.
	MaxRelayPayload = MaxPacket - HeaderLen - relayDataMaxOverhead

	// RelayReceiptLen is the fixed length of a RelayReceipt body.
	RelayReceiptLen = RelayIDLen + 1 + RelayRecordLen
)

// RelayHop names a peer on a relay path: its Ed25519 public key and the
// address it is reached at.
type RelayHop struct {
	Key  [RelayKeyLen]byte
	Addr netip.AddrPort
}

// RelayRecord is one hop's hand-off record: when it received the message
// and when it handed it off (Unix nanoseconds), and its signature over
// them, the message ID, its position and the next peer (see core/relay).
type RelayRecord struct {
	Received  int64
	HandedOff int64
	Sig       [RelaySigLen]byte
}

func (rec *RelayRecord) append(b []byte) []byte {
	b = AppendU64(b, uint64(rec.Received))
	b = AppendU64(b, uint64(rec.HandedOff))
	return append(b, rec.Sig[:]...)
}

func (rec *RelayRecord) decode(r *Reader) {
	rec.Received = int64(r.U64("relay record received"))
	rec.HandedOff = int64(r.U64("relay record handed off"))
	copy(rec.Sig[:], r.Fixed("relay record sig", RelaySigLen))
}

func appendRecords(b []byte, recs []RelayRecord) []byte {
	b = AppendUvarint(b, uint64(len(recs)))
	for i := range recs {
		b = recs[i].append(b)
	}
	return b
}

// decodeRecords reads a record count (at most MaxRelayPath, and no more
// than the remaining bytes can hold) and then the records.
func decodeRecords(r *Reader, what string) []RelayRecord {
	n := r.Count(what, MaxRelayPath, RelayRecordLen)
	if r.Err() != nil || n == 0 {
		return nil
	}
	recs := make([]RelayRecord, n)
	for i := range recs {
		recs[i].decode(r)
	}
	return recs
}

// RelayData is a relayed message (KindRelayData). The body is
//
//	id (32) | sender key (32) | sender address | nonce (8) | sent (8) |
//	recipient key (32) | recipient address |
//	path count (uvarint, at most MaxRelayPath) | path: key (32) | address |
//	route signature (64) |
//	record count (uvarint, at most MaxRelayPath) | records (80 each) |
//	payload length (uvarint, at most MaxRelayPayload) | payload
//
// Addresses are AppendAddrPort encodings. ID is SHA-256 over the sender,
// the nonce and the payload's hash (see relay.ComputeID); Sent is Unix
// nanoseconds; RouteSig is the sender's signature over ID, Sent, recipient
// and path keys. Each hop appends its record before passing the message on,
// so Records grows from 0 (from the sender) to len(Path) (at the
// recipient). Payload aliases the decoded body.
type RelayData struct {
	ID         [RelayIDLen]byte
	Sender     [RelayKeyLen]byte
	SenderAddr netip.AddrPort
	Nonce      uint64
	Sent       int64
	Recipient  RelayHop
	Path       []RelayHop
	RouteSig   [RelaySigLen]byte
	Records    []RelayRecord
	Payload    []byte
}

// AppendPacket appends the whole datagram (envelope and body).
func (m *RelayData) AppendPacket(b []byte) []byte {
	b = AppendEnvelope(b, KindRelayData)
	b = append(b, m.ID[:]...)
	b = append(b, m.Sender[:]...)
	b = AppendAddrPort(b, m.SenderAddr)
	b = AppendU64(b, m.Nonce)
	b = AppendU64(b, uint64(m.Sent))
	b = append(b, m.Recipient.Key[:]...)
	b = AppendAddrPort(b, m.Recipient.Addr)
	b = AppendUvarint(b, uint64(len(m.Path)))
	for i := range m.Path {
		b = append(b, m.Path[i].Key[:]...)
		b = AppendAddrPort(b, m.Path[i].Addr)
	}
	b = append(b, m.RouteSig[:]...)
	b = appendRecords(b, m.Records)
	return AppendBytes(b, m.Payload)
}

// DecodeRelayData decodes a RelayData body. Path and record counts are
// bounded (MaxRelayPath, and by the remaining bytes) before anything is
// allocated; the payload by MaxRelayPayload before it is sliced.
func DecodeRelayData(body []byte) (RelayData, error) {
	var m RelayData
	r := NewReader(body)
	copy(m.ID[:], r.Fixed("relay id", RelayIDLen))
	copy(m.Sender[:], r.Fixed("relay sender", RelayKeyLen))
	m.SenderAddr = r.AddrPort("relay sender addr")
	m.Nonce = r.U64("relay nonce")
	m.Sent = int64(r.U64("relay sent"))
	copy(m.Recipient.Key[:], r.Fixed("relay recipient", RelayKeyLen))
	m.Recipient.Addr = r.AddrPort("relay recipient addr")
	n := r.Count("relay path", MaxRelayPath, relayHopMinLen)
	if r.Err() != nil {
		return m, r.Err()
	}
	if n > 0 {
		m.Path = make([]RelayHop, n)
	}
	for i := range m.Path {
		copy(m.Path[i].Key[:], r.Fixed("relay path key", RelayKeyLen))
		m.Path[i].Addr = r.AddrPort("relay path addr")
	}
	copy(m.RouteSig[:], r.Fixed("relay route sig", RelaySigLen))
	m.Records = decodeRecords(r, "relay records")
	m.Payload = r.Bytes("relay payload", MaxRelayPayload)
	return m, r.Done()
}

// RelayAck is the recipient's acknowledgement (KindRelayAck). The body is
//
//	id (32) | received (8) | record count (uvarint, at most MaxRelayPath) |
//	records (80 each) | signature (64)
//
// Received is the recipient's receive time (Unix nanoseconds); Records is
// the hop chain the message arrived with; Sig is the recipient's signature
// over the ID, its key, Received and the chain's hash (see core/relay).
type RelayAck struct {
	ID       [RelayIDLen]byte
	Received int64
	Records  []RelayRecord
	Sig      [RelaySigLen]byte
}

// AppendPacket appends the whole datagram (envelope and body).
func (m *RelayAck) AppendPacket(b []byte) []byte {
	b = AppendEnvelope(b, KindRelayAck)
	b = append(b, m.ID[:]...)
	b = AppendU64(b, uint64(m.Received))
	b = appendRecords(b, m.Records)
	return append(b, m.Sig[:]...)
}

// DecodeRelayAck decodes a RelayAck body.
func DecodeRelayAck(body []byte) (RelayAck, error) {
	var m RelayAck
	r := NewReader(body)
	copy(m.ID[:], r.Fixed("relay-ack id", RelayIDLen))
	m.Received = int64(r.U64("relay-ack received"))
	m.Records = decodeRecords(r, "relay-ack records")
	copy(m.Sig[:], r.Fixed("relay-ack sig", RelaySigLen))
	return m, r.Done()
}

// RelayReceipt is one hop's hand-off record sent to the sender
// (KindRelayReceipt). The body has a fixed length of 113 bytes:
//
//	id (32) | hop index (1) | received (8) | handed off (8) | signature (64)
type RelayReceipt struct {
	ID     [RelayIDLen]byte
	Hop    uint8
	Record RelayRecord
}

// AppendPacket appends the whole datagram (envelope and body).
func (m *RelayReceipt) AppendPacket(b []byte) []byte {
	b = AppendEnvelope(b, KindRelayReceipt)
	b = append(b, m.ID[:]...)
	b = append(b, m.Hop)
	return m.Record.append(b)
}

// DecodeRelayReceipt decodes a RelayReceipt body.
func DecodeRelayReceipt(body []byte) (RelayReceipt, error) {
	var m RelayReceipt
	r := NewReader(body)
	copy(m.ID[:], r.Fixed("relay-receipt id", RelayIDLen))
	m.Hop = r.U8("relay-receipt hop")
	m.Record.decode(r)
	return m, r.Done()
}
