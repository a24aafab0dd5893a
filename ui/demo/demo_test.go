package demo

import (
	"context"
	"crypto/rand"
	"strings"
	"sync"
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"

	"duet/crypto"
	"duet/protocol"
	"duet/protocol/mitm"
	"duet/ui/screen"
	"duet/ui/words"
)

// demoRig is the demo without its screen: alice's node (its events and
// the demo's notices recorded), the MITM, bob and /attack, over in-memory
// pipes.
type demoRig struct {
	mu      sync.Mutex
	events  []protocol.Event
	notices []string
	at      *attacks
	bob     *bot
}

func (r *demoRig) post(m tea.Msg) {
	if n, ok := m.(screen.NoticeMsg); ok {
		r.mu.Lock()
		r.notices = append(r.notices, n.Text)
		r.mu.Unlock()
	}
}

func (r *demoRig) emit(ev protocol.Event) {
	r.mu.Lock()
	r.events = append(r.events, ev)
	r.mu.Unlock()
}

// waitFor polls alice's events and the notices until ok holds.
func (r *demoRig) waitFor(t *testing.T, what string, ok func(evs []protocol.Event, notices []string) bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		r.mu.Lock()
		done := ok(r.events, r.notices)
		r.mu.Unlock()
		if done {
			return
		}
		if time.Now().After(deadline) {
			r.mu.Lock()
			defer r.mu.Unlock()
			t.Fatalf("timed out waiting for %s\nevents: %v\nnotices: %q", what, r.events, r.notices)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func shown(text string) func([]protocol.Event, []string) bool {
	return func(evs []protocol.Event, _ []string) bool {
		for _, e := range evs {
			if m, ok := e.(protocol.MessageEvent); ok && strings.HasPrefix(m.Text, text) {
				return true
			}
		}
		return false
	}
}

func refused(reason string) func([]protocol.Event, []string) bool {
	return func(evs []protocol.Event, _ []string) bool {
		for _, e := range evs {
			if r, ok := e.(protocol.RejectedEvent); ok && r.Reason == reason {
				return true
			}
		}
		return false
	}
}

// sessionPeers is the peer fingerprint of each session alice established,
// in order.
func sessionPeers(evs []protocol.Event) []string {
	var fps []string
	for _, e := range evs {
		if s, ok := e.(protocol.SessionEvent); ok && s.State == protocol.SessionEstablished {
			fps = append(fps, s.PeerFingerprint)
		}
	}
	return fps
}

// rigWindow is the rig's timestamp window (the demo's is demoWindow):
// stale holds bob's records for 3 s.
const rigWindow = 2 * time.Second

func startDemoRig(t *testing.T) *demoRig {
	t.Helper()
	var ids [3]*crypto.Identity
	for i := range ids {
		id, err := crypto.GenerateIdentity(rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		ids[i] = id
	}
	r := &demoRig{}
	aEnd, mA := protocol.NewPipe(4096)
	bEnd, mB := protocol.NewPipe(4096)
	aliceID, bobID, mitmID := roles(ids)
	alice, err := protocol.NewNode(protocol.Config{Identity: aliceID, PingInterval: 50 * time.Millisecond, Window: rigWindow, VerifyPeer: (&pinFirst{}).verify}, aEnd, r.emit)
	if err != nil {
		t.Fatal(err)
	}
	var at *attacks // set before the relay runs
	var tell teller
	m := mitm.New(func(ev protocol.Event) {
		e, ok := ev.(mitm.Event)
		if !ok {
			return
		}
		at.relayed(e)
		if tell.tells(e) {
			r.post(screen.NoticeMsg{Text: words.MITMNamed(e, "alice", "bob", " → ")})
		}
	}, mitmID.Public())
	m.ImpersonateAs(mitmID)
	m.SetWindow(rigWindow)
	ctx, cancel := context.WithCancel(context.Background())
	r.bob = &bot{id: bobID, tr: bEnd, post: r.post, ping: 50 * time.Millisecond, resendAfter: 300 * time.Millisecond, window: rigWindow}
	at = &attacks{m: m, bob: r.bob, post: r.post, ctx: ctx, window: rigWindow} // keysub lasts as in the demo: the peers retry every 2 s
	r.at = at
	var wg sync.WaitGroup
	wg.Add(2)
	go func() { defer wg.Done(); _ = m.Run(ctx, mA, mB) }()
	go func() { defer wg.Done(); _ = alice.Run(ctx) }()
	if err := r.bob.start(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cancel()
		r.bob.stop()
		for _, e := range []*protocol.PipeEnd{aEnd, bEnd, mA, mB} {
			e.Close()
		}
		wg.Wait()
	})
	r.waitFor(t, "bob's greeting", shown("hi alice!"))
	return r
}

// TestDemoAttacks: each /attack makes the MITM attack what bob sends (or,
// reflect, what alice sends) while bob sends exactly one message; alice's
// node refuses the attack with the protocol's reason, the demo tells what
// the MITM did, and alice shows bob's message exactly once.
func TestDemoAttacks(t *testing.T) {
	r := startDemoRig(t)
	if _, err := r.at.run("nuke"); err == nil {
		t.Error("/attack nuke was accepted")
	}
	if s, err := r.at.run(""); err != nil || !strings.Contains(s, "usage: /attack") {
		t.Errorf("/attack alone: %q, %v", s, err)
	}
	sent := []string{"hi alice!"}
	for _, c := range []struct {
		attack, reason, text string // reason "": alice reports a gap
	}{
		{"replay", protocol.ReasonReplay, "the man in the middle sends this message to you twice"},
		{"tamper", protocol.ReasonTampered, "this message gets one bit flipped"},
		{"reorder", protocol.ReasonReorder, "this message is held back"},
		{"drop", "", "this message is dropped"},
		{"stale", protocol.ReasonStale, "this message, and all I send after it, is held back for 3 s, past your 2 s time window"},
		{"reflect", protocol.ReasonReflected, "this message passes untouched"},
	} {
		if _, err := r.at.run(c.attack); err != nil {
			t.Fatalf("/attack %s: %v", c.attack, err)
		}
		sent = append(sent, c.text)
		if c.reason != "" {
			r.waitFor(t, c.attack+" refused", refused(c.reason))
		}
		r.waitFor(t, c.attack+"'s message shown", shown(c.text))
	}
	r.waitFor(t, "a gap (drop)", func(evs []protocol.Event, _ []string) bool {
		for _, e := range evs {
			if _, ok := e.(protocol.GapEvent); ok {
				return true
			}
		}
		return false
	})
	r.mu.Lock()
	var texts []string
	for _, e := range r.events {
		if m, ok := e.(protocol.MessageEvent); ok {
			texts = append(texts, m.Text)
		}
	}
	notices := strings.Join(r.notices, "\n")
	r.mu.Unlock()
	// Bob sent one message per attack (and his greeting), each shown once.
	if len(texts) != len(sent) {
		t.Errorf("alice shows %d messages, want %d (the greeting and one per attack): %q", len(texts), len(sent), texts)
	}
	for _, want := range sent {
		n := 0
		for _, got := range texts {
			if strings.HasPrefix(got, want) {
				n++
			}
		}
		if n != 1 {
			t.Errorf("alice shows %q %d times, want once", want, n)
		}
	}
	for _, want := range []string{"REPLAYED", "TAMPERED", "RELEASED", "DROPPED", "HELD BACK CHAT", "REFLECTED alice's own"} {
		if !strings.Contains(notices, "bob → alice: "+want) {
			t.Errorf("no notice of %s in:\n%s", want, notices)
		}
	}
	if strings.Contains(notices, "HELD BACK PING") || strings.Contains(notices, "RELEASED PING") {
		t.Errorf("stale told about every held ping:\n%s", notices)
	}
}

// TestDemoKeySub: /attack keysub restarts bob behind a key-substituting
// MITM: alice refuses his hello (bad-signature) and, once the MITM lets
// keys through again, a new session is made.
func TestDemoKeySub(t *testing.T) {
	r := startDemoRig(t)
	if _, err := r.at.run("keysub"); err != nil {
		t.Fatal(err)
	}
	r.waitFor(t, "alice refuses bob's hello", refused(protocol.ReasonBadSignature))
	r.waitFor(t, "a second session", func(evs []protocol.Event, _ []string) bool { return len(sessionPeers(evs)) >= 2 })
	// bob's one message, written right after his restart, waited for the
	// new session and is shown once.
	r.waitFor(t, "bob's message", shown(attackLines[mitm.KeySub]))
	r.mu.Lock()
	defer r.mu.Unlock()
	n := 0
	for _, e := range r.events {
		if m, ok := e.(protocol.MessageEvent); ok && m.Text == attackLines[mitm.KeySub] {
			n++
		}
	}
	if n != 1 {
		t.Errorf("alice shows bob's keysub message %d times, want once", n)
	}
}

// TestDemoDowngrade: /attack downgrade restarts bob behind a MITM that
// strips the ML-KEM share from his hello: alice refuses it with its reason
// (downgrade), the demo tells her once what the MITM did (not on each
// retry), and once the MITM lets hellos through whole a new session is
// made with bob's same key, and bob's one message is shown once.
func TestDemoDowngrade(t *testing.T) {
	r := startDemoRig(t)
	r.at.keySubFor = 3 * time.Second
	if _, err := r.at.run("downgrade"); err != nil {
		t.Fatal(err)
	}
	r.waitFor(t, "alice refuses bob's stripped hello", refused(protocol.ReasonDowngrade))
	r.waitFor(t, "a second session", func(evs []protocol.Event, _ []string) bool { return len(sessionPeers(evs)) >= 2 })
	r.waitFor(t, "bob's message", shown(attackLines[mitm.Downgrade]))
	r.mu.Lock()
	defer r.mu.Unlock()
	if fps := sessionPeers(r.events); fps[0] != fps[len(fps)-1] {
		t.Errorf("alice's sessions are with %v: want bob's key both times", fps)
	}
	// No session was made while the hellos were stripped: the refusals
	// all come before the second session.
	second, lastRefusal := -1, -1
	for i, e := range r.events {
		if s, ok := e.(protocol.SessionEvent); ok && s.State == protocol.SessionEstablished && second < 0 && i > 0 {
			if len(sessionPeers(r.events[:i+1])) == 2 {
				second = i
			}
		}
		if refused(protocol.ReasonDowngrade)([]protocol.Event{e}, nil) {
			lastRefusal = i
		}
	}
	if second < lastRefusal {
		t.Errorf("alice's second session (event %d) came before a downgrade refusal (event %d)", second, lastRefusal)
	}
	n := 0
	for _, e := range r.events {
		if m, ok := e.(protocol.MessageEvent); ok && m.Text == attackLines[mitm.Downgrade] {
			n++
		}
	}
	if n != 1 {
		t.Errorf("alice shows bob's downgrade message %d times, want once", n)
	}
	told := 0
	for _, nt := range r.notices {
		if strings.Contains(nt, "bob → alice: STRIPPED the ML-KEM key from bob's HELLO (1503 -> 319 bytes): alice must refuse it (downgrade)") {
			told++
		}
	}
	if told != 1 {
		t.Errorf("the demo told alice of %d stripped hellos, want the first only:\n%s", told, strings.Join(r.notices, "\n"))
	}
}

func TestClip(t *testing.T) {
	for _, c := range []struct {
		in   string
		n    int
		want string
	}{
		{"short", 10, "short"},
		{"two\nlines  here", 20, "two lines here"},
		{"héllo wörld", 5, "héll…"},
		{"👋🏽👋🏽👋🏽", 2, "👋…"},
	} {
		if got := clip(c.in, c.n); got != c.want {
			t.Errorf("clip(%q, %d) = %q, want %q", c.in, c.n, got, c.want)
		}
	}
}

// TestDemoRoles: the MITM's key lies between bob's and alice's in
// fingerprint order (bob's lowest: he starts the handshake, alice checks
// it), whatever order the keys come in.
func TestDemoRoles(t *testing.T) {
	var ids [3]*crypto.Identity
	for i := range ids {
		id, err := crypto.GenerateIdentity(rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		ids[i] = id
	}
	for _, perm := range [][3]int{{0, 1, 2}, {2, 1, 0}, {1, 0, 2}, {1, 2, 0}, {2, 0, 1}, {0, 2, 1}} {
		a, b, m := roles([3]*crypto.Identity{ids[perm[0]], ids[perm[1]], ids[perm[2]]})
		fa, fb, fm := a.Public().Fingerprint(), b.Public().Fingerprint(), m.Public().Fingerprint()
		if !fb.Less(fm) || !fm.Less(fa) {
			t.Errorf("perm %v: bob %s, mitm %s, alice %s: want bob's lowest, the MITM's in between", perm, fb.Short(), fm.Short(), fa.Short())
		}
	}
}

// TestDemoImpersonate: /attack impersonate: alice, who knows bob's key,
// refuses the MITM's (key-changed); bob, who pins nothing, gets a session
// with it and what he says is read by the MITM and reaches alice no more;
// when it stops, bob restarts and alice has a session with him again.
func TestDemoImpersonate(t *testing.T) {
	r := startDemoRig(t)
	r.at.keySubFor = 2 * time.Second
	if _, err := r.at.run("impersonate"); err != nil {
		t.Fatal(err)
	}
	r.waitFor(t, "alice refuses the impostor", refused(protocol.ReasonKeyChanged))
	noticed := func(sub string) func([]protocol.Event, []string) bool {
		return func(_ []protocol.Event, notices []string) bool {
			for _, n := range notices {
				if strings.Contains(n, sub) {
					return true
				}
			}
			return false
		}
	}
	r.waitFor(t, "bob's session with the impostor", noticed("IMPOSTOR SESSION with bob"))
	r.waitFor(t, "the MITM reads bob", noticed("READ bob's message"))
	r.waitFor(t, "alice's session with bob again", func(evs []protocol.Event, _ []string) bool { return len(sessionPeers(evs)) >= 2 })
	r.mu.Lock()
	defer r.mu.Unlock()
	if shown("alice, are you there?")(r.events, nil) {
		t.Error("bob's message to the impostor reached alice")
	}
	fps := sessionPeers(r.events)
	if len(fps) < 2 || fps[0] != fps[len(fps)-1] {
		t.Errorf("alice's sessions are with %v: want bob's key both times", fps)
	}
}

// TestDemoGapThenArrived: after /attack tamper and drop alice's node reports
// a gap, and bob's message, sent again, arrives after it carrying the time
// it was written, before the gap was seen: what alice's screen needs to say
// "missing, asking for it again" and then "arrived" (ui/screen's gapWatch)
// instead of "never arrived" (issue 17, item 3).
func TestDemoGapThenArrived(t *testing.T) {
	for _, c := range []struct{ attack, text string }{
		{"tamper", "this message gets one bit flipped"},
		{"drop", "this message is dropped"},
	} {
		t.Run(c.attack, func(t *testing.T) {
			r := startDemoRig(t)
			var gapAt time.Time
			var mu sync.Mutex
			r.mu.Lock()
			before := len(r.events)
			r.mu.Unlock()
			if _, err := r.at.run(c.attack); err != nil {
				t.Fatal(err)
			}
			r.waitFor(t, "a gap", func(evs []protocol.Event, _ []string) bool {
				for _, e := range evs[before:] {
					if _, ok := e.(protocol.GapEvent); ok {
						mu.Lock()
						if gapAt.IsZero() {
							gapAt = time.Now()
						}
						mu.Unlock()
						return true
					}
				}
				return false
			})
			r.waitFor(t, "the message sent again", shown(c.text))
			r.mu.Lock()
			defer r.mu.Unlock()
			gap, msg := -1, -1
			var sentAt time.Time
			for i, e := range r.events[before:] {
				switch e := e.(type) {
				case protocol.GapEvent:
					if gap < 0 {
						gap = i
					}
				case protocol.MessageEvent:
					if strings.HasPrefix(e.Text, c.text) {
						msg, sentAt = i, e.SentAt
					}
				}
			}
			if gap < 0 || msg < gap {
				t.Fatalf("gap at %d, message at %d: the message must arrive after the gap", gap, msg)
			}
			if !sentAt.Before(gapAt) {
				t.Fatalf("the message sent again says it was written at %v, not before the gap was seen (%v)", sentAt, gapAt)
			}
		})
	}
}

// TestDemoSteal: /attack steal shows both boundaries of a stolen key on
// alice's screen: bob's message sent before the theft is unreadable to
// the thief (before the theft), the one after it is read, text and all,
// and once bob's keys heal his records are unreadable (healed); alice
// shows each of bob's three messages once, and the thief is sent away.
func TestDemoSteal(t *testing.T) {
	r := startDemoRig(t)
	r.at.stealFor = time.Second
	if _, err := r.at.run("steal"); err != nil {
		t.Fatal(err)
	}
	if _, err := r.at.run("steal"); err == nil {
		t.Error("a second /attack steal during the first was accepted")
	}
	told := func(parts ...string) func([]protocol.Event, []string) bool {
		return func(_ []protocol.Event, notices []string) bool {
			for _, n := range notices {
				ok := true
				for _, p := range parts {
					ok = ok && strings.Contains(n, p)
				}
				if ok {
					return true
				}
			}
			return false
		}
	}
	r.waitFor(t, "the theft told", told("bob → alice: STOLE a copy of bob's sending keys"))
	r.waitFor(t, "bob's message before the theft unreadable", told("the thief cannot read bob's record", "(CHAT): sent before the theft"))
	r.waitFor(t, "bob's message after the theft read", told("the thief READ bob's record", "(CHAT “"+stealLines[1]+"”)"))
	r.waitFor(t, "bob's record after healing unreadable", told("the thief cannot read bob's record", "bob's keys healed (X25519 + ML-KEM-768) at epoch 1"))
	r.waitFor(t, "bob's message after healing", shown(stealLines[2]))
	r.waitFor(t, "the thief sent away", told("the stolen keys are worth nothing now"))
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, n := range r.notices {
		if strings.Contains(n, "READ") && strings.Contains(n, stealLines[0]) {
			t.Errorf("the thief read bob's message from before the theft: %s", n)
		}
		if strings.Contains(n, "READ") && strings.Contains(n, stealLines[2]) {
			t.Errorf("the thief read bob's message from after the healing: %s", n)
		}
	}
	for _, line := range stealLines {
		n := 0
		for _, e := range r.events {
			if m, ok := e.(protocol.MessageEvent); ok && m.Text == line {
				n++
			}
		}
		if n != 1 {
			t.Errorf("alice shows %q %d times, want once", line, n)
		}
	}
}
