package protocol

import (
	"bytes"
	"crypto/ecdh"
	"crypto/hkdf"
	"crypto/mlkem"
	"crypto/mlkem/mlkemtest"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"testing"
	"time"

	"duet/crypto"
	"duet/protocol/keys"
)

// The vectors of protocol 2 in testdata/vectors/v2 are produced by this
// file with `go test ./protocol -run 'Vector' -update` and checked on every
// run: first by recomputing every relation from the JSON alone (what
// another implementation would do), then by regenerating them from their
// seeds and comparing bytes. The version-1 vectors in testdata/vectors are
// kept as they were (vectors are interface) and checked to be refused
// (TestVectorsVersion1Refused); -update never touches them.

var updateVectors = flag.Bool("update", false, "rewrite testdata/vectors/v2")

const (
	vectorDir   = "../testdata/vectors/v2"
	vectorDirV1 = "../testdata/vectors"
)

// derandomizedEncapsulate is B's ML-KEM encapsulation for the vectors:
// crypto/mlkem/mlkemtest's derandomized one, its 32 bytes of randomness m
// read from B's stream right after B's X25519 private key.
func derandomizedEncapsulate(ek *mlkem.EncapsulationKey768, r io.Reader) ([]byte, []byte, error) {
	var m [32]byte
	if _, err := io.ReadFull(r, m[:]); err != nil {
		return nil, nil, err
	}
	return mlkemtest.Encapsulate768(ek, m[:])
}

// streamReader is a deterministic "random" source: SHA-256(seed || u64
// counter) blocks, concatenated. Test vectors only.
type streamReader struct {
	seed []byte
	ctr  uint64
	buf  []byte
}

func (s *streamReader) Read(p []byte) (int, error) {
	for len(s.buf) < len(p) {
		var c [8]byte
		binary.BigEndian.PutUint64(c[:], s.ctr)
		s.ctr++
		h := sha256.Sum256(append(append([]byte(nil), s.seed...), c[:]...))
		s.buf = append(s.buf, h[:]...)
	}
	n := copy(p, s.buf)
	s.buf = s.buf[n:]
	return n, nil
}

type hexBytes []byte

func (h hexBytes) MarshalJSON() ([]byte, error) { return json.Marshal(hex.EncodeToString(h)) }
func (h *hexBytes) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return err
	}
	d, err := hex.DecodeString(s)
	*h = d
	return err
}

type handshakeVector struct {
	Comment          string     `json:"comment"`
	APrivateKeyPEM   string     `json:"a_private_key_pem"`
	BPrivateKeyPEM   string     `json:"b_private_key_pem"`
	ARandomSeed      string     `json:"a_random_seed"`
	BRandomSeed      string     `json:"b_random_seed"`
	TimeUnixNano     int64      `json:"time_unix_nano"`
	ChallengeA       hexBytes   `json:"challenge_a"`
	ChallengeB       hexBytes   `json:"challenge_b"`
	PublicKeyA       hexBytes   `json:"msg_public_key_a"`
	PublicKeyB       hexBytes   `json:"msg_public_key_b"`
	HelloA           hexBytes   `json:"msg_hello_a"`
	HelloB           hexBytes   `json:"msg_hello_b"`
	KeyTransport     hexBytes   `json:"msg_key_transport"`
	Ack              hexBytes   `json:"msg_ack"`
	ConfirmA         hexBytes   `json:"record_confirm_a"`
	ConfirmB         hexBytes   `json:"record_confirm_b"`
	ChatA            hexBytes   `json:"record_chat_a"`
	ChatAID          uint64     `json:"chat_a_id"`
	ChatAText        string     `json:"chat_a_text"`
	GoodbyeA         hexBytes   `json:"record_goodbye_a"`
	EphemeralPrivA   hexBytes   `json:"ephemeral_private_a"`
	EphemeralPrivB   hexBytes   `json:"ephemeral_private_b"`
	MLKEMSeedA       hexBytes   `json:"mlkem_seed_a"`
	MLKEMRandomB     hexBytes   `json:"mlkem_encaps_random_b"`
	MLKEMShared      hexBytes   `json:"mlkem_ss"`
	DH               hexBytes   `json:"dh"`
	Secret           hexBytes   `json:"secret"`
	SeqA             uint32     `json:"seq_a"`
	SeqB             uint32     `json:"seq_b"`
	HashT1           hexBytes   `json:"h_t1"`
	HashT2           hexBytes   `json:"h_t2"`
	HashT3           hexBytes   `json:"h_t3"`
	TranscriptHashTH hexBytes   `json:"th"`
	KeyAB            hexBytes   `json:"key_ab"`
	KeyBA            hexBytes   `json:"key_ba"`
	MacAB            hexBytes   `json:"mac_ab"`
	MacBA            hexBytes   `json:"mac_ba"`
	Root             hexBytes   `json:"root"`
	RecordKeysAB     []hexBytes `json:"record_keys_ab"` // mk of seq_a+1, +2, +3: the keys of A's CONFIRM, CHAT, GOODBYE
	RecordKeyBA      hexBytes   `json:"record_key_ba"`  // mk of seq_b+1: the key of B's CONFIRM
	FingerprintA     string     `json:"fingerprint_a"`
	FingerprintB     string     `json:"fingerprint_b"`
	SafetyNumber     string     `json:"safety_number"`
}

// generateHandshakeVector runs a whole handshake with deterministic
// randomness and records every message and intermediate value.
func generateHandshakeVector(t *testing.T, pemA, pemB string) *handshakeVector {
	t.Helper()
	defer func(e func(*mlkem.EncapsulationKey768, io.Reader) ([]byte, []byte, error)) { encapsulate = e }(encapsulate)
	encapsulate = derandomizedEncapsulate
	idA, err := crypto.ParseIdentityPEM([]byte(pemA))
	if err != nil {
		t.Fatal(err)
	}
	idB, err := crypto.ParseIdentityPEM([]byte(pemB))
	if err != nil {
		t.Fatal(err)
	}
	if !idA.Public().Fingerprint().Less(idB.Public().Fingerprint()) {
		t.Fatal("vector keys: A must have the smaller fingerprint")
	}
	v := &handshakeVector{
		Comment:        "duet/2 handshake test vector; all byte strings hex; randomness is SHA-256(seed || u64 counter) blocks, read in the order docs/PROTOCOL.md lists (B's ML-KEM encapsulation is derandomized, ML-KEM.Encaps_internal, with mlkem_encaps_random_b from B's stream). TEST KEYS ONLY.",
		APrivateKeyPEM: pemA, BPrivateKeyPEM: pemB,
		ARandomSeed: "duet vector A", BRandomSeed: "duet vector B",
		TimeUnixNano: time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC).UnixNano(),
	}
	now := time.Unix(0, v.TimeUnixNano)
	ra := &streamReader{seed: []byte(v.ARandomSeed)}
	rb := &streamReader{seed: []byte(v.BRandomSeed)}
	// Challenges are fixed (they are random in duet); B's public key, sent
	// after A's, echoes A's challenge; cookies echo the receiver's.
	v.ChallengeA = hexBytes{1, 2, 3, 4, 5, 6, 7, 8}
	v.ChallengeB = hexBytes{0x11, 0x12, 0x13, 0x14, 0x15, 0x16, 0x17, 0x18}
	var ca, cb [ChallengeSize]byte
	copy(ca[:], v.ChallengeA)
	copy(cb[:], v.ChallengeB)
	v.PublicKeyA = AppendPublicKey(nil, PublicKeyMsg{ReplyRequested: true, Challenge: ca, DER: idA.Public().DER()})
	v.PublicKeyB = AppendPublicKey(nil, PublicKeyMsg{ReplyRequested: true, Challenge: cb, Echo: ca, DER: idB.Public().DER()})

	init, helloA, err := NewInitiator(idA, idB.Public(), ra, now, DefaultWindow)
	if err != nil {
		t.Fatal(err)
	}
	SetCookie(helloA, cb)
	v.HelloA = helloA
	v.HashT1 = hashOf(init.t)
	h, err := CheckHelloA(helloA, idB, idA.Public(), now, DefaultWindow)
	if err != nil {
		t.Fatal(err)
	}
	resp, helloB, err := NewResponder(idB, idA.Public(), h, rb, now, DefaultWindow)
	if err != nil {
		t.Fatal(err)
	}
	SetCookie(helloB, ca)
	v.HelloB = helloB
	v.HashT2 = hashOf(resp.t)
	kt, err := init.HandleHello(helloB, now, nil)
	if err != nil {
		t.Fatal(err)
	}
	SetCookie(kt, cb)
	v.KeyTransport = kt
	ack, resB, err := resp.HandleKeyTransport(kt, now)
	if err != nil {
		t.Fatal(err)
	}
	v.Ack = ack
	t3 := &transcript{b: resp.t.b[:len(resp.t.b)-RSASize-MACSize]}
	v.HashT3 = hashOf(t3)
	resA, err := init.HandleAck(ack, now)
	if err != nil {
		t.Fatal(err)
	}
	v.TranscriptHashTH = resA.Transcript[:]
	v.SeqA, v.SeqB = resA.SendSeq, resB.SendSeq
	v.KeyAB, v.KeyBA, v.MacAB, v.MacBA = resA.Keys.encAB, resA.Keys.encBA, resA.Keys.macAB, resA.Keys.macBA
	v.Root = resA.Keys.root
	// A's stream: X25519 private key (32), ML-KEM seed d || z (64). B's:
	// X25519 private key (32), the encapsulation's m (32).
	streamA, streamB := firstBytes(v.ARandomSeed, 96), firstBytes(v.BRandomSeed, 64)
	v.EphemeralPrivA, v.MLKEMSeedA = streamA[:32], streamA[32:96]
	v.EphemeralPrivB, v.MLKEMRandomB = streamB[:32], streamB[32:64]
	privA, err := ecdh.X25519().NewPrivateKey(v.EphemeralPrivA)
	if err != nil {
		t.Fatal(err)
	}
	pubB, err := ecdh.X25519().NewPublicKey(helloB[31:63])
	if err != nil {
		t.Fatal(err)
	}
	if v.DH, err = privA.ECDH(pubB); err != nil {
		t.Fatal(err)
	}
	dk, err := mlkem.NewDecapsulationKey768(v.MLKEMSeedA)
	if err != nil {
		t.Fatal(err)
	}
	if v.MLKEMShared, err = dk.Decapsulate(helloB[63 : 63+MLKEMCiphertextSize]); err != nil {
		t.Fatal(err)
	}
	plain, err := idB.DecryptOAEP(kt[10:10+RSASize], []byte(LabelKeyTransport))
	if err != nil {
		t.Fatal(err)
	}
	v.Secret = plain[:SessionKeyLen]
	sa, err := NewSession(resA, SessionConfig{}, ra, now)
	if err != nil {
		t.Fatal(err)
	}
	sb, err := NewSession(resB, SessionConfig{}, rb, now)
	if err != nil {
		t.Fatal(err)
	}
	th := sa.Transcript()
	v.ConfirmA, _, _ = sa.Seal(nil, TypeConfirm, th[:], now)
	v.ConfirmB, _, _ = sb.Seal(nil, TypeConfirm, th[:], now)
	v.ChatAID, v.ChatAText = 0x0123456789abcdef, "hello, duet ✓"
	v.ChatA, _, _ = sa.Seal(nil, TypeChat, AppendChat(nil, &Chat{ID: v.ChatAID, SentAt: v.TimeUnixNano, Text: v.ChatAText}), now)
	// A leaves: GOODBYE, seq_A + 3, the next record nonce of A's stream.
	v.GoodbyeA, _, _ = sa.Seal(nil, TypeGoodbye, nil, now)
	v.RecordKeysAB = chainKeys(t, v.KeyAB, v.SeqA+1, 3)
	v.RecordKeyBA = chainKeys(t, v.KeyBA, v.SeqB+1, 1)[0]
	fa, fb := idA.Public().Fingerprint(), idB.Public().Fingerprint()
	v.FingerprintA, v.FingerprintB, v.SafetyNumber = fa.String(), fb.String(), crypto.SafetyNumber(fa, fb)
	return v
}

// aDrawsBeforeRecords is how many bytes A's stream gives the handshake
// before its record nonces: X25519 private key (32), ML-KEM seed (64),
// hello nonce (12), PSS salt (32), session secret (32), seq_A (4), OAEP
// seed (32), PSS salt (32).
const aDrawsBeforeRecords = 32 + 64 + 12 + 32 + 32 + 4 + 32 + 32

func hashOf(t *transcript) hexBytes { h := t.hash(); return h[:] }

// chainKeys returns the record keys of seqs first .. first+n-1 of a chain
// starting at ck, through keys.Chain (the implementation).
func chainKeys(t *testing.T, ck []byte, first uint32, n int) []hexBytes {
	t.Helper()
	c := keys.NewChain(chainKey(ck), first)
	var out []hexBytes
	for i := range n {
		st, err := c.Peek(first + uint32(i))
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, bytes.Clone(st.Key()))
		if err := c.Commit(&st); err != nil {
			t.Fatal(err)
		}
	}
	return out
}

// recordKeys computes the first n record keys of a chain whose first chain
// key is ck from docs/PROTOCOL.md's formula alone, with crypto/hkdf:
// K_b || ck_b+1 = HKDF-Expand-SHA-256(ck_b, "duet/2 record keys", 16*32+32),
// and record first+16b+j has K_b[32j : 32j+32].
func recordKeys(ck []byte, n int) [][]byte {
	var out [][]byte
	for len(out) < n {
		okm, err := hkdf.Expand(sha256.New, ck, "duet/2 record keys", 16*32+32)
		if err != nil {
			panic(err)
		}
		for j := 0; j < 16 && len(out) < n; j++ {
			out = append(out, okm[32*j:32*j+32])
		}
		ck = okm[16*32:]
	}
	return out
}

func firstBytes(seed string, n int) []byte {
	b := make([]byte, n)
	(&streamReader{seed: []byte(seed)}).Read(b)
	return b
}

func TestVectors(t *testing.T) {
	path := filepath.Join(vectorDir, "handshake.json")
	if *updateVectors {
		// Keep the keys of an existing file, so that adding a value to the
		// vector leaves every other value unchanged; new keys only when there
		// is no file.
		var pems [2]string
		var old handshakeVector
		// The first version-2 file takes the keys of the version-1 one.
		for _, p := range []string{path, filepath.Join(vectorDirV1, "handshake.json")} {
			if raw, err := os.ReadFile(p); pems[0] == "" && err == nil && json.Unmarshal(raw, &old) == nil && old.APrivateKeyPEM != "" {
				pems = [2]string{old.APrivateKeyPEM, old.BPrivateKeyPEM}
			}
		}
		for pems[0] == "" {
			var ids [2]*crypto.Identity
			for i := range ids {
				id, err := crypto.GenerateIdentity(rand.Reader)
				if err != nil {
					t.Fatal(err)
				}
				ids[i] = id
			}
			if ids[0].Public().Fingerprint().Less(ids[1].Public().Fingerprint()) {
				for i := range ids {
					p, _ := ids[i].MarshalPEM()
					pems[i] = string(p)
				}
				break
			}
		}
		v := generateHandshakeVector(t, pems[0], pems[1])
		b, _ := json.MarshalIndent(v, "", "  ")
		if err := os.MkdirAll(vectorDir, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, append(b, '\n'), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var v handshakeVector
	if err := json.Unmarshal(raw, &v); err != nil {
		t.Fatal(err)
	}
	t.Run("relations", func(t *testing.T) { checkHandshakeVector(t, &v) })
	t.Run("regenerate", func(t *testing.T) {
		g := generateHandshakeVector(t, v.APrivateKeyPEM, v.BPrivateKeyPEM)
		gb, _ := json.Marshal(g)
		vb, _ := json.Marshal(&v)
		if !bytes.Equal(gb, vb) {
			t.Fatal("regenerating the vector from its seeds gives different bytes")
		}
	})
}

// checkHandshakeVector recomputes everything from the JSON alone, the way an
// independent implementation would, using only standard primitives and the
// wire layouts.
func checkHandshakeVector(t *testing.T, v *handshakeVector) {
	idA, err := crypto.ParseIdentityPEM([]byte(v.APrivateKeyPEM))
	if err != nil {
		t.Fatal(err)
	}
	idB, err := crypto.ParseIdentityPEM([]byte(v.BPrivateKeyPEM))
	if err != nil {
		t.Fatal(err)
	}
	pkA, pkB := idA.Public(), idB.Public()
	eq := func(name string, got, want []byte) {
		t.Helper()
		if !bytes.Equal(got, want) {
			t.Fatalf("%s: got %x, want %x", name, got, want)
		}
	}
	eq("public key msg A", v.PublicKeyA[21:], pkA.DER())
	eq("public key msg B", v.PublicKeyB[21:], pkB.DER())
	eq("challenge A", v.PublicKeyA[3:11], v.ChallengeA)
	eq("challenge B", v.PublicKeyB[3:11], v.ChallengeB)
	eq("B echoes A", v.PublicKeyB[11:19], v.ChallengeA)
	// Flags (section 4.1): A's is its first public key, sent at start with
	// REPLY_REQUESTED; B's answers it, echoing A's challenge, and since A's
	// did not echo B's challenge (B has no proof A gets its traffic) B asks
	// for a reply too: both 0x01.
	eq("public key msg A flags", v.PublicKeyA[2:3], []byte{0x01})
	eq("public key msg B flags", v.PublicKeyB[2:3], []byte{0x01})
	eq("hello A cookie", v.HelloA[3:11], v.ChallengeB)
	eq("hello B cookie", v.HelloB[3:11], v.ChallengeA)
	eq("key transport cookie", v.KeyTransport[2:10], v.ChallengeB)

	// Sizes and offsets (docs/PROTOCOL.md, 4.2): the hellos are
	// version, type, role, cookie (8), then HELLO_FIELDS = nonce (12),
	// timestamp (8), X25519 (32), ML-KEM share (1184 from A, 1088 from
	// B), then the signature (256).
	if len(v.HelloA) != 1503 || len(v.HelloB) != 1407 || v.HelloA[0] != 2 || v.HelloB[0] != 2 || v.HelloA[2] != 1 || v.HelloB[2] != 2 {
		t.Fatalf("hello sizes %d %d, headers %x %x", len(v.HelloA), len(v.HelloB), v.HelloA[:3], v.HelloB[:3])
	}
	fieldsA, sigA := v.HelloA[11:1503-256], v.HelloA[1503-256:]
	fieldsB, sigB := v.HelloB[11:1407-256], v.HelloB[1407-256:]
	ekA, ctB := v.HelloA[63:63+1184], v.HelloB[63:63+1088]

	// Transcript.
	T := []byte("duet/2 transcript")
	T = binary.BigEndian.AppendUint16(T, uint16(len(pkA.DER())))
	T = append(T, pkA.DER()...)
	T = binary.BigEndian.AppendUint16(T, uint16(len(pkB.DER())))
	T = append(T, pkB.DER()...)
	tbs := func(label string, x []byte) []byte {
		h := sha256.Sum256(x)
		return append(append([]byte(label), 0), h[:]...)
	}
	T = append(T, fieldsA...)
	h1 := sha256.Sum256(T)
	eq("H(T1)", h1[:], v.HashT1)
	if err := pkA.Verify(tbs("duet/2 hello A", T), sigA); err != nil {
		t.Fatal("hello A signature:", err)
	}
	T = append(T, fieldsB...)
	h2 := sha256.Sum256(T)
	eq("H(T2)", h2[:], v.HashT2)
	if err := pkB.Verify(tbs("duet/2 hello B", T), sigB); err != nil {
		t.Fatal("hello B signature:", err)
	}

	// X25519.
	x := ecdh.X25519()
	privA, _ := x.NewPrivateKey(v.EphemeralPrivA)
	privB, _ := x.NewPrivateKey(v.EphemeralPrivB)
	eq("ephemeral A", privA.PublicKey().Bytes(), v.HelloA[31:63])
	eq("ephemeral B", privB.PublicKey().Bytes(), v.HelloB[31:63])
	pubB, _ := x.NewPublicKey(v.HelloB[31:63])
	dh, _ := privA.ECDH(pubB)
	eq("dh", dh, v.DH)
	eq("A's stream: X25519, then the ML-KEM seed", firstBytes(v.ARandomSeed, 96), append(bytes.Clone(v.EphemeralPrivA), v.MLKEMSeedA...))
	eq("B's stream: X25519, then the encapsulation's m", firstBytes(v.BRandomSeed, 64), append(bytes.Clone(v.EphemeralPrivB), v.MLKEMRandomB...))

	// ML-KEM-768: A's key from its seed, B's derandomized encapsulation.
	dk, err := mlkem.NewDecapsulationKey768(v.MLKEMSeedA)
	if err != nil {
		t.Fatal(err)
	}
	eq("ML-KEM encapsulation key A", dk.EncapsulationKey().Bytes(), ekA)
	ssB, ct2, err := mlkemtest.Encapsulate768(dk.EncapsulationKey(), v.MLKEMRandomB)
	if err != nil {
		t.Fatal(err)
	}
	eq("ML-KEM ciphertext B", ct2, ctB)
	eq("ML-KEM shared secret (B)", ssB, v.MLKEMShared)
	ssA, err := dk.Decapsulate(ctB)
	if err != nil {
		t.Fatal(err)
	}
	eq("ML-KEM shared secret (A)", ssA, v.MLKEMShared)

	ct, mac, sig := v.KeyTransport[10:266], v.KeyTransport[266:298], v.KeyTransport[298:554]
	plain, err := idB.DecryptOAEP(ct, []byte("duet/2 key transport"))
	if err != nil || len(plain) != 44 {
		t.Fatalf("key transport OAEP: %v, %d bytes", err, len(plain))
	}
	eq("secret", plain[:32], v.Secret)
	if binary.BigEndian.Uint32(plain[32:]) != v.SeqA || int64(binary.BigEndian.Uint64(plain[36:])) != v.TimeUnixNano {
		t.Fatal("key transport seq or timestamp")
	}
	// The key schedule (section 6): prk = HKDF-Extract(salt = H(T2),
	// ikm = mlkem_ss || dh || secret), one HKDF-Expand per label.
	ikm := append(append(bytes.Clone(v.MLKEMShared), dh...), v.Secret...)
	prk, _ := hkdf.Extract(sha256.New, ikm, h2[:])
	expand := func(label string) []byte { k, _ := hkdf.Expand(sha256.New, prk, label, 32); return k }
	eq("root", expand("duet/2 root"), v.Root)
	eq("key_ab", expand("duet/2 chain A to B"), v.KeyAB)
	eq("key_ba", expand("duet/2 chain B to A"), v.KeyBA)
	eq("mac_ab", expand("duet/2 mac A to B"), v.MacAB)
	eq("mac_ba", expand("duet/2 mac B to A"), v.MacBA)
	T = append(T, ct...)
	wantMAC := crypto.MAC(v.MacAB, tbs("duet/2 key transport mac", T))
	eq("kt mac", mac, wantMAC[:])
	T = append(T, mac...)
	if err := pkA.Verify(tbs("duet/2 key transport", T), sig); err != nil {
		t.Fatal("key transport signature:", err)
	}
	T = append(T, sig...)
	h3 := sha256.Sum256(T)
	eq("H(T3)", h3[:], v.HashT3)
	ackCT, ackMAC := v.Ack[2:258], v.Ack[258:290]
	ackPlain, err := idA.DecryptOAEP(ackCT, []byte("duet/2 ack"))
	if err != nil || len(ackPlain) != 15 || string(ackPlain[:3]) != "ACK" {
		t.Fatalf("ack OAEP: %v %q", err, ackPlain)
	}
	if binary.BigEndian.Uint32(ackPlain[3:]) != v.SeqB {
		t.Fatal("ack seq")
	}
	T = append(T, ackCT...)
	wantAckMAC := crypto.MAC(v.MacBA, tbs("duet/2 ack mac", T))
	eq("ack mac", ackMAC, wantAckMAC[:])
	T = append(T, ackMAC...)
	th := sha256.Sum256(T)
	eq("th", th[:], v.TranscriptHashTH)
	// The chains (section 6): blocks of 16 record keys expanded by HKDF,
	// the first chain key = key_ab (key_ba).
	mkAB := recordKeys(v.KeyAB, 3)
	for i := range 3 {
		eq(fmt.Sprintf("record key A to B %d", i+1), mkAB[i], v.RecordKeysAB[i])
	}
	eq("record key B to A 1", recordKeys(v.KeyBA, 1)[0], v.RecordKeyBA)

	// Records: open with the standard AEAD and check header fields.
	open := func(name string, rec, key []byte, wantType byte, wantSeq uint32) []byte {
		t.Helper()
		if rec[0] != 2 || rec[1] != wantType || binary.BigEndian.Uint32(rec[2:]) != wantSeq {
			t.Fatalf("%s header %x", name, rec[:RecordHeaderSize])
		}
		a, _ := crypto.NewAEAD(key)
		var nonce [12]byte
		copy(nonce[:], rec[14:26])
		p, err := a.Open(nil, &nonce, rec[26:], rec[:26])
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		return p
	}
	eq("confirm A", open("confirm A", v.ConfirmA, mkAB[0], TypeConfirm, v.SeqA+1), th[:])
	eq("confirm B", open("confirm B", v.ConfirmB, v.RecordKeyBA, TypeConfirm, v.SeqB+1), th[:])
	chat := open("chat A", v.ChatA, mkAB[1], TypeChat, v.SeqA+2)
	if binary.BigEndian.Uint64(chat) != v.ChatAID || string(chat[ChatHeaderSize:]) != v.ChatAText {
		t.Fatalf("chat payload %x", chat)
	}
	if len(v.GoodbyeA) != RecordHeaderSize+TagSize {
		t.Fatalf("goodbye A: %d bytes, want %d (empty payload)", len(v.GoodbyeA), RecordHeaderSize+TagSize)
	}
	if p := open("goodbye A", v.GoodbyeA, mkAB[2], TypeGoodbye, v.SeqA+3); len(p) != 0 {
		t.Fatalf("goodbye payload %x, want empty", p)
	}
	if int64(binary.BigEndian.Uint64(v.GoodbyeA[6:])) != v.TimeUnixNano {
		t.Fatal("goodbye A timestamp")
	}
	// Every timestamp in the file is time_unix_nano (docs/PROTOCOL.md,
	// section 11): both hellos, both handshake plaintexts, every record's
	// header and the CHAT's sent_at; the GOODBYE's "at the same time" means
	// exactly this value.
	for _, ts := range []struct {
		name string
		at   []byte
	}{
		{"hello A", v.HelloA[23:31]}, {"hello B", v.HelloB[23:31]},
		{"key transport plaintext", plain[36:44]}, {"ack plaintext", ackPlain[7:15]},
		{"confirm A", v.ConfirmA[6:14]}, {"confirm B", v.ConfirmB[6:14]},
		{"chat A", v.ChatA[6:14]}, {"chat A sent_at", chat[16:24]}, {"goodbye A", v.GoodbyeA[6:14]},
	} {
		if got := int64(binary.BigEndian.Uint64(ts.at)); got != v.TimeUnixNano {
			t.Errorf("%s timestamp %d, want time_unix_nano %d", ts.name, got, v.TimeUnixNano)
		}
	}
	// Record nonces come from A's stream after the aDrawsBeforeRecords
	// handshake bytes, 12 each: CONFIRM, CHAT, GOODBYE.
	streamA := firstBytes(v.ARandomSeed, aDrawsBeforeRecords+3*12)
	eq("confirm A nonce", v.ConfirmA[14:26], streamA[aDrawsBeforeRecords:aDrawsBeforeRecords+12])
	eq("chat A nonce", v.ChatA[14:26], streamA[aDrawsBeforeRecords+12:aDrawsBeforeRecords+24])
	eq("goodbye A nonce", v.GoodbyeA[14:26], streamA[aDrawsBeforeRecords+24:aDrawsBeforeRecords+36])
	fa, fb := pkA.Fingerprint(), pkB.Fingerprint()
	if fa.String() != v.FingerprintA || fb.String() != v.FingerprintB || crypto.SafetyNumber(fa, fb) != v.SafetyNumber {
		t.Fatal("fingerprints or safety number")
	}
}
