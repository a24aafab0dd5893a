package protocol

// Protocol 2's hybrid handshake under a relay (issue 19): every new refusal
// over pipes, and the version-1 refusals.

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"duet/crypto"
)

// TestHybridRelayRefused: a relay between A and B rewrites the ML-KEM
// share of every hello of one role (strips it, or swaps it for a valid
// one of its own). The receiver refuses each with its reason, no session
// forms and no key transport is made; once the relay stops, the same two
// nodes complete the handshake and chat: the refusals changed nothing.
func TestHybridRelayRefused(t *testing.T) {
	for _, c := range []struct {
		name    string
		role    byte // the hellos rewritten: A's (role 1) or B's (role 2)
		rewrite func(t *testing.T, m []byte) []byte
		reason  string
	}{
		{"strip A's encapsulation key", RoleInitiator, func(_ *testing.T, m []byte) []byte { return stripHelloShare(m) }, ReasonDowngrade},
		{"swap A's encapsulation key", RoleInitiator, swapShare, ReasonBadSignature},
		{"strip B's ciphertext", RoleResponder, func(_ *testing.T, m []byte) []byte { return stripHelloShare(m) }, ReasonDowngrade},
		{"swap B's ciphertext", RoleResponder, swapShare, ReasonBadSignature},
	} {
		t.Run(c.name, func(t *testing.T) {
			var on atomic.Bool
			var rewritten atomic.Int32
			on.Store(true)
			filter := func(m []byte) [][]byte {
				if on.Load() && len(m) > 2 && m[1] == TypeHello && m[2] == c.role {
					rewritten.Add(1)
					return [][]byte{c.rewrite(t, m)}
				}
				return [][]byte{m}
			}
			p := startPairWith(t, nil, func(pa, pb *PipeEnd) { pa.SetFilter(filter); pb.SetFilter(filter) })
			// The victim receives the rewritten hellos (ids[0], node a,
			// plays A).
			victim := p.rb
			if c.role == RoleResponder {
				victim = p.ra
			}
			e := victim.waitFor(t, 10*time.Second, "refusal "+c.reason, rejected(c.reason)).(RejectedEvent)
			if e.HasSeq {
				t.Errorf("a handshake refusal reported with a seq: %+v", e)
			}
			waitRejections(t, victim, c.reason, 2) // a retry refused too: nothing moved on
			// While the relay runs, nobody gets past the hellos.
			for name, r := range map[string]*recorder{"A": p.ra, "B": p.rb} {
				if r.count(isEstablished) != 0 {
					t.Errorf("%s established a session through the relay", name)
				}
				if n := r.count(func(e Event) bool { h, ok := e.(HandshakeEvent); return ok && h.Done && h.Step >= StepKeyTransport }); n != 0 {
					t.Errorf("%s completed a key transport through the relay", name)
				}
			}
			on.Store(false)
			if rewritten.Load() == 0 {
				t.Fatal("no hello was rewritten")
			}
			p.establish(t)
			roundTrip(t, p, "after the relay")
		})
	}
}

// waitRejections waits until r counts at least n rejections with reason.
func waitRejections(t *testing.T, r *recorder, reason string, n int) {
	t.Helper()
	r.waitFor(t, 10*time.Second, reason+" rejections", func(Event) bool { return r.rejections(reason) >= n })
}

// v1Vectors reads the version-1 handshake vector, kept unchanged in
// testdata/vectors.
func v1Vectors(t *testing.T) *handshakeVector {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join(vectorDirV1, "handshake.json"))
	if err != nil {
		t.Fatal(err)
	}
	var v handshakeVector
	if err := json.Unmarshal(raw, &v); err != nil {
		t.Fatal(err)
	}
	return &v
}

// TestHybridOldVersionPublicKey: a version-1 duet's PUBLIC_KEY (from the
// version-1 vectors) sent to a running node is refused as old-version,
// once per period however many arrive; the node takes no candidate from
// it and answers nothing; the session with the real peer forms afterwards.
func TestHybridOldVersionPublicKey(t *testing.T) {
	v := v1Vectors(t)
	p := startPair(t, nil)
	p.establish(t)
	roundTrip(t, p, "before")
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	for _, m := range [][]byte{v.PublicKeyA, v.PublicKeyB, v.PublicKeyA} {
		if err := p.pb.Inject(ctx, m); err != nil {
			t.Fatal(err)
		}
	}
	e := p.rb.waitFor(t, 5*time.Second, "old-version", rejected(ReasonOldVersion)).(RejectedEvent)
	if e.HasSeq || !strings.Contains(e.Detail, "protocol 1") {
		t.Errorf("old-version event %+v", e)
	}
	roundTrip(t, p, "after")
	if fp, _, ok := p.b.Peer(); !ok || fp != testIdentities(t)[0].Public().Fingerprint() {
		t.Errorf("B's peer after a version-1 key: %v %v", fp, ok)
	}
	if n := p.rb.count(isEstablished); n != 1 {
		t.Errorf("B established %d sessions", n)
	}
}

// TestHybridVersionRefusals: the receive order's version step, on the
// bytes of the version-1 vectors: a version-1 PUBLIC_KEY is old-version,
// every other version-1 message (hellos, key transport, ack, records) and
// any version other than 1 and 2 is malformed.
func TestHybridVersionRefusals(t *testing.T) {
	v := v1Vectors(t)
	for _, c := range []struct {
		name string
		msg  []byte
		want error
	}{
		{"v1 public key A", v.PublicKeyA, ErrOldVersion},
		{"v1 public key B", v.PublicKeyB, ErrOldVersion},
		{"v1 public key, truncated", v.PublicKeyA[:len(v.PublicKeyA)-1], ErrVersion},
		{"v1 hello A", v.HelloA, ErrVersion},
		{"v1 hello B", v.HelloB, ErrVersion},
		{"v1 key transport", v.KeyTransport, ErrVersion},
		{"v1 ack", v.Ack, ErrVersion},
		{"v1 confirm", v.ConfirmA, ErrVersion},
		{"v1 chat", v.ChatA, ErrVersion},
		{"v2 public key as version 3", append([]byte{3}, v.PublicKeyA[1:]...), ErrVersion},
		{"v2 public key as version 0", append([]byte{0}, v.PublicKeyA[1:]...), ErrVersion},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := MessageType(c.msg)
			if !errors.Is(err, c.want) {
				t.Fatalf("MessageType = %v, want %v", err, c.want)
			}
			want := ReasonMalformed
			if c.want == ErrOldVersion {
				want = ReasonOldVersion
			}
			if got := Reason(err); got != want {
				t.Fatalf("Reason = %q, want %q", got, want)
			}
		})
	}
	// The records of version 1's receipts.json and reflect.json: malformed.
	var rv receiptsVector
	var fv reflectVector
	readJSON(t, filepath.Join(vectorDirV1, "receipts.json"), &rv)
	readJSON(t, filepath.Join(vectorDirV1, "reflect.json"), &fv)
	for i, rec := range [][]byte{rv.TypingB, rv.ReadB, rv.UnknownB, fv.Record} {
		if _, err := ParseRecordHeader(rec); !errors.Is(err, ErrVersion) || Reason(err) != ReasonMalformed || rec[0] != VersionOld {
			t.Errorf("version-1 record %d: %v, want malformed", i, err)
		}
	}
	// The version-1 PUBLIC_KEY with its version byte set to 2 is ours.
	m := bytes.Clone(v.PublicKeyA)
	m[0] = Version
	if _, err := ParsePublicKeyMsg(m); err != nil {
		t.Fatalf("the public key layout changed: %v", err)
	}
}

// signedHelloA is A's hello for B carrying share as its ML-KEM key, signed
// by A over the version-2 transcript: a hello only A (or a broken A) makes.
func signedHelloA(t *testing.T, idA, idB *crypto.Identity, share []byte, cookie [ChallengeSize]byte, now time.Time) []byte {
	t.Helper()
	eph, err := crypto.GenerateEphemeral(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	h, err := newHello(RoleInitiator, idA, newTranscript(idA.Public().DER(), idB.Public().DER()), LabelHelloA, eph, share, rand.Reader, now)
	if err != nil {
		t.Fatal(err)
	}
	m := AppendHello(nil, h)
	SetCookie(m, cookie)
	return m
}

// TestHybridInvalidEncapsulationKey: a hello correctly signed by A whose
// ML-KEM encapsulation key crypto/mlkem refuses (coefficients not reduced
// mod q) is malformed, checked after the signature: B queues no hello,
// starts no attempt and spends no signature.
func TestHybridInvalidEncapsulationKey(t *testing.T) {
	id := testIdentities(t)
	idA, idB := id[0], id[1]
	bad := bytes.Repeat([]byte{0xff}, MLKEMEncapKeySize)
	if _, err := CheckHelloA(signedHelloA(t, idA, idB, bad, [8]byte{}, testNow), idB, idA.Public(), testNow, DefaultWindow); !errors.Is(err, ErrMalformed) {
		t.Fatalf("CheckHelloA = %v, want ErrMalformed", err)
	}
	sn := newSpecNode(t, idB).withCandidate(idA, challenge(0x31))
	sn.take()
	signs := sn.n.budget.sign.tokens
	sn.n.handle(signedHelloA(t, idA, idB, bad, sn.n.challenge, testNow))
	if got := sn.lastVerdict(t); got != ReasonMalformed {
		t.Fatalf("verdict %q, want %q", got, ReasonMalformed)
	}
	if hs := ofType(sn.take(), TypeHello); len(hs) != 0 {
		t.Fatalf("B answered with %d hello(s)", len(hs))
	}
	if sn.n.hs.resp != nil || !sn.n.hs.attempt.IsZero() || sn.n.budget.sign.tokens != signs {
		t.Fatal("B started an attempt or spent a signature")
	}
	// The same hello with a valid key is answered.
	sn.n.handle(signedHelloA(t, idA, idB, validEncapsulationKey(t), sn.n.challenge, testNow))
	if hs := ofType(sn.take(), TypeHello); len(hs) != 1 || len(hs[0]) != HelloBSize {
		t.Fatalf("B's answer to a valid hello: %d hello(s)", len(hs))
	}
}

func validEncapsulationKey(t *testing.T) []byte {
	t.Helper()
	dk, err := newDecapsulationKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return dk.EncapsulationKey().Bytes()
}
