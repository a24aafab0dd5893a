package protocol

import (
	"bytes"
	"crypto/ecdh"
	"crypto/hkdf"
	"crypto/mlkem"
	"crypto/mlkem/mlkemtest"
	"crypto/sha256"
	"encoding/binary"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"testing"
	"time"

	"duet/crypto"
)

// healVector is testdata/vectors/v2/heal.json: a healing right after
// handshake.json's handshake (docs/PROTOCOL.md, sections 6 and 8). A
// seals a HEAL as its first record (seq_a + 1), B answers with a HEAL_ACK
// as its first (seq_b + 1), then each side seals one CHAT under its new
// chain (seq_a + 2, seq_b + 2). The sessions draw from their own streams
// (heal_random_seed_a, _b), in this order: A: X25519 private (32), ML-KEM
// seed d || z (64), HEAL nonce (12), CHAT nonce (12); B: X25519 private
// (32), ML-KEM encapsulation randomness m (32), HEAL_ACK nonce (12), CHAT
// nonce (12).
type healVector struct {
	Comment        string   `json:"comment"`
	Handshake      string   `json:"handshake"`
	SeedA          string   `json:"heal_random_seed_a"`
	SeedB          string   `json:"heal_random_seed_b"`
	TimeUnixNano   int64    `json:"time_unix_nano"`
	Heal           hexBytes `json:"record_heal_a"`
	HealAck        hexBytes `json:"record_heal_ack_b"`
	EphemeralPrivA hexBytes `json:"heal_ephemeral_private_a"`
	MLKEMSeedA     hexBytes `json:"heal_mlkem_seed_a"`
	EphemeralPrivB hexBytes `json:"heal_ephemeral_private_b"`
	MLKEMRandomB   hexBytes `json:"heal_mlkem_encaps_random_b"`
	DH             hexBytes `json:"heal_dh"`
	MLKEMShared    hexBytes `json:"heal_mlkem_ss"`
	Context        hexBytes `json:"heal_context"`
	Root           hexBytes `json:"heal_root"`
	ChainAB        hexBytes `json:"heal_chain_ab"`
	ChainBA        hexBytes `json:"heal_chain_ba"`
	ChatA          hexBytes `json:"record_chat_a_healed"`
	ChatB          hexBytes `json:"record_chat_b_healed"`
	ChatAText      string   `json:"chat_a_text"`
	ChatBText      string   `json:"chat_b_text"`
}

// vectorSessions rebuilds both record layers from handshake.json with
// fresh streams.
func vectorSessions(t *testing.T, hv *handshakeVector, seedA, seedB string) (sa, sb *Session) {
	t.Helper()
	idA, err := crypto.ParseIdentityPEM([]byte(hv.APrivateKeyPEM))
	if err != nil {
		t.Fatal(err)
	}
	idB, err := crypto.ParseIdentityPEM([]byte(hv.BPrivateKeyPEM))
	if err != nil {
		t.Fatal(err)
	}
	keys := sessionKeys{encAB: hv.KeyAB, encBA: hv.KeyBA, macAB: hv.MacAB, macBA: hv.MacBA, root: hv.Root}
	now := time.Unix(0, hv.TimeUnixNano)
	resA := &HandshakeResult{Role: RoleInitiator, SendSeq: hv.SeqA, RecvSeq: hv.SeqB, PeerKey: idB.Public(), Keys: keys}
	resB := &HandshakeResult{Role: RoleResponder, SendSeq: hv.SeqB, RecvSeq: hv.SeqA, PeerKey: idA.Public(), Keys: keys}
	copy(resA.Transcript[:], hv.TranscriptHashTH)
	copy(resB.Transcript[:], hv.TranscriptHashTH)
	if sa, err = NewSession(resA, SessionConfig{}, &streamReader{seed: []byte(seedA)}, now); err != nil {
		t.Fatal(err)
	}
	if sb, err = NewSession(resB, SessionConfig{}, &streamReader{seed: []byte(seedB)}, now); err != nil {
		t.Fatal(err)
	}
	return sa, sb
}

// generateHealVector runs the healing with duet's record layer, B's
// encapsulation derandomized as in handshake.json.
func generateHealVector(t *testing.T, hv *handshakeVector) *healVector {
	t.Helper()
	defer func(e func(*mlkem.EncapsulationKey768, io.Reader) ([]byte, []byte, error)) { encapsulate = e }(encapsulate)
	encapsulate = derandomizedEncapsulate
	v := &healVector{
		Comment:      "duet/2 healing vector (docs/PROTOCOL.md sections 6 and 8), after handshake.json: A's HEAL (seq_a + 1) and B's HEAL_ACK (seq_b + 1), each the first record of its direction under the handshake's chains (key_ab, key_ba), then one CHAT each way under the healed chains (seq_a + 2 from heal_chain_ab, whose first seq is seq_a + 2; seq_b + 2 from heal_chain_ba, first seq seq_b + 2). Randomness: SHA-256(seed || u64 counter) streams, A: X25519 private (32), ML-KEM seed d || z (64), then record nonces; B: X25519 private (32), ML-KEM encapsulation randomness m (32, ML-KEM.Encaps_internal), then record nonces. All byte strings hex; time_unix_nano everywhere. TEST KEYS ONLY.",
		Handshake:    "handshake.json",
		SeedA:        "duet heal vector A",
		SeedB:        "duet heal vector B",
		TimeUnixNano: hv.TimeUnixNano,
		ChatAText:    "healed, from A",
		ChatBText:    "healed, from B",
	}
	now := time.Unix(0, v.TimeUnixNano)
	sa, sb := vectorSessions(t, hv, v.SeedA, v.SeedB)
	streamA, streamB := firstBytes(v.SeedA, 96), firstBytes(v.SeedB, 64)
	v.EphemeralPrivA, v.MLKEMSeedA = streamA[:32], streamA[32:96]
	v.EphemeralPrivB, v.MLKEMRandomB = streamB[:32], streamB[32:64]
	var err error
	if v.Heal, err = sa.Heal(nil, now); err != nil {
		t.Fatal(err)
	}
	ack, o := healStep(t, sb, v.Heal, now)
	if o.Header.Type != TypeHeal || ack == nil {
		t.Fatal("B did not answer the HEAL")
	}
	v.HealAck = ack
	healStep(t, sa, ack, now)
	v.Root, v.ChainAB, v.ChainBA = bytes.Clone(sa.root[:]), nil, nil
	v.ChatA = sealChatText(t, sa, 0x1111, v.ChatAText, now)
	if _, o := healStep(t, sb, v.ChatA, now); !o.Rekeyed || !o.SendRekeyed {
		t.Fatal("B did not switch on A's healed CHAT")
	}
	v.ChatB = sealChatText(t, sb, 0x2222, v.ChatBText, now)
	if _, o := healStep(t, sa, v.ChatB, now); !o.Rekeyed {
		t.Fatal("A did not switch on B's healed CHAT")
	}
	if sa.root != sb.root {
		t.Fatal("the two sides' roots differ after healing")
	}
	// The intermediate values, from the records (as an implementation
	// would log them): recomputed by checkHealVector from the formulas.
	d := healDerivation(t, hv, v)
	v.DH, v.MLKEMShared, v.Context, v.ChainAB, v.ChainBA = d.dh, d.ss, d.context, d.ckAB, d.ckBA
	if !bytes.Equal(d.root, v.Root) {
		t.Fatal("the spec's formulas give another root than the record layer")
	}
	return v
}

func sealChatText(t *testing.T, s *Session, id uint64, text string, now time.Time) []byte {
	t.Helper()
	rec, _, err := s.Seal(nil, TypeChat, AppendChat(nil, &Chat{ID: id, SentAt: now.UnixNano(), Text: text}), now)
	if err != nil {
		t.Fatal(err)
	}
	return rec
}

// healDerived are the values docs/PROTOCOL.md's formulas give.
type healDerived struct {
	healPayload, ackPayload           hexBytes
	dh, ss, context, root, ckAB, ckBA []byte
}

// healDerivation opens the HEAL and HEAL_ACK with the handshake's chain
// keys and computes the healing from the spec's formulas alone, with the
// standard library (crypto/hkdf via recordKeys, crypto/ecdh, crypto/mlkem,
// crypto/hkdf).
func healDerivation(t *testing.T, hv *handshakeVector, v *healVector) healDerived {
	t.Helper()
	var d healDerived
	d.healPayload = openRecordUnder(t, "heal", v.Heal, recordKeys(hv.KeyAB, 1)[0], TypeHeal, hv.SeqA+1, v.TimeUnixNano)
	d.ackPayload = openRecordUnder(t, "heal ack", v.HealAck, recordKeys(hv.KeyBA, 1)[0], TypeHealAck, hv.SeqB+1, v.TimeUnixNano)
	if len(d.healPayload) != 32+1184 || len(d.ackPayload) != 32+1088+32 {
		t.Fatalf("payload sizes %d, %d", len(d.healPayload), len(d.ackPayload))
	}
	x := ecdh.X25519()
	privA, err := x.NewPrivateKey(v.EphemeralPrivA)
	if err != nil {
		t.Fatal(err)
	}
	privB, err := x.NewPrivateKey(v.EphemeralPrivB)
	if err != nil {
		t.Fatal(err)
	}
	veq(t, "heal X25519 A", privA.PublicKey().Bytes(), d.healPayload[:32])
	veq(t, "heal X25519 B", privB.PublicKey().Bytes(), d.ackPayload[:32])
	pubB, _ := x.NewPublicKey(d.ackPayload[:32])
	if d.dh, err = privA.ECDH(pubB); err != nil {
		t.Fatal(err)
	}
	dk, err := mlkem.NewDecapsulationKey768(v.MLKEMSeedA)
	if err != nil {
		t.Fatal(err)
	}
	veq(t, "heal ML-KEM key A", dk.EncapsulationKey().Bytes(), d.healPayload[32:])
	ss, ct, err := mlkemtest.Encapsulate768(dk.EncapsulationKey(), v.MLKEMRandomB)
	if err != nil {
		t.Fatal(err)
	}
	veq(t, "heal ML-KEM ciphertext B", ct, d.ackPayload[32:32+1088])
	if d.ss, err = dk.Decapsulate(ct); err != nil || !bytes.Equal(d.ss, ss) {
		t.Fatalf("decapsulation: %v", err)
	}
	h := sha256.Sum256(d.healPayload)
	veq(t, "heal ack's hash of the heal", h[:], d.ackPayload[32+1088:])
	c := sha256.New()
	c.Write([]byte("duet/2 heal context"))
	c.Write(d.healPayload)
	c.Write(d.ackPayload)
	d.context = c.Sum(nil)
	prk, err := hkdf.Extract(sha256.New, append(append(bytes.Clone(d.ss), d.dh...), d.context...), hv.Root)
	if err != nil {
		t.Fatal(err)
	}
	expand := func(label string) []byte { k, _ := hkdf.Expand(sha256.New, prk, label, 32); return k }
	d.root, d.ckAB, d.ckBA = expand("duet/2 heal root"), expand("duet/2 heal chain A to B"), expand("duet/2 heal chain B to A")
	return d
}

// openRecordUnder checks a record's header and opens it under key with
// AES-256-GCM (crypto.NewAEAD is crypto/aes + crypto/cipher).
func openRecordUnder(t *testing.T, name string, rec, key []byte, typ byte, seq uint32, ts int64) []byte {
	t.Helper()
	if len(rec) < 42 || rec[0] != 2 || rec[1] != typ || binary.BigEndian.Uint32(rec[2:]) != seq || int64(binary.BigEndian.Uint64(rec[6:])) != ts {
		t.Fatalf("%s: header %x", name, rec[:min(len(rec), 26)])
	}
	p, err := openQuiet(rec, key)
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return p
}

func veq(t *testing.T, name string, got, want []byte) {
	t.Helper()
	if !bytes.Equal(got, want) {
		t.Fatalf("%s: got %x, want %x", name, got, want)
	}
}

// checkHealVector recomputes the healing from the JSON and handshake.json
// alone and opens the healed records.
func checkHealVector(t *testing.T, hv *handshakeVector, v *healVector) {
	veq(t, "A's stream", firstBytes(v.SeedA, 96), append(bytes.Clone(v.EphemeralPrivA), v.MLKEMSeedA...))
	veq(t, "B's stream", firstBytes(v.SeedB, 64), append(bytes.Clone(v.EphemeralPrivB), v.MLKEMRandomB...))
	d := healDerivation(t, hv, v)
	veq(t, "heal dh", d.dh, v.DH)
	veq(t, "heal mlkem_ss", d.ss, v.MLKEMShared)
	veq(t, "heal context", d.context, v.Context)
	veq(t, "heal root", d.root, v.Root)
	veq(t, "heal chain ab", d.ckAB, v.ChainAB)
	veq(t, "heal chain ba", d.ckBA, v.ChainBA)
	chatA := openRecordUnder(t, "healed chat A", v.ChatA, recordKeys(d.ckAB, 1)[0], TypeChat, hv.SeqA+2, v.TimeUnixNano)
	chatB := openRecordUnder(t, "healed chat B", v.ChatB, recordKeys(d.ckBA, 1)[0], TypeChat, hv.SeqB+2, v.TimeUnixNano)
	if string(chatA[ChatHeaderSize:]) != v.ChatAText || string(chatB[ChatHeaderSize:]) != v.ChatBText {
		t.Fatalf("healed chats %q, %q", chatA[ChatHeaderSize:], chatB[ChatHeaderSize:])
	}
	// The old chains do not open the healed records.
	if _, err := openQuiet(v.ChatA, recordKeys(hv.KeyAB, 2)[1]); err == nil {
		t.Fatal("the handshake's A-to-B chain opens A's healed CHAT")
	}
}

func openQuiet(rec, key []byte) ([]byte, error) {
	a, err := crypto.NewAEAD(key)
	if err != nil {
		return nil, err
	}
	var nonce [12]byte
	copy(nonce[:], rec[14:26])
	return a.Open(nil, &nonce, rec[26:], rec[:26])
}

func TestHealVector(t *testing.T) {
	var hv handshakeVector
	readJSON(t, filepath.Join(vectorDir, "handshake.json"), &hv)
	path := filepath.Join(vectorDir, "heal.json")
	if *updateVectors {
		b, _ := json.MarshalIndent(generateHealVector(t, &hv), "", "  ")
		if err := os.WriteFile(path, append(b, '\n'), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	var v healVector
	readJSON(t, path, &v)
	t.Run("relations", func(t *testing.T) { checkHealVector(t, &hv, &v) })
	t.Run("regenerate", func(t *testing.T) {
		g := generateHealVector(t, &hv)
		gb, _ := json.Marshal(g)
		vb, _ := json.Marshal(&v)
		if !bytes.Equal(gb, vb) {
			t.Fatal("regenerating the healing vector from handshake.json and its seeds gives different bytes")
		}
	})
}
