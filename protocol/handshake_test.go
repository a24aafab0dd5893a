package protocol

import (
	"bytes"
	"crypto/mlkem"
	"crypto/rand"
	"errors"
	"fmt"
	"testing"
	"time"

	"duet/crypto"
)

// hsFlow holds every message of one handshake between ids[0] (A) and
// ids[1] (B), produced step by step, with the states left waiting.
type hsFlow struct {
	init   *Initiator
	helloA []byte
	resp   *Responder
	helloB []byte
	kt     []byte
	ack    []byte
}

// newFlow runs the handshake up to (not including) the given step's
// consumption: 1 stops after hello A, 2 after hello B, 3 after the key
// transport, 4 after the ack.
func newFlow(tb testing.TB, upTo int) *hsFlow {
	tb.Helper()
	id := testIdentities(tb)
	f := &hsFlow{}
	var err error
	if f.init, f.helloA, err = NewInitiator(id[0], id[1].Public(), rand.Reader, testNow, DefaultWindow); err != nil {
		tb.Fatal(err)
	}
	if upTo < 2 {
		return f
	}
	h, err := CheckHelloA(f.helloA, id[1], id[0].Public(), testNow, DefaultWindow)
	if err != nil {
		tb.Fatal(err)
	}
	if f.resp, f.helloB, err = NewResponder(id[1], id[0].Public(), h, rand.Reader, testNow, DefaultWindow); err != nil {
		tb.Fatal(err)
	}
	if upTo < 3 {
		return f
	}
	if f.kt, err = f.init.HandleHello(f.helloB, testNow, nil); err != nil {
		tb.Fatal(err)
	}
	if upTo < 4 {
		return f
	}
	if f.ack, _, err = f.resp.HandleKeyTransport(f.kt, testNow); err != nil {
		tb.Fatal(err)
	}
	return f
}

type initState struct {
	state, tlen int
	seq         uint32
}

func snapInit(h *Initiator) initState { return initState{h.state, len(h.t.b), h.seq} }

type respState struct {
	done bool
	tlen int
}

func snapResp(h *Responder) respState { return respState{h.done, len(h.t.b)} }

func TestHandshakeAgreement(t *testing.T) {
	id := testIdentities(t)
	for range 5 {
		resA, resB := runHandshake(t, id[0], id[1], testNow)
		if resA.Role != RoleInitiator || resB.Role != RoleResponder {
			t.Fatalf("roles %d %d", resA.Role, resB.Role)
		}
		if resA.Transcript != resB.Transcript {
			t.Fatal("transcript hashes differ")
		}
		ka, kb := resA.Keys, resB.Keys
		for _, p := range [][2][]byte{{ka.encAB, kb.encAB}, {ka.encBA, kb.encBA}, {ka.macAB, kb.macAB}, {ka.macBA, kb.macBA}} {
			if !bytes.Equal(p[0], p[1]) || len(p[0]) != SessionKeyLen {
				t.Fatal("session keys differ")
			}
		}
		all := [][]byte{ka.encAB, ka.encBA, ka.macAB, ka.macBA}
		for x := range all {
			for y := x + 1; y < len(all); y++ {
				if bytes.Equal(all[x], all[y]) {
					t.Fatalf("keys %d and %d are equal", x, y)
				}
			}
		}
		if resA.SendSeq != resB.RecvSeq || resB.SendSeq != resA.RecvSeq {
			t.Fatalf("seqs: A send %d recv %d, B send %d recv %d", resA.SendSeq, resA.RecvSeq, resB.SendSeq, resB.RecvSeq)
		}
		if resA.SendSeq >= InitialSeqLimit || resB.SendSeq >= InitialSeqLimit {
			t.Fatalf("initial seq not below InitialSeqLimit: %d %d", resA.SendSeq, resB.SendSeq)
		}
		if resA.PeerKey.Fingerprint() != id[1].Public().Fingerprint() || resB.PeerKey.Fingerprint() != id[0].Public().Fingerprint() {
			t.Fatal("peer keys wrong")
		}
	}
	// Two handshakes never agree on keys.
	r1, _ := runHandshake(t, id[0], id[1], testNow)
	r2, _ := runHandshake(t, id[0], id[1], testNow)
	if bytes.Equal(r1.Keys.encAB, r2.Keys.encAB) || r1.Transcript == r2.Transcript {
		t.Fatal("two handshakes produced the same keys or transcript")
	}
}

// shareAt is the offset of the ML-KEM share in an encoded hello.
const shareAt = helloFixedSize - RSASize

// swapShare returns a copy of an encoded hello whose ML-KEM share is
// replaced by a valid one of the relay's own (a fresh encapsulation key in
// A's hello, a ciphertext to a fresh key in B's), signature unchanged.
func swapShare(t *testing.T, m []byte) []byte {
	t.Helper()
	dk, err := mlkem.GenerateKey768()
	if err != nil {
		t.Fatal(err)
	}
	share := dk.EncapsulationKey().Bytes()
	if m[2] == RoleResponder {
		_, share = dk.EncapsulationKey().Encapsulate()
	}
	out := bytes.Clone(m)
	if copy(out[shareAt:len(out)-RSASize], share) != len(share) || len(out) != shareAt+len(share)+RSASize {
		t.Fatal("swapShare: share size")
	}
	return out
}

func TestHandshakeHelloARejections(t *testing.T) {
	id := testIdentities(t)
	w := DefaultWindow
	helloAt := func(t *testing.T, signer *crypto.Identity, at time.Time) []byte {
		_, m, err := NewInitiator(signer, id[1].Public(), rand.Reader, at, w)
		if err != nil {
			t.Fatal(err)
		}
		return m
	}
	tests := []struct {
		name string
		msg  func(t *testing.T) []byte
		self *crypto.Identity // the responder (default ids[1])
		want error
	}{
		{"flipped signature byte", func(t *testing.T) []byte {
			return flip(helloAt(t, id[0], testNow), HelloSize-10, 0x01)
		}, nil, ErrBadSignature},
		{"flipped nonce byte", func(t *testing.T) []byte {
			return flip(helloAt(t, id[0], testNow), 3+CookieSize, 0x80)
		}, nil, ErrBadSignature},
		{"flipped ephemeral byte", func(t *testing.T) []byte {
			return flip(helloAt(t, id[0], testNow), 3+CookieSize+NonceSize+TimestampSize, 0x01)
		}, nil, ErrBadSignature},
		{"signed by a third key", func(t *testing.T) []byte {
			return helloAt(t, id[2], testNow)
		}, nil, ErrBadSignature},
		{"made for another responder", func(t *testing.T) []byte {
			return helloAt(t, id[0], testNow) // for ids[1], given to ids[2]
		}, id[2], ErrBadSignature},
		{"stale", func(t *testing.T) []byte {
			return helloAt(t, id[0], testNow.Add(-w-time.Second))
		}, nil, ErrStale},
		{"future", func(t *testing.T) []byte {
			return helloAt(t, id[0], testNow.Add(w+time.Second))
		}, nil, ErrFuture},
		{"forged stale", func(t *testing.T) []byte {
			return flip(helloAt(t, id[0], testNow.Add(-w-time.Second)), HelloSize-1, 0x01)
		}, nil, ErrBadSignature},
		{"forged future", func(t *testing.T) []byte {
			return flip(helloAt(t, id[0], testNow.Add(w+time.Second)), HelloSize-1, 0x01)
		}, nil, ErrBadSignature},
		{"timestamp rewritten", func(t *testing.T) []byte {
			return flip(helloAt(t, id[0], testNow), 3+CookieSize+NonceSize+TimestampSize-1, 0x01)
		}, nil, ErrBadSignature},
		{"responder role", func(t *testing.T) []byte {
			m := helloAt(t, id[0], testNow)
			m[2] = RoleResponder // a role fixes the size: A's size with B's role
			return m
		}, nil, ErrMalformed},
		{"role 0", func(t *testing.T) []byte {
			m := helloAt(t, id[0], testNow)
			m[2] = 0
			return m
		}, nil, ErrMalformed},
		{"role 3", func(t *testing.T) []byte {
			m := helloAt(t, id[0], testNow)
			m[2] = 3
			return m
		}, nil, ErrMalformed},
		{"one byte short", func(t *testing.T) []byte {
			return helloAt(t, id[0], testNow)[:HelloSize-1]
		}, nil, ErrMalformed},
		{"one byte long", func(t *testing.T) []byte {
			return append(helloAt(t, id[0], testNow), 0)
		}, nil, ErrMalformed},
		{"wrong type", func(t *testing.T) []byte {
			m := helloAt(t, id[0], testNow)
			m[1] = TypeKeyTransport
			return m
		}, nil, ErrMalformed},
		{"wrong version", func(t *testing.T) []byte {
			m := helloAt(t, id[0], testNow)
			m[0] = 3
			return m
		}, nil, ErrVersion},
		{"version 1", func(t *testing.T) []byte {
			m := helloAt(t, id[0], testNow)
			m[0] = VersionOld
			return m
		}, nil, ErrVersion},
		{"ML-KEM key stripped (version-1 layout)", func(t *testing.T) []byte {
			return stripHelloShare(helloAt(t, id[0], testNow))
		}, nil, ErrDowngrade},
		{"ML-KEM key stripped, version byte 1", func(t *testing.T) []byte {
			m := stripHelloShare(helloAt(t, id[0], testNow))
			m[0] = VersionOld
			return m
		}, nil, ErrVersion},
		{"ML-KEM key swapped for the relay's", func(t *testing.T) []byte {
			return swapShare(t, helloAt(t, id[0], testNow))
		}, nil, ErrBadSignature},
		{"ML-KEM key byte flipped", func(t *testing.T) []byte {
			return flip(helloAt(t, id[0], testNow), helloFixedSize-RSASize+100, 0x01)
		}, nil, ErrBadSignature},
		{"B's size", func(t *testing.T) []byte {
			return helloAt(t, id[0], testNow)[:HelloBSize]
		}, nil, ErrMalformed},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			self := id[1]
			if tc.self != nil {
				self = tc.self
			}
			if _, err := CheckHelloA(tc.msg(t), self, id[0].Public(), testNow, w); !errors.Is(err, tc.want) {
				t.Fatalf("CheckHelloA = %v, want %v", err, tc.want)
			}
		})
	}
	// The window edges are inclusive.
	for _, d := range []time.Duration{-w, w} {
		if _, err := CheckHelloA(helloAt(t, id[0], testNow.Add(d)), id[1], id[0].Public(), testNow, w); err != nil {
			t.Errorf("hello at the window edge %v: %v", d, err)
		}
	}
}

func TestHandshakeHelloBRejections(t *testing.T) {
	id := testIdentities(t)
	w := DefaultWindow
	// helloB answers f's hello A from ids[1] at time at.
	helloB := func(t *testing.T, f *hsFlow, signer *crypto.Identity, at time.Time) []byte {
		h, err := ParseHello(f.helloA)
		if err != nil {
			t.Fatal(err)
		}
		_, m, err := NewResponder(signer, id[0].Public(), h, rand.Reader, at, w)
		if err != nil {
			t.Fatal(err)
		}
		return m
	}
	tests := []struct {
		name string
		msg  func(t *testing.T, f *hsFlow) []byte
		pin  func(*crypto.PublicKey) error
		want error
	}{
		{"flipped signature byte", func(t *testing.T, f *hsFlow) []byte {
			return flip(f.helloB, HelloBSize-100, 0x04)
		}, nil, ErrBadSignature},
		{"signed by a third key", func(t *testing.T, f *hsFlow) []byte {
			return helloB(t, f, id[2], testNow)
		}, nil, ErrBadSignature},
		{"answer to another attempt", func(t *testing.T, f *hsFlow) []byte {
			return newFlow(t, 2).helloB
		}, nil, ErrBadSignature},
		{"stale", func(t *testing.T, f *hsFlow) []byte {
			return helloB(t, f, id[1], testNow.Add(-w-time.Second))
		}, nil, ErrStale},
		{"future", func(t *testing.T, f *hsFlow) []byte {
			return helloB(t, f, id[1], testNow.Add(w+time.Second))
		}, nil, ErrFuture},
		{"forged stale", func(t *testing.T, f *hsFlow) []byte {
			return flip(helloB(t, f, id[1], testNow.Add(-w-time.Second)), HelloBSize-1, 0x01)
		}, nil, ErrBadSignature},
		{"initiator role", func(t *testing.T, f *hsFlow) []byte {
			m := bytes.Clone(f.helloB)
			m[2] = RoleInitiator // a role fixes the size: B's size with A's role
			return m
		}, nil, ErrMalformed},
		{"role 7", func(t *testing.T, f *hsFlow) []byte {
			m := bytes.Clone(f.helloB)
			m[2] = 7
			return m
		}, nil, ErrMalformed},
		{"reflected hello A", func(t *testing.T, f *hsFlow) []byte {
			return bytes.Clone(f.helloA) // A's own hello: the wrong role
		}, nil, ErrUnexpected},
		{"reflected hello A, role and size fixed up", func(t *testing.T, f *hsFlow) []byte {
			m := bytes.Clone(f.helloA)
			m[2] = RoleResponder
			m = append(m[:helloFixedSize-RSASize+MLKEMCiphertextSize], m[len(m)-RSASize:]...)
			return m
		}, nil, ErrBadSignature},
		{"short", func(t *testing.T, f *hsFlow) []byte {
			return f.helloB[:HelloBSize-1]
		}, nil, ErrMalformed},
		{"ML-KEM ciphertext stripped (version-1 layout)", func(t *testing.T, f *hsFlow) []byte {
			return stripHelloShare(f.helloB)
		}, nil, ErrDowngrade},
		{"ML-KEM ciphertext swapped for the relay's", func(t *testing.T, f *hsFlow) []byte {
			return swapShare(t, f.helloB)
		}, nil, ErrBadSignature},
		{"ML-KEM ciphertext byte flipped", func(t *testing.T, f *hsFlow) []byte {
			return flip(f.helloB, helloFixedSize-RSASize+7, 0x80)
		}, nil, ErrBadSignature},
		{"pin refuses", func(t *testing.T, f *hsFlow) []byte {
			return f.helloB
		}, func(p *crypto.PublicKey) error {
			return &crypto.KeyChangedError{Peer: "b", Got: p.Fingerprint()}
		}, ErrKeyChanged},
		{"pin fails otherwise", func(t *testing.T, f *hsFlow) []byte {
			return f.helloB
		}, func(*crypto.PublicKey) error { return errors.New("no") }, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := newFlow(t, 2)
			before := snapInit(f.init)
			_, err := f.init.HandleHello(tc.msg(t, f), testNow, tc.pin)
			if err == nil || (tc.want != nil && !errors.Is(err, tc.want)) {
				t.Fatalf("HandleHello = %v, want %v", err, tc.want)
			}
			if got := IsPinError(err); got != (tc.pin != nil) {
				t.Fatalf("IsPinError = %v for %v", got, err)
			}
			if after := snapInit(f.init); after != before {
				t.Fatalf("initiator changed: %+v -> %+v", before, after)
			}
			// The genuine hello (with no pin) still completes the exchange.
			kt, err := f.init.HandleHello(f.helloB, testNow, nil)
			if err != nil {
				t.Fatalf("genuine hello after rejection: %v", err)
			}
			ack, resB, err := f.resp.HandleKeyTransport(kt, testNow)
			if err != nil {
				t.Fatal(err)
			}
			resA, err := f.init.HandleAck(ack, testNow)
			if err != nil {
				t.Fatal(err)
			}
			if resA.Transcript != resB.Transcript || !bytes.Equal(resA.Keys.encAB, resB.Keys.encAB) {
				t.Fatal("keys differ after a rejected hello")
			}
		})
	}
}

func TestHandshakeKeyTransportRejections(t *testing.T) {
	f := newFlow(t, 3)
	region := func(i int) string {
		switch {
		case i < 2+CookieSize+RSASize:
			return "ciphertext"
		case i < 2+CookieSize+RSASize+MACSize:
			return "mac"
		}
		return "signature"
	}
	// Every byte after the prefix and the cookie is covered by the
	// signature (the cookie is checked by the driver, TestNodeDropsWrongCookie).
	before := snapResp(f.resp)
	for i := 2 + CookieSize; i < KeyTransportSize; i++ {
		_, res, err := f.resp.HandleKeyTransport(flip(f.kt, i, 0x01<<(i%8)), testNow)
		if !errors.Is(err, ErrBadSignature) || res != nil {
			t.Fatalf("%s byte %d flipped: %v, want ErrBadSignature", region(i), i, err)
		}
		if after := snapResp(f.resp); after != before {
			t.Fatalf("responder changed: %+v -> %+v", before, after)
		}
	}
	tests := []struct {
		name string
		msg  []byte
		at   time.Time
		want error
	}{
		{"short", f.kt[:KeyTransportSize-1], testNow, ErrMalformed},
		{"long", append(bytes.Clone(f.kt), 0), testNow, ErrMalformed},
		{"wrong type", func() []byte { m := bytes.Clone(f.kt); m[1] = TypeAck; return m }(), testNow, ErrMalformed},
		{"wrong version", func() []byte { m := bytes.Clone(f.kt); m[0] = 0; return m }(), testNow, ErrVersion},
		{"stale", f.kt, testNow.Add(DefaultWindow + time.Second), ErrStale},
		{"future", f.kt, testNow.Add(-DefaultWindow - time.Second), ErrFuture},
		{"from another attempt", newFlow(t, 3).kt, testNow, ErrBadSignature},
	}
	for _, tc := range tests {
		if _, _, err := f.resp.HandleKeyTransport(tc.msg, tc.at); !errors.Is(err, tc.want) {
			t.Errorf("%s: %v, want %v", tc.name, err, tc.want)
		}
		if after := snapResp(f.resp); after != before {
			t.Fatalf("%s: responder changed: %+v -> %+v", tc.name, before, after)
		}
	}
	ack, _, err := f.resp.HandleKeyTransport(f.kt, testNow)
	if err != nil {
		t.Fatalf("genuine key transport after rejections: %v", err)
	}
	if _, _, err := f.resp.HandleKeyTransport(f.kt, testNow); !errors.Is(err, ErrUnexpected) {
		t.Fatalf("second key transport: %v, want ErrUnexpected", err)
	}
	if _, err := f.init.HandleAck(ack, testNow); err != nil {
		t.Fatal(err)
	}
}

func TestHandshakeAckRejections(t *testing.T) {
	f := newFlow(t, 4)
	before := snapInit(f.init)
	for i := 2; i < AckSize; i++ {
		res, err := f.init.HandleAck(flip(f.ack, i, 0x80>>(i%8)), testNow)
		if !errors.Is(err, ErrTampered) || res != nil {
			t.Fatalf("ack byte %d flipped: %v, want ErrTampered", i, err)
		}
		if after := snapInit(f.init); after != before {
			t.Fatalf("initiator changed: %+v -> %+v", before, after)
		}
	}
	tests := []struct {
		name string
		msg  []byte
		at   time.Time
		want error
	}{
		{"short", f.ack[:AckSize-1], testNow, ErrMalformed},
		{"long", append(bytes.Clone(f.ack), 0), testNow, ErrMalformed},
		{"wrong type", func() []byte { m := bytes.Clone(f.ack); m[1] = TypeKeyTransport; return m }(), testNow, ErrMalformed},
		{"wrong version", func() []byte { m := bytes.Clone(f.ack); m[0] = 9; return m }(), testNow, ErrVersion},
		{"stale", f.ack, testNow.Add(DefaultWindow + time.Second), ErrStale},
		{"future", f.ack, testNow.Add(-DefaultWindow - time.Second), ErrFuture},
		{"from another attempt", newFlow(t, 4).ack, testNow, ErrTampered},
	}
	for _, tc := range tests {
		if _, err := f.init.HandleAck(tc.msg, tc.at); !errors.Is(err, tc.want) {
			t.Errorf("%s: %v, want %v", tc.name, err, tc.want)
		}
		if after := snapInit(f.init); after != before {
			t.Fatalf("%s: initiator changed: %+v -> %+v", tc.name, before, after)
		}
	}
	if _, err := f.init.HandleAck(f.ack, testNow); err != nil {
		t.Fatalf("genuine ack after rejections: %v", err)
	}
	if _, err := f.init.HandleAck(f.ack, testNow); !errors.Is(err, ErrUnexpected) {
		t.Fatalf("second ack: %v, want ErrUnexpected", err)
	}
}

func TestHandshakeOutOfOrder(t *testing.T) {
	f := newFlow(t, 4)
	g := newFlow(t, 1)
	if _, err := g.init.HandleAck(f.ack, testNow); !errors.Is(err, ErrUnexpected) {
		t.Errorf("ack before key transport: %v, want ErrUnexpected", err)
	}
	if _, err := f.init.HandleHello(f.helloB, testNow, nil); !errors.Is(err, ErrUnexpected) {
		t.Errorf("hello after hello: %v, want ErrUnexpected", err)
	}
}

func TestHandshakePinRetry(t *testing.T) {
	id := testIdentities(t)
	f := newFlow(t, 2)
	before := snapInit(f.init)
	var seen *crypto.PublicKey
	_, err := f.init.HandleHello(f.helloB, testNow, func(p *crypto.PublicKey) error {
		seen = p
		return crypto.CheckPinned(id[2].Public().Fingerprint(), p.Fingerprint())
	})
	if !IsPinError(err) || !errors.Is(err, ErrKeyChanged) || !errors.Is(err, crypto.ErrKeyChanged) {
		t.Fatalf("pin error = %v (IsPinError %v)", err, IsPinError(err))
	}
	var kc *crypto.KeyChangedError
	if !errors.As(err, &kc) || kc.Got != id[1].Public().Fingerprint() {
		t.Fatalf("KeyChangedError not reachable: %v", err)
	}
	if seen == nil || seen.Fingerprint() != id[1].Public().Fingerprint() {
		t.Fatal("pin was not called with the peer's verified key")
	}
	if Reason(err) != ReasonKeyChanged {
		t.Fatalf("Reason = %q", Reason(err))
	}
	if after := snapInit(f.init); after != before {
		t.Fatalf("initiator changed: %+v -> %+v", before, after)
	}
	if _, err := f.init.HandleHello(f.helloB, testNow, nil); err != nil {
		t.Fatalf("retry with nil pin: %v", err)
	}
}

// TestHandshakeSessionBinding: a hello is useless outside the handshake it
// was made for, because its signature covers both identity keys and, for
// hello B, A's fresh hello fields.
func TestHandshakeSessionBinding(t *testing.T) {
	id := testIdentities(t)
	f1 := newFlow(t, 2)
	f2 := newFlow(t, 2)
	// Session 1's hello A at the responder of a session between other keys.
	if _, err := CheckHelloA(f1.helloA, id[2], id[0].Public(), testNow, DefaultWindow); !errors.Is(err, ErrBadSignature) {
		t.Errorf("hello A to another responder: %v", err)
	}
	if _, err := CheckHelloA(f1.helloA, id[1], id[2].Public(), testNow, DefaultWindow); !errors.Is(err, ErrBadSignature) {
		t.Errorf("hello A claimed by another initiator: %v", err)
	}
	// Session 1's hello B replayed to session 2's initiator.
	if _, err := f2.init.HandleHello(f1.helloB, testNow, nil); !errors.Is(err, ErrBadSignature) {
		t.Errorf("hello B of another attempt: %v", err)
	}
	// Session 1's key transport at session 2's responder.
	kt1, err := f1.init.HandleHello(f1.helloB, testNow, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := f2.resp.HandleKeyTransport(kt1, testNow); !errors.Is(err, ErrBadSignature) {
		t.Errorf("key transport of another attempt: %v", err)
	}
	// Each flow still completes.
	for i, f := range []*hsFlow{f1, f2} {
		kt := kt1
		if i == 1 {
			if kt, err = f.init.HandleHello(f.helloB, testNow, nil); err != nil {
				t.Fatal(err)
			}
		}
		ack, _, err := f.resp.HandleKeyTransport(kt, testNow)
		if err != nil {
			t.Fatalf("flow %d: %v", i, err)
		}
		if _, err := f.init.HandleAck(ack, testNow); err != nil {
			t.Fatalf("flow %d: %v", i, err)
		}
	}
}

func TestHandshakeErrorsMapToReasons(t *testing.T) {
	tests := []struct {
		err  error
		want string
	}{
		{fmt.Errorf("x: %w", ErrBadSignature), ReasonBadSignature},
		{&pinError{&crypto.KeyChangedError{}}, ReasonKeyChanged},
		{fmt.Errorf("x: %w", ErrHelloReplay), ReasonReplay},
		{fmt.Errorf("x: %w", crypto.ErrDecrypt), ReasonTampered},
		{fmt.Errorf("x: %w", ErrStale), ReasonStale},
		{fmt.Errorf("x: %w", ErrFuture), ReasonFuture},
		{ErrBadConfirm, ReasonTampered},
		{ErrNonceReuse, ReasonNonceReuse},
		{ErrTooLarge, ReasonTooLarge},
		{ErrReorder, ReasonReorder},
		{ErrUnexpected, ReasonMalformed},
	}
	for _, tc := range tests {
		if got := Reason(tc.err); got != tc.want {
			t.Errorf("Reason(%v) = %q, want %q", tc.err, got, tc.want)
		}
	}
}
