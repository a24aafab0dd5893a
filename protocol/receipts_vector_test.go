package protocol

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"duet/crypto"
)

// receiptsVector is testdata/vectors/receipts.json: B's records after its
// CONFIRM of handshake.json (docs/PROTOCOL.md, section 8): a TYPING, a READ
// naming A's CHAT, a record of a type no duet knows yet (0x7f), and a
// CHATS record of three messages (a burst), each
// sealed under the B-to-A chain's key of its seq (the chain starts at
// key_ba for seq_b + 1) with the next record nonces of B's stream. A, after
// opening record_confirm_b, accepts all three in order; it ignores and
// counts the unknown one, and shows the three messages in order.
type receiptsVector struct {
	Comment        string   `json:"comment"`
	Handshake      string   `json:"handshake"`
	TimeUnixNano   int64    `json:"time_unix_nano"`
	TypingB        hexBytes `json:"record_typing_b"`
	ReadB          hexBytes `json:"record_read_b"`
	ReadIDs        []uint64 `json:"read_ids"`
	UnknownB       hexBytes `json:"record_unknown_b"`
	UnknownType    byte     `json:"unknown_type"`
	UnknownPayload hexBytes `json:"unknown_payload"`
	// ChatsB is a CHATS record (seq_b + 5) carrying Chats, in order.
	ChatsB hexBytes     `json:"record_chats_b"`
	Chats  []vectorChat `json:"chats"`
}

// vectorChat is one chat message of a vector's CHATS record.
type vectorChat struct {
	ID     uint64 `json:"id"`
	Prev   uint64 `json:"prev"`
	SentAt int64  `json:"sent_at"`
	Text   string `json:"text"`
}

// encodeChats is the CHATS payload of cs, written out from
// docs/PROTOCOL.md section 8 (u64 id, u64 prev, i64 sent_at, u32 len,
// text), independently of AppendChats.
func encodeChats(cs []vectorChat) []byte {
	var p []byte
	for _, c := range cs {
		p = binary.BigEndian.AppendUint64(p, c.ID)
		p = binary.BigEndian.AppendUint64(p, c.Prev)
		p = binary.BigEndian.AppendUint64(p, uint64(c.SentAt))
		p = binary.BigEndian.AppendUint32(p, uint32(len(c.Text)))
		p = append(p, c.Text...)
	}
	return p
}

// bDrawsBeforeRecords is how many bytes B's stream gives the handshake
// before its record nonces: ephemeral private (32), the ML-KEM
// encapsulation's m (32, vectors only), hello nonce (12), PSS salt (32),
// seq_B (4), OAEP seed (32).
const bDrawsBeforeRecords = 32 + 32 + 12 + 32 + 4 + 32

// generateReceiptsVector rebuilds B's record layer from handshake.json,
// checks its CONFIRM comes out byte for byte, and seals the three records.
func generateReceiptsVector(t *testing.T, hv *handshakeVector) *receiptsVector {
	t.Helper()
	idA, err := crypto.ParseIdentityPEM([]byte(hv.APrivateKeyPEM))
	if err != nil {
		t.Fatal(err)
	}
	res := &HandshakeResult{Role: RoleResponder, SendSeq: hv.SeqB, RecvSeq: hv.SeqA, PeerKey: idA.Public(),
		Keys: sessionKeys{encAB: hv.KeyAB, encBA: hv.KeyBA, macAB: hv.MacAB, macBA: hv.MacBA}}
	copy(res.Transcript[:], hv.TranscriptHashTH)
	now := time.Unix(0, hv.TimeUnixNano)
	rb := &streamReader{seed: []byte(hv.BRandomSeed)}
	rb.Read(make([]byte, bDrawsBeforeRecords))
	sb, err := NewSession(res, SessionConfig{}, rb, now)
	if err != nil {
		t.Fatal(err)
	}
	th := sb.Transcript()
	if c, _, err := sb.Seal(nil, TypeConfirm, th[:], now); err != nil || !bytes.Equal(c, hv.ConfirmB) {
		t.Fatalf("B's confirm resealed: %x, %v; want the vector's", c, err)
	}
	v := &receiptsVector{
		Comment:        "duet/2 TYPING, READ, unknown-type and CHATS records (docs/PROTOCOL.md section 8) from B, after record_confirm_b of handshake (seq_b + 2, + 3, + 4, + 5), each sealed under the B-to-A chain's key of its seq (K_b || ck_b+1 = HKDF-Expand-SHA-256(ck_b, \"duet/2 record keys\", 544), record seq_b + 1 + 16b + j under K_b[32j:32j+32], ck_0 = key_ba) at time_unix_nano with the next record nonces of B's stream. A accepts all four; it shows B typing, reports read_ids read (chat_a_id, its own CHAT), ignores and counts the record of unknown_type, and shows the CHATS record's three messages (chats: id, prev, sent_at, text) in order, each with the record's seq. All byte strings hex.",
		Handshake:      "handshake.json",
		TimeUnixNano:   hv.TimeUnixNano,
		ReadIDs:        []uint64{hv.ChatAID},
		UnknownType:    TypeRecordLast,
		UnknownPayload: hexBytes("duet/2 a record type from the future"),
	}
	v.TypingB, _, _ = sb.Seal(nil, TypeTyping, nil, now)
	v.ReadB, _, _ = sb.Seal(nil, TypeRead, AppendRead(nil, v.ReadIDs), now)
	v.UnknownB, _, _ = sb.Seal(nil, v.UnknownType, v.UnknownPayload, now)
	v.Chats = []vectorChat{
		{ID: 0x0b0b000000000001, SentAt: hv.TimeUnixNano, Text: "first of a burst"},
		{ID: 0x0b0b000000000002, Prev: 0x0b0b000000000001, SentAt: hv.TimeUnixNano, Text: "второй"},
		{ID: 0x0b0b000000000003, Prev: 0x0b0b000000000002, SentAt: hv.TimeUnixNano, Text: "三番目 🎉"},
	}
	cs := make([]Chat, len(v.Chats))
	for i, c := range v.Chats {
		cs[i] = Chat(c)
	}
	v.ChatsB, _, _ = sb.Seal(nil, TypeChats, AppendChats(nil, cs), now)
	return v
}

func TestReceiptsVector(t *testing.T) {
	var hv handshakeVector
	readJSON(t, filepath.Join(vectorDir, "handshake.json"), &hv)
	path := filepath.Join(vectorDir, "receipts.json")
	if *updateVectors {
		b, _ := json.MarshalIndent(generateReceiptsVector(t, &hv), "", "  ")
		if err := os.WriteFile(path, append(b, '\n'), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	var v receiptsVector
	readJSON(t, path, &v)
	t.Run("relations", func(t *testing.T) { checkReceiptsVector(t, &hv, &v) })
	t.Run("regenerate", func(t *testing.T) {
		gb, _ := json.Marshal(generateReceiptsVector(t, &hv))
		vb, _ := json.Marshal(&v)
		if !bytes.Equal(gb, vb) {
			t.Fatal("regenerating the vector from handshake.json gives different bytes")
		}
	})
	t.Run("receiver", func(t *testing.T) { checkReceiptsReceiver(t, &hv, &v) })
}

func readJSON(t *testing.T, path string, v any) {
	t.Helper()
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(raw, v); err != nil {
		t.Fatal(err)
	}
}

// checkReceiptsVector checks the records from the JSON alone: headers,
// and payloads opened with AES-256-GCM under the B-to-A chain's key of
// each seq (computed from key_ba with HMAC), the header as AD.
func checkReceiptsVector(t *testing.T, hv *handshakeVector, v *receiptsVector) {
	mk := recordKeys(hv.KeyBA, 5) // seq_b + 1 .. + 5
	for i, r := range []struct {
		name    string
		rec     []byte
		typ     byte
		payload []byte
	}{
		{"typing", v.TypingB, 0x17, nil},
		{"read", v.ReadB, 0x18, binary.BigEndian.AppendUint64(nil, hv.ChatAID)},
		{"unknown", v.UnknownB, v.UnknownType, v.UnknownPayload},
		{"chats", v.ChatsB, 0x1b, encodeChats(v.Chats)},
	} {
		if len(r.rec) < 42 || r.rec[0] != 2 || r.rec[1] != r.typ {
			t.Fatalf("%s: header %x", r.name, r.rec[:min(len(r.rec), 2)])
		}
		if seq := binary.BigEndian.Uint32(r.rec[2:]); seq != hv.SeqB+2+uint32(i) {
			t.Fatalf("%s: seq %d, want seq_b + %d", r.name, seq, 2+i)
		}
		if ts := int64(binary.BigEndian.Uint64(r.rec[6:])); ts != v.TimeUnixNano {
			t.Fatalf("%s: timestamp %d", r.name, ts)
		}
		var nonce [12]byte
		copy(nonce[:], r.rec[14:26])
		aead, err := crypto.NewAEAD(mk[1+i])
		if err != nil {
			t.Fatal(err)
		}
		p, err := aead.Open(nil, &nonce, r.rec[26:], r.rec[:26])
		if err != nil || !bytes.Equal(p, r.payload) {
			t.Fatalf("%s: opens to %x, %v; want %x", r.name, p, err, r.payload)
		}
	}
	if v.UnknownType <= TypeChats || v.UnknownType > 0x7f {
		t.Fatalf("unknown_type 0x%02x is not an unassigned record type", v.UnknownType)
	}
}

// checkReceiptsReceiver hands the records to a node in A's state: B is
// shown typing, and the unknown record is accepted, counted, and reported
// as nothing.
func checkReceiptsReceiver(t *testing.T, hv *handshakeVector, v *receiptsVector) {
	idA, err := crypto.ParseIdentityPEM([]byte(hv.APrivateKeyPEM))
	if err != nil {
		t.Fatal(err)
	}
	sa := sessionAFromVector(t, hv)
	now := time.Unix(0, v.TimeUnixNano)
	if _, err := sa.Open(nil, hv.ConfirmB, now); err != nil {
		t.Fatalf("B's confirm: %v", err)
	}
	pa, pb := NewPipe(16)
	t.Cleanup(func() { pa.Close(); pb.Close() })
	r := newRecorder()
	n, err := NewNode(Config{Identity: idA, Now: func() time.Time { return now }}, pa, r.emit)
	if err != nil {
		t.Fatal(err)
	}
	n.now, n.sess = now, sa
	n.receipts.acked.add(hv.ChatAID) // B's receipt for it came before
	evs := handled(n, r, v.TypingB)
	if len(evs) != 1 || !evs[0].(TypingEvent).Active {
		t.Fatalf("TYPING: %v", evs)
	}
	evs = handled(n, r, v.ReadB)
	if len(evs) != 1 || len(evs[0].(ReadEvent).IDs) != 1 || evs[0].(ReadEvent).IDs[0] != hv.ChatAID {
		t.Fatalf("READ: %v", evs)
	}
	if evs := handled(n, r, v.UnknownB); len(evs) != 0 || n.UnknownRecords() != 1 || sa.RecvSeq() != hv.SeqB+4 {
		t.Fatalf("unknown record: %v, count %d, last seq %d", evs, n.UnknownRecords(), sa.RecvSeq())
	}
	var shown []vectorChat
	for _, e := range handled(n, r, v.ChatsB) {
		m, ok := e.(MessageEvent)
		if !ok {
			continue
		}
		if m.Seq != hv.SeqB+5 {
			t.Errorf("CHATS message %q: seq %d, want seq_b + 5", m.Text, m.Seq)
		}
		shown = append(shown, vectorChat{ID: m.ID, SentAt: m.SentAt.UnixNano(), Text: m.Text})
	}
	want := make([]vectorChat, len(v.Chats))
	for i, c := range v.Chats {
		want[i] = vectorChat{ID: c.ID, SentAt: c.SentAt, Text: c.Text}
	}
	if !slices.Equal(shown, want) {
		t.Fatalf("CHATS: shown %+v, want %+v in order", shown, want)
	}
}
