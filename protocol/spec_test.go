package protocol

// Tests that pin what docs/PROTOCOL.md says where an implementer once had to
// read duet's code (issue 15, S1-S14). Each drives one node by hand (no Run)
// with a clock that only moves when the test moves it, feeds it messages
// through handle, and reads what it queued to send and what it reported.

import (
	"bytes"
	"crypto/mlkem"
	"crypto/rand"
	"testing"
	"time"

	"duet/crypto"
)

// specNode is a node driven by hand: its clock is n.now, set by the test.
type specNode struct {
	n   *Node
	r   *recorder
	log *RecordLog
}

func newSpecNode(t *testing.T, self *crypto.Identity) *specNode {
	t.Helper()
	pa, pb := NewPipe(16)
	t.Cleanup(func() { pa.Close(); pb.Close() })
	sn := &specNode{r: newRecorder(), log: &RecordLog{}}
	n, err := NewNode(Config{Identity: self, Now: func() time.Time { return testNow }, Records: sn.log,
		StepTimeout: DefaultStepTimeout, Window: DefaultWindow}, pb, sn.r.emit)
	if err != nil {
		t.Fatal(err)
	}
	n.now = testNow
	sn.n = n
	return sn
}

// withCandidate makes peer the node's reachable candidate holding challenge c.
func (sn *specNode) withCandidate(peer *crypto.Identity, c [ChallengeSize]byte) *specNode {
	sn.n.hs.peer, sn.n.hs.reachable, sn.n.hs.peerChallenge = peer.Public(), true, c
	return sn
}

// take returns the messages queued since the last take and forgets them.
func (sn *specNode) take() [][]byte {
	b := sn.n.link.batch
	sn.n.link.batch, sn.n.link.batchBytes = nil, 0
	return b
}

// ofType keeps the messages of type typ.
func ofType(ms [][]byte, typ byte) [][]byte {
	var out [][]byte
	for _, m := range ms {
		if len(m) >= 2 && m[1] == typ {
			out = append(out, m)
		}
	}
	return out
}

// lastVerdict is the verdict the node logged for the last message it received.
func (sn *specNode) lastVerdict(t *testing.T) string {
	t.Helper()
	rs, _ := sn.log.Last(nil, RecordLogSize)
	for i := len(rs) - 1; i >= 0; i-- {
		if rs[i].Dir == DirIn {
			return rs[i].Verdict
		}
	}
	t.Fatal("nothing received")
	return ""
}

func challenge(b byte) (c [ChallengeSize]byte) {
	for i := range c {
		c[i] = b
	}
	return c
}

func pubKeyMsg(id *crypto.Identity, rr bool, c, echo [ChallengeSize]byte) []byte {
	return AppendPublicKey(nil, PublicKeyMsg{ReplyRequested: rr, Challenge: c, Echo: echo, DER: id.Public().DER()})
}

func mustParsePK(t *testing.T, m []byte) PublicKeyMsg {
	t.Helper()
	p, err := ParsePublicKeyMsg(m)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// TestSpecEchoField (S1, section 4.1): the echo of a PUBLIC_KEY answering
// one is that message's challenge; of any other, the sender's copy of the
// candidate's challenge, or zeros when it has no candidate (at start, and
// after a GOODBYE forgot the candidate).
func TestSpecEchoField(t *testing.T) {
	id := testIdentities(t)
	sn := newSpecNode(t, id[1])
	n := sn.n
	n.sendPublicKey(true)
	if pk := mustParsePK(t, sn.take()[0]); pk.Echo != ([ChallengeSize]byte{}) {
		t.Fatalf("no candidate: echo %x, want zeros", pk.Echo)
	}
	c1 := challenge(0x41)
	n.handle(pubKeyMsg(id[0], true, c1, challenge(0)))
	out := ofType(sn.take(), TypePublicKey)
	if len(out) != 1 || mustParsePK(t, out[0]).Echo != c1 {
		t.Fatalf("answer to a PUBLIC_KEY: %d sent, want one echoing its challenge %x", len(out), c1)
	}
	n.sendPublicKey(true) // a retry: the candidate's challenge as held
	if pk := mustParsePK(t, sn.take()[0]); pk.Echo != c1 {
		t.Fatalf("retry: echo %x, want the candidate's challenge %x", pk.Echo, c1)
	}
	// The candidate forgotten (as an accepted GOODBYE does): zeros again,
	// not the old candidate's challenge.
	n.hs.peer, n.hs.reachable = nil, false
	n.sendPublicKey(true)
	if pk := mustParsePK(t, sn.take()[0]); pk.Echo != ([ChallengeSize]byte{}) {
		t.Fatalf("candidate forgotten: echo %x, want zeros", pk.Echo)
	}
}

// TestSpecPublicKeyAnswers (S2, section 4.1): the answer table. Which
// PUBLIC_KEY is answered, what it echoes, and whether the answer requests
// a reply, including the case the old text contradicted itself on (the
// reachable candidate's key, not proven, with the challenge held: answered
// without the flag).
func TestSpecPublicKeyAnswers(t *testing.T) {
	id := testIdentities(t)
	held, fresh, other := challenge(0x21), challenge(0x22), challenge(0x23)
	for _, tc := range []struct {
		name      string
		reachable bool
		from      *crypto.Identity
		rr        bool
		c         [ChallengeSize]byte
		proven    bool
		answered  bool
		flag      bool
	}{
		{"proven with REPLY_REQUESTED", true, id[0], true, held, true, true, false},
		{"proven without REPLY_REQUESTED", true, id[0], false, held, true, false, false},
		{"proven new challenge with REPLY_REQUESTED", true, id[0], true, fresh, true, true, false},
		{"candidate's key, challenge held, with REPLY_REQUESTED", true, id[0], true, held, false, true, false},
		{"candidate's key, challenge held, without REPLY_REQUESTED", true, id[0], false, held, false, false, false},
		{"candidate's key, new challenge, with REPLY_REQUESTED", true, id[0], true, fresh, false, true, true},
		{"candidate's key, new challenge, without REPLY_REQUESTED", true, id[0], false, fresh, false, true, true},
		{"another key with REPLY_REQUESTED", true, id[2], true, other, false, true, true},
		{"another key without REPLY_REQUESTED", true, id[2], false, other, false, false, false},
		{"unreachable candidate's key without REPLY_REQUESTED", false, id[0], false, fresh, false, true, true},
		{"unreachable candidate's key with REPLY_REQUESTED", false, id[0], true, fresh, false, true, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			sn := newSpecNode(t, id[1]).withCandidate(id[0], held)
			n := sn.n
			n.hs.reachable = tc.reachable
			echo := challenge(0x99)
			if tc.proven {
				echo = n.challenge
			}
			n.handle(pubKeyMsg(tc.from, tc.rr, tc.c, echo))
			out := ofType(sn.take(), TypePublicKey)
			if !tc.answered {
				if len(out) != 0 {
					t.Fatalf("%d answers, want none", len(out))
				}
				return
			}
			if len(out) != 1 {
				t.Fatalf("%d answers, want one", len(out))
			}
			pk := mustParsePK(t, out[0])
			if pk.Echo != tc.c || pk.ReplyRequested != tc.flag || pk.Challenge != n.challenge {
				t.Fatalf("answer echo %x flag %v, want echo %x flag %v", pk.Echo, pk.ReplyRequested, tc.c, tc.flag)
			}
		})
	}
}

// TestSpecRestartAnswerRepeated (S2, section 4.1): an unproven new challenge
// of the reachable candidate is answered at once and the answer repeated at
// each step tick (StepTimeout/4) for two step timeouts after it: 9 answers
// in all, each echoing that challenge with REPLY_REQUESTED; a proven
// PUBLIC_KEY stops the repetitions.
func TestSpecRestartAnswerRepeated(t *testing.T) {
	id := testIdentities(t)
	fresh := challenge(0x31)
	run := func(t *testing.T, proveAfter int) int {
		sn := newSpecNode(t, id[1]).withCandidate(id[0], challenge(0x30))
		n := sn.n
		n.handle(pubKeyMsg(id[0], false, fresh, challenge(0x99)))
		count := 0
		for tick := 0; ; tick++ {
			for _, m := range ofType(sn.take(), TypePublicKey) {
				pk := mustParsePK(t, m)
				if pk.Echo != fresh || !pk.ReplyRequested {
					t.Fatalf("repetition %d: echo %x flag %v", count, pk.Echo, pk.ReplyRequested)
				}
				count++
			}
			if tick == 20 {
				return count
			}
			if tick == proveAfter {
				n.handle(pubKeyMsg(id[0], false, fresh, n.challenge))
				sn.take()
			}
			n.now = n.now.Add(n.cfg.StepTimeout / 4)
			n.retryProof()
		}
	}
	if got := run(t, -1); got != 9 {
		t.Errorf("answers to one restart: %d, want 9 (1 at once + 8 ticks over two step timeouts)", got)
	}
	if got := run(t, 1); got != 2 {
		t.Errorf("answers when proven after the first tick: %d, want 2", got)
	}
}

// TestSpecReplyBudgets (S3, section 9): PUBLIC_KEY answers come from two
// token buckets of burst 10 refilled at 20 a second, one for proven
// messages and one for all others; an empty one does not starve the other.
func TestSpecReplyBudgets(t *testing.T) {
	id := testIdentities(t)
	held := challenge(0x51)
	sn := newSpecNode(t, id[1]).withCandidate(id[0], held)
	n := sn.n
	send := func(from *crypto.Identity, proven bool, k int) int {
		for i := range k {
			echo := challenge(0x99)
			if proven {
				echo = n.challenge
			}
			c := challenge(byte(0x60 + i))
			if proven {
				c = held
			}
			n.handle(pubKeyMsg(from, true, c, echo))
		}
		return len(ofType(sn.take(), TypePublicKey))
	}
	if got := send(id[2], false, 30); got != 10 {
		t.Fatalf("30 requests at one instant: %d answers, want the burst of 10", got)
	}
	if got := send(id[0], true, 30); got != 10 {
		t.Fatalf("30 proven requests with the other bucket empty: %d answers, want 10", got)
	}
	n.now = n.now.Add(250 * time.Millisecond)
	if got := send(id[2], false, 30); got != 5 {
		t.Fatalf("after 250 ms: %d answers, want 5 (20 a second)", got)
	}
}

// helloCookies returns the cookies of the HELLOs in ms.
func helloCookies(ms [][]byte) [][ChallengeSize]byte {
	var out [][ChallengeSize]byte
	for _, m := range ofType(ms, TypeHello) {
		c, _ := Cookie(m)
		out = append(out, c)
	}
	return out
}

// TestSpecWhenASigns (S4, S5, section 7 "When A signs"): which PUBLIC_KEY
// of its reachable candidate makes A send a fresh HELLO.
func TestSpecWhenASigns(t *testing.T) {
	id := testIdentities(t)
	held, fresh := challenge(0x71), challenge(0x72)
	type step struct {
		after  time.Duration // clock advance before the message
		rr     bool
		c      [ChallengeSize]byte
		proven bool
		hello  bool // a HELLO is sent, with the message's challenge as cookie
	}
	for _, tc := range []struct {
		name    string
		session bool
		hello   bool // A sent a hello (its attempt) before the steps
		steps   []step
	}{
		{"unproven, attempt of our own: never", false, true, []step{
			{0, true, fresh, false, false}, {3 * time.Second, true, held, false, false}}},
		{"proven with REPLY_REQUESTED crossing our hello: not before 500 ms", false, true, []step{
			{100 * time.Millisecond, true, held, true, false},
			{400 * time.Millisecond, true, held, true, true}}},
		{"proven, challenge changed: at once", false, true, []step{
			{0, false, fresh, true, true}}},
		{"proven without REPLY_REQUESTED, attempt under 2 s: no", false, true, []step{
			{1900 * time.Millisecond, false, held, true, false},
			{100 * time.Millisecond, false, held, true, true}}},
		{"no attempt, no session: yes, even unproven", false, false, []step{
			{0, false, held, false, true}}},
		{"restart beside a session: unproven no, proven yes", true, false, []step{
			{0, true, fresh, false, false}, {0, false, fresh, false, false},
			{0, false, held, true, false},
			{0, true, fresh, true, true}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			sn := newSpecNode(t, id[0]).withCandidate(id[1], held)
			n := sn.n
			if tc.session {
				a, _ := newSessionPair(t, SessionConfig{})
				n.sess = a
			}
			if tc.hello {
				n.sendHelloA()
				if len(helloCookies(sn.take())) != 1 {
					t.Fatal("no first hello")
				}
			}
			for i, s := range tc.steps {
				n.now = n.now.Add(s.after)
				n.budget.sign = newTokenBucket(4, 4) // the sign budget is not what is tested here
				echo := challenge(0x99)
				if s.proven {
					echo = n.challenge
				}
				n.handle(pubKeyMsg(id[1], s.rr, s.c, echo))
				cookies := helloCookies(sn.take())
				if s.hello != (len(cookies) == 1) || len(cookies) > 1 {
					t.Fatalf("step %d: %d hellos, want hello %v", i, len(cookies), s.hello)
				}
				if s.hello && cookies[0] != s.c {
					t.Fatalf("step %d: cookie %x, want the challenge %x", i, cookies[0], s.c)
				}
			}
		})
	}
}

// TestSpecCookieBeforeLength (S6, section 7): a HELLO or KEY_TRANSPORT is
// dropped silently on its cookie before its length is looked at; with the
// right cookie a wrong length is malformed.
func TestSpecCookieBeforeLength(t *testing.T) {
	id := testIdentities(t)
	sn := newSpecNode(t, id[1]).withCandidate(id[0], challenge(0x81))
	n := sn.n
	msg := func(typ byte, size int, cookie [ChallengeSize]byte) []byte {
		m := make([]byte, size)
		m[0], m[1] = Version, typ
		if size >= cookieAt(typ)+CookieSize {
			copy(m[cookieAt(typ):], cookie[:])
		}
		return m
	}
	wrong := challenge(0x82)
	for _, tc := range []struct {
		name string
		m    []byte
		want string
	}{
		{"hello, wrong length, wrong cookie", msg(TypeHello, 100, wrong), VerdictIgnored},
		{"hello, too short for a cookie", msg(TypeHello, 10, n.challenge), VerdictIgnored},
		{"hello, wrong length, right cookie", msg(TypeHello, 100, n.challenge), ReasonMalformed},
		{"key transport, wrong length, wrong cookie", msg(TypeKeyTransport, 100, wrong), VerdictIgnored},
		{"key transport, too short for a cookie", msg(TypeKeyTransport, 9, n.challenge), VerdictIgnored},
		{"key transport, wrong length, right cookie", msg(TypeKeyTransport, 100, n.challenge), ReasonMalformed},
		{"hello, version-1 length, wrong cookie", msg(TypeHello, HelloV1Size, wrong), VerdictIgnored},
		{"hello, version-1 length, right cookie", msg(TypeHello, HelloV1Size, n.challenge), ReasonDowngrade},
		{"hello, B's length with role 1, right cookie", roleMsg(msg(TypeHello, HelloBSize, n.challenge), RoleInitiator), ReasonMalformed},
		{"hello, A's length with role 2, right cookie", roleMsg(msg(TypeHello, HelloASize, n.challenge), RoleResponder), ReasonMalformed},
	} {
		t.Run(tc.name, func(t *testing.T) {
			n.rejects = newRejectLog()
			events := len(sn.r.snapshot())
			n.handle(tc.m)
			if got := sn.lastVerdict(t); got != tc.want {
				t.Fatalf("verdict %q, want %q", got, tc.want)
			}
			evs := sn.r.snapshot()[events:]
			if tc.want == VerdictIgnored && len(evs) != 0 {
				t.Fatalf("a dropped message reported %v", evs)
			}
			rejections := 0
			for _, e := range evs {
				if _, ok := e.(RejectedEvent); ok {
					rejections++
				}
			}
			if tc.want != VerdictIgnored && (rejections != 1 || !rejected(tc.want)(evs[0])) {
				t.Fatalf("events %v, want one rejection %q", evs, tc.want)
			}
		})
	}
}

func roleMsg(m []byte, role byte) []byte { m[2] = role; return m }

// TestSpecLengthBeforeBudget (section 7, issue 19): the length check of a
// HELLO or KEY_TRANSPORT comes after the cookie and before the verify
// budget: with the budget spent, a hello of the wrong length is still
// malformed (or downgrade), a well-sized one dropped.
func TestSpecLengthBeforeBudget(t *testing.T) {
	id := testIdentities(t)
	sn := newSpecNode(t, id[1]).withCandidate(id[0], challenge(0x81))
	n := sn.n
	n.budget.verify.tokens = 0
	for _, tc := range []struct {
		size int
		want string
	}{{HelloV1Size, ReasonDowngrade}, {HelloASize + 1, ReasonMalformed}, {HelloASize, VerdictIgnored}} {
		m := make([]byte, tc.size)
		m[0], m[1], m[2] = Version, TypeHello, RoleInitiator
		copy(m[cookieAt(TypeHello):], n.challenge[:])
		n.rejects = newRejectLog()
		n.handle(m)
		if got := sn.lastVerdict(t); got != tc.want {
			t.Errorf("hello of %d bytes over the budget: verdict %q, want %q", tc.size, got, tc.want)
		}
	}
}

// TestSpecHelloSizes (section 4.2): the sizes and offsets the spec states
// for the two hellos, against the code and crypto/mlkem.
func TestSpecHelloSizes(t *testing.T) {
	f := newFlow(t, 2)
	for _, c := range []struct {
		name      string
		got, want int
	}{
		{"ML-KEM-768 encapsulation key", MLKEMEncapKeySize, mlkem.EncapsulationKeySize768},
		{"ML-KEM-768 ciphertext", MLKEMCiphertextSize, mlkem.CiphertextSize768},
		{"ML-KEM shared secret", MLKEMSharedSize, mlkem.SharedKeySize},
		{"ML-KEM seed", MLKEMSeedSize, mlkem.SeedSize},
		{"A's hello", len(f.helloA), 1503},
		{"B's hello", len(f.helloB), 1407},
		{"HelloASize", HelloASize, 1503},
		{"HelloBSize", HelloBSize, 1407},
		{"version 1's hello", HelloV1Size, 319},
		{"share offset", shareAt, 63},
		{"A's signature offset", HelloASize - RSASize, 1247},
		{"B's signature offset", HelloBSize - RSASize, 1151},
		{"A's HELLO_FIELDS", len(f.init.hello.signedFields()), 1236},
		{"B's HELLO_FIELDS", HelloBSize - RSASize - 11, 1140},
		{"TRANSCRIPT_CONTEXT", len(TranscriptContext), 17},
	} {
		if c.got != c.want {
			t.Errorf("%s: %d, spec says %d", c.name, c.got, c.want)
		}
	}
	if f.helloA[0] != 0x02 || f.helloB[0] != 0x02 || Version != 2 {
		t.Error("version byte is not 0x02")
	}
	ek, err := mlkem.NewEncapsulationKey768(f.helloA[63 : 63+1184])
	if err != nil || !bytes.Equal(ek.Bytes(), f.helloA[63:1247]) {
		t.Errorf("A's encapsulation key is not at offset 63: %v", err)
	}
}

// answerHello is B's HELLO answering A's hello helloA.
func answerHello(t *testing.T, idA, idB *crypto.Identity, helloA []byte, cookie [ChallengeSize]byte, now time.Time) []byte {
	t.Helper()
	h, err := CheckHelloA(helloA, idB, idA.Public(), now, DefaultWindow)
	if err != nil {
		t.Fatal(err)
	}
	_, hb, err := NewResponder(idB, idA.Public(), h, rand.Reader, now, DefaultWindow)
	if err != nil {
		t.Fatal(err)
	}
	SetCookie(hb, cookie)
	return hb
}

// TestSpecReplacedAttemptsRemembered (S7, section 7): A remembers its last
// four replaced hellos; B's answer to one of them is dropped silently, to a
// fifth one back (pushed out) rejected bad-signature; and one is remembered
// for max(window, 2 step timeouts) after it was replaced, not longer.
func TestSpecReplacedAttemptsRemembered(t *testing.T) {
	id := testIdentities(t)
	sn := newSpecNode(t, id[0]).withCandidate(id[1], challenge(0x91))
	n := sn.n
	var hellos [][]byte
	for range 6 {
		n.budget.sign = newTokenBucket(4, 4)
		n.sendHelloA()
		hellos = append(hellos, ofType(sn.take(), TypeHello)[0])
		n.now = n.now.Add(time.Millisecond)
	}
	answers := make([][]byte, len(hellos))
	for i, h := range hellos {
		answers[i] = answerHello(t, id[0], id[1], h, n.challenge, n.now)
	}
	check := func(i int, want string) {
		t.Helper()
		n.rejects = newRejectLog()
		n.handle(answers[i])
		if got := sn.lastVerdict(t); got != want {
			t.Fatalf("answer to hello %d: verdict %q, want %q", i, got, want)
		}
		if len(ofType(sn.take(), TypeKeyTransport)) != 0 {
			t.Fatalf("answer to replaced hello %d sent a key transport", i)
		}
	}
	check(0, ReasonBadSignature)                    // the fifth replaced: forgotten
	check(1, VerdictIgnored)                        // the fourth replaced: remembered
	replacedAt := testNow.Add(5 * time.Millisecond) // hello 4 was replaced when hello 5 was sent
	n.now = replacedAt.Add(n.staleFor() - time.Nanosecond)
	if n.staleFor() != DefaultWindow {
		t.Fatalf("staleFor %v, want max(window, 2 step timeouts) = %v", n.staleFor(), DefaultWindow)
	}
	// Within the window the answer still verifies under hello 4's attempt.
	answers[4] = answerHello(t, id[0], id[1], hellos[4], n.challenge, testNow.Add(5*time.Millisecond))
	check(4, VerdictIgnored)
	n.now = replacedAt.Add(n.staleFor())
	check(4, ReasonBadSignature)
}

// TestSpecKeyLimit (S8, section 7): B remembers at most 64 keys' last
// answered HELLO(A); a hello of a 65th key is dropped silently unless some
// remembered timestamp is older than now - window, which is forgotten.
func TestSpecKeyLimit(t *testing.T) {
	id := testIdentities(t)
	for _, tc := range []struct {
		name     string
		age      time.Duration // of the 64 remembered timestamps
		answered bool
	}{
		{"64 within the window", DefaultWindow, false},
		{"64 older than the window", DefaultWindow + time.Nanosecond, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			sn := newSpecNode(t, id[1]).withCandidate(id[0], challenge(0xa1))
			n := sn.n
			for i := range maxHelloPeers {
				var fp crypto.Fingerprint
				fp[0], fp[1] = 0xee, byte(i)
				n.hs.lastHelloTS[fp] = n.now.Add(-tc.age).UnixNano()
			}
			_, hello, err := NewInitiator(id[0], id[1].Public(), rand.Reader, n.now, DefaultWindow)
			if err != nil {
				t.Fatal(err)
			}
			SetCookie(hello, n.challenge)
			events := len(sn.r.snapshot())
			n.handle(hello)
			got := len(ofType(sn.take(), TypeHello)) == 1
			if got != tc.answered {
				t.Fatalf("hello answered %v, want %v", got, tc.answered)
			}
			if !tc.answered {
				if v := sn.lastVerdict(t); v != VerdictIgnored {
					t.Fatalf("verdict %q, want ignored", v)
				}
				for _, e := range sn.r.snapshot()[events:] {
					if _, ok := e.(RejectedEvent); ok {
						t.Fatalf("a dropped hello was reported: %v", e)
					}
				}
				if len(n.hs.lastHelloTS) != maxHelloPeers {
					t.Fatalf("%d keys remembered, want %d", len(n.hs.lastHelloTS), maxHelloPeers)
				}
			} else if len(n.hs.lastHelloTS) != 1 {
				t.Fatalf("%d keys remembered, want only the new one", len(n.hs.lastHelloTS))
			}
		})
	}
}

// sessionNode is B (id[1]) with an established session whose peer side the
// test holds, and a second session pair between the same keys.
func sessionNode(t *testing.T) (sn *specNode, a1, a2, b2 *Session) {
	t.Helper()
	id := testIdentities(t)
	sn = newSpecNode(t, id[1]).withCandidate(id[0], challenge(0xb1))
	a1, b1 := newSessionPair(t, SessionConfig{})
	a2, b2 = newSessionPair(t, SessionConfig{})
	sn.n.sess = b1
	return sn, a1, a2, b2
}

func seal(t *testing.T, s *Session, typ byte, payload []byte) []byte {
	t.Helper()
	rec, _, err := s.Seal(nil, typ, payload, testNow)
	if err != nil {
		t.Fatal(err)
	}
	return rec
}

// TestSpecRecordsWithoutSession (S7, S9, S10, section 8 "No session, ended
// sessions"): what a record is told when there is no session for it.
func TestSpecRecordsWithoutSession(t *testing.T) {
	ping := make([]byte, 8)
	t.Run("no session: dropped silently", func(t *testing.T) {
		sn, a1, _, _ := sessionNode(t)
		sn.n.sess = nil
		for _, typ := range []byte{TypePing, TypeConfirm, TypeGoodbye} {
			p := ping
			if typ == TypeConfirm {
				p = make([]byte, HashSize)
			} else if typ == TypeGoodbye {
				p = nil
			}
			sn.n.handle(seal(t, a1, typ, p))
			if v := sn.lastVerdict(t); v != VerdictIgnored {
				t.Fatalf("type %#x: verdict %q, want ignored", typ, v)
			}
		}
		if evs := sn.r.snapshot(); len(evs) != 0 {
			t.Fatalf("events %v, want none", evs)
		}
	})
	t.Run("after GOODBYE: the session's records dropped silently", func(t *testing.T) {
		sn, a1, _, _ := sessionNode(t)
		sn.n.handle(seal(t, a1, TypeGoodbye, nil))
		events := len(sn.r.snapshot())
		sn.n.handle(seal(t, a1, TypePing, ping))
		if v := sn.lastVerdict(t); v != VerdictIgnored || len(sn.r.snapshot()) != events {
			t.Fatalf("record after GOODBYE: verdict %q, events %v", v, sn.r.snapshot()[events:])
		}
	})
	t.Run("replaced session: accepted for 5 s, then refused", func(t *testing.T) {
		sn, a1, _, b2 := sessionNode(t)
		n := sn.n
		n.establish(b2)
		sn.take()
		n.now = testNow.Add(5*time.Second - time.Nanosecond)
		old := seal(t, a1, TypePing, ping)
		n.handle(old)
		if v := sn.lastVerdict(t); v != VerdictAccepted {
			t.Fatalf("within the grace: verdict %q, want accepted", v)
		}
		if pongs := ofType(sn.take(), TypePong); len(pongs) != 1 {
			t.Fatalf("%d pongs, want one", len(pongs))
		}
		// A copy within the grace: a replay in the replaced session.
		n.handle(old)
		if v := sn.lastVerdict(t); v != ReasonReplay {
			t.Fatalf("a replay within the grace: verdict %q, want replay", v)
		}
		n.now = testNow.Add(5 * time.Second) // the grace of section 8, as a number: the spec states it
		n.rejects = newRejectLog()           // reported on its own, not counted with the replay's
		events := len(sn.r.snapshot())
		n.handle(seal(t, a1, TypePing, ping))
		evs := sn.r.snapshot()[events:]
		if len(evs) != 1 || !rejectedForeign(evs[0]) || evs[0].(RejectedEvent).HasSeq {
			t.Fatalf("after the grace: events %v, want one refusal of %v without seq", evs, foreignReasons)
		}
	})
	t.Run("GOODBYE of the replaced session ends only it, silently", func(t *testing.T) {
		sn, a1, a2, b2 := sessionNode(t)
		n := sn.n
		n.establish(b2)
		sn.take()
		events := len(sn.r.snapshot())
		n.handle(seal(t, a1, TypeGoodbye, nil))
		if v := sn.lastVerdict(t); v != VerdictAccepted {
			t.Fatalf("old GOODBYE verdict %q, want accepted", v)
		}
		if evs := sn.r.snapshot()[events:]; len(evs) != 0 {
			t.Fatalf("old GOODBYE reported %v, want nothing", evs)
		}
		if n.sess != b2 || n.hs.peer == nil || !n.hs.reachable || n.rec.prev != nil {
			t.Fatal("old GOODBYE touched the current session or candidate, or kept the old session")
		}
		n.handle(seal(t, a1, TypePing, ping)) // the grace ended with the GOODBYE
		if v := sn.lastVerdict(t); !isForeign(v) {
			t.Fatalf("old session's record after its GOODBYE: %q, want one of %v", v, foreignReasons)
		}
		n.handle(seal(t, a2, TypePing, ping))
		if v := sn.lastVerdict(t); v != VerdictAccepted {
			t.Fatalf("current session's record: %q, want accepted", v)
		}
	})
	t.Run("stale CONFIRM with a session: refused as another session's record", func(t *testing.T) {
		sn, _, a2, _ := sessionNode(t)
		sn.n.handle(seal(t, a2, TypeConfirm, make([]byte, HashSize)))
		if v := sn.lastVerdict(t); !isForeign(v) {
			t.Fatalf("verdict %q, want one of %v", v, foreignReasons)
		}
	})
}

// TestSpecPlainPingDuringSession (S12, sections 4.5 and 9): a PLAIN_PING is
// answered during a session too, from the PLAIN_PONG bucket (burst 20);
// a PLAIN_PONG during a session is dropped and does not touch liveness.
func TestSpecPlainPingDuringSession(t *testing.T) {
	for _, withSession := range []bool{false, true} {
		sn, _, _, _ := sessionNode(t)
		n := sn.n
		if !withSession {
			n.sess = nil
		}
		for i := range 30 {
			n.handle(AppendPlainPing(nil, TypePlainPing, uint64(i)))
		}
		if got := len(ofType(sn.take(), TypePlainPong)); got != 20 {
			t.Fatalf("session %v: 30 plain pings at one instant: %d pongs, want 20", withSession, got)
		}
		events := len(sn.r.snapshot())
		n.handle(AppendPlainPing(nil, TypePlainPong, n.rec.pingID))
		evs := sn.r.snapshot()[events:]
		if withSession && (sn.lastVerdict(t) != VerdictIgnored || len(evs) != 0) {
			t.Fatalf("plain pong during a session: verdict %q, events %v", sn.lastVerdict(t), evs)
		}
		if !withSession && sn.lastVerdict(t) != VerdictAccepted {
			t.Fatalf("plain pong without a session: verdict %q", sn.lastVerdict(t))
		}
	}
}

// TestSpecSharedKeyRoles (S13, section 3): two processes with one key
// order themselves by challenges, using the receiver's copy of the other's
// challenge after the message at hand: an unproven new challenge (a
// restart) leaves the roles as they were; the first proven one decides.
func TestSpecSharedKeyRoles(t *testing.T) {
	id := testIdentities(t)
	sn := newSpecNode(t, id[0])
	n := sn.n
	n.challenge = challenge(0x80)
	high, low := challenge(0xf0), challenge(0x10)
	sn.withCandidate(id[0], high)
	self := n.self
	if !n.isInitiator(self) {
		t.Fatal("own challenge smaller than the held copy: not A")
	}
	n.handle(pubKeyMsg(id[0], true, low, challenge(0x99))) // restart, unproven
	if !n.isInitiator(self) || n.hs.peerChallenge != high {
		t.Fatal("an unproven challenge changed the roles")
	}
	n.handle(pubKeyMsg(id[0], true, low, n.challenge)) // proven
	if n.isInitiator(self) || n.hs.peerChallenge != low {
		t.Fatal("the proven new challenge did not decide the roles")
	}
	if !bytes.Equal(n.hs.peerChallenge[:], low[:]) {
		t.Fatal("held copy")
	}
}
