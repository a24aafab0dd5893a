package protocol

import (
	"testing"
	"time"
)

// handled hands rec to the hand-driven node n, ends its turn's display,
// and returns the events it caused.
func handled(n *Node, r *recorder, rec []byte) []Event {
	before := len(r.snapshot())
	n.handle(rec)
	showAll(n)
	return r.snapshot()[before:]
}

// readIDs is a READ payload naming ids.
func readIDs(ids ...uint64) []byte { return AppendRead(nil, ids) }

// TestNodeUnknownRecordType: an authenticated record of a type the node
// does not know (in the record range) is ignored and counted: no
// rejection, no event, the session goes on, the seq moved on (the next
// CHAT is shown without a gap), and a replay of it is refused like any
// replayed record. The same record unauthenticated (forged, or with no
// session) is refused exactly as before the rule: "malformed", no seq.
func TestNodeUnknownRecordType(t *testing.T) {
	n, a, r, log := goodbyeNode(t)
	sb := n.sess
	unknown := seal(t, a, 0x42, []byte("a record from a later duet"))

	if evs := handled(n, r, unknown); len(evs) != 0 {
		t.Fatalf("an authenticated unknown record caused %v, want nothing", evs)
	}
	if got := n.UnknownRecords(); got != 1 {
		t.Fatalf("UnknownRecords = %d, want 1", got)
	}
	if last, _ := log.Last(nil, 1); last[0].Verdict != VerdictAccepted || last[0].Type != 0x42 {
		t.Fatalf("record log %+v, want the unknown record accepted", last)
	}
	evs := handled(n, r, sealChat(t, a, 77, testNow))
	var shown, gaps int
	for _, e := range evs {
		switch e := e.(type) {
		case MessageEvent:
			if e.ID == 77 {
				shown++
			}
		case GapEvent:
			gaps++
		case RejectedEvent:
			t.Fatalf("the CHAT after an unknown record was rejected: %+v", e)
		}
	}
	if shown != 1 || gaps != 0 || n.sess != sb {
		t.Fatalf("after the unknown record: %d shown, %d gaps, session kept %v; events %v", shown, gaps, n.sess == sb, evs)
	}

	// A replay of it: refused as any replayed record, not counted again.
	n.rejects = newRejectLog()
	evs = handled(n, r, unknown)
	if len(evs) != 1 || !rejected(ReasonReplay)(evs[0]) || !evs[0].(RejectedEvent).HasSeq {
		t.Fatalf("replayed unknown record: %v, want one replay rejection", evs)
	}
	// Forged: the tag does not verify. Refused as before the rule.
	forged := seal(t, a, 0x42, []byte("x"))
	forged[len(forged)-1] ^= 1
	before := snapSession(sb)
	n.rejects = newRejectLog()
	evs = handled(n, r, forged)
	if len(evs) != 1 || !rejected(ReasonMalformed)(evs[0]) || evs[0].(RejectedEvent).HasSeq {
		t.Fatalf("forged unknown record: %v, want one malformed rejection without seq", evs)
	}
	if snapSession(sb) != before || n.UnknownRecords() != 1 {
		t.Fatalf("a forged unknown record changed state (count %d)", n.UnknownRecords())
	}
	// Outside the record range: refused as an unknown message type.
	outside := append([]byte(nil), unknown...)
	outside[1] = TypeRecordLast + 1
	n.rejects = newRejectLog()
	if evs := handled(n, r, outside); len(evs) != 1 || !rejected(ReasonMalformed)(evs[0]) {
		t.Fatalf("type 0x80: %v, want malformed", evs)
	}
	// No session: refused as before, not silently dropped.
	n.sess = nil
	n.rejects = newRejectLog()
	if evs := handled(n, r, seal(t, a, 0x42, nil)); len(evs) != 1 || !rejected(ReasonMalformed)(evs[0]) {
		t.Fatalf("unknown record without a session: %v, want malformed", evs)
	}
	if n.UnknownRecords() != 1 {
		t.Fatalf("UnknownRecords = %d, want 1", n.UnknownRecords())
	}
}

// TestNodeCourtesyRejections: every malformed TYPING or READ is refused
// "malformed" with its authenticated seq and changes nothing; a READ
// naming ids the node never sent is accepted (it moves the seq) but
// reported as nothing.
func TestNodeCourtesyRejections(t *testing.T) {
	n, a, r, _ := goodbyeNode(t)
	sb := n.sess
	tooMany := make([]uint64, MaxReadIDs+1)
	for i := range tooMany {
		tooMany[i] = uint64(i + 1)
	}
	for _, tc := range []struct {
		name string
		typ  byte
		p    []byte
	}{
		{"typing with a payload", TypeTyping, []byte{1}},
		{"read without ids", TypeRead, nil},
		{"read of 12 bytes", TypeRead, make([]byte, 12)},
		{"read of 257 ids", TypeRead, readIDs(tooMany...)},
		{"read naming id 0", TypeRead, readIDs(5, 0)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rec := seal(t, a, tc.typ, tc.p)
			before := snapSession(sb)
			n.rejects = newRejectLog()
			evs := handled(n, r, rec)
			if len(evs) != 1 {
				t.Fatalf("events %v, want one rejection", evs)
			}
			rej, ok := evs[0].(RejectedEvent)
			if !ok || rej.Reason != ReasonMalformed || !rej.HasSeq {
				t.Fatalf("event %+v, want malformed with its seq", evs[0])
			}
			if snapSession(sb) != before {
				t.Fatal("a rejected record changed the session")
			}
		})
	}
	before := snapSession(sb)
	evs := handled(n, r, seal(t, a, TypeRead, readIDs(12345, 67890)))
	if k := countOf(evs, func(e Event) bool { _, gap := e.(GapEvent); return !gap }); k != 0 {
		t.Fatalf("READ of unknown ids: %v, want nothing (but the gap of the refused records)", evs)
	}
	if snapSession(sb) == before {
		t.Fatal("a READ of unknown ids was not accepted as a record (seq unchanged)")
	}
}

// courtesyNode is goodbyeNode with one message of ours sealed and
// unacknowledged, id returned.
func courtesyNode(t *testing.T, tweak func(*Config)) (*Node, *Session, *recorder, uint64) {
	t.Helper()
	n, a, r, _ := goodbyeNode(t)
	if tweak != nil {
		tweak(&n.cfg)
	}
	id, err := n.Send("hello")
	if err != nil {
		t.Fatal(err)
	}
	n.pump()
	if _, ok := n.outbox.unacked[id]; !ok {
		t.Fatal("message not sealed")
	}
	return n, a, r, id
}

// TestNodeTypingAndRead: a TYPING turns the indicator on once however many
// follow, it goes off TypingFor after the last one or when the peer's
// message arrives; a READ of our message is reported once, before or after
// its receipt, and a repeat of it is reported as nothing.
func TestNodeTypingAndRead(t *testing.T) {
	n, a, r, id := courtesyNode(t, nil)
	evs := handled(n, r, seal(t, a, TypeTyping, nil))
	if len(evs) != 1 || !evs[0].(TypingEvent).Active || !evs[0].(TypingEvent).Until.Equal(testNow.Add(TypingFor)) {
		t.Fatalf("first TYPING: %v, want one active TypingEvent until now+%v", evs, TypingFor)
	}
	n.now = testNow.Add(TypingFor - time.Second)
	if evs := handled(n, r, seal(t, a, TypeTyping, nil)); len(evs) != 0 {
		t.Fatalf("second TYPING: %v, want nothing (renewed silently)", evs)
	}
	n.checkTimers()
	if tail := r.snapshot(); isTypingOff(tail[len(tail)-1]) {
		t.Fatal("indicator expired before TypingFor after the last TYPING")
	}
	n.now = n.now.Add(TypingFor)
	before := len(r.snapshot())
	n.checkTimers()
	if evs := r.snapshot()[before:]; countOf(evs, isTypingOff) != 1 {
		t.Fatalf("after TypingFor: %v, want the indicator off", evs)
	}
	n.now = testNow
	handled(n, r, seal(t, a, TypeTyping, nil))
	evs = handled(n, r, sealChat(t, a, 99, testNow))
	if len(evs) < 2 || !isTypingOff(evs[0]) {
		t.Fatalf("peer's message while typing: %v, want the indicator off first", evs)
	}

	evs = handled(n, r, seal(t, a, TypeRead, readIDs(id, id)))
	if len(evs) != 1 || len(evs[0].(ReadEvent).IDs) != 1 || evs[0].(ReadEvent).IDs[0] != id {
		t.Fatalf("READ of our message: %v, want ReadEvent{%d}", evs, id)
	}
	handled(n, r, seal(t, a, TypeReceipt, AppendReceipt(nil, []uint64{id})))
	if evs := handled(n, r, seal(t, a, TypeRead, readIDs(id))); len(evs) != 0 {
		t.Fatalf("READ again after the receipt: %v, want nothing", evs)
	}
}

func isTypingOff(e Event) bool { te, ok := e.(TypingEvent); return ok && !te.Active }

func countOf(evs []Event, pred func(Event) bool) int {
	k := 0
	for _, e := range evs {
		if pred(e) {
			k++
		}
	}
	return k
}

// sealedTypes counts the records n sealed since sendSeq, by type, opening
// them as the peer session a would.
func sealedTypes(t *testing.T, n *Node, a *Session) map[byte]int {
	t.Helper()
	got := map[byte]int{}
	for _, rec := range n.link.batch {
		o, err := a.Open(nil, rec, n.now)
		if err != nil {
			t.Fatalf("peer cannot open our record: %v", err)
		}
		got[o.Header.Type]++
		if o.Header.Type == TypeRead {
			if _, err := ParseRead(nil, o.Payload); err != nil {
				t.Fatal(err)
			}
		}
	}
	n.link.batch, n.link.batchBytes = nil, 0
	return got
}

// TestNodeSendsTypingAndRead: Typing seals at most one TYPING per
// TypingEvery however often it is called; MarkRead seals the ids this node
// received, once each, MaxReadIDs a record, and drops the others.
func TestNodeSendsTypingAndRead(t *testing.T) {
	n, a, r, _ := courtesyNode(t, nil)
	sealedTypes(t, n, a) // the CHAT
	for range 100 {
		n.Typing()
		n.sendCourtesies()
	}
	if got := sealedTypes(t, n, a); got[TypeTyping] != 1 || len(got) != 1 {
		t.Fatalf("100 Typing calls in one instant sealed %v, want one TYPING", got)
	}
	n.now = n.now.Add(TypingEvery)
	n.Typing()
	n.sendCourtesies()
	if got := sealedTypes(t, n, a); got[TypeTyping] != 1 {
		t.Fatalf("Typing after TypingEvery sealed %v, want one TYPING", got)
	}
	// A message of ours ends the peer's indicator: typing right after it
	// is sealed at once, not TypingEvery after the last TYPING.
	n.now = n.now.Add(time.Second)
	sent, err := n.Send("sent")
	if err != nil {
		t.Fatal(err)
	}
	n.pump()
	if _, ok := n.outbox.unacked[sent]; !ok {
		t.Fatal("message not sealed")
	}
	n.Typing()
	n.sendCourtesies()
	if got := sealedTypes(t, n, a); got[TypeTyping] != 1 {
		t.Fatalf("Typing right after a message sealed %v, want one TYPING", got)
	}
	var ids []uint64
	for i := range 300 {
		id := uint64(1000 + i)
		handled(n, r, sealChat(t, a, id, testNow))
		ids = append(ids, id)
	}
	sealedTypes(t, n, a) // receipts
	n.MarkRead(append(ids, 424242, 0))
	n.MarkRead(ids[:10])
	n.sendCourtesies()
	if got := sealedTypes(t, n, a); got[TypeRead] != 2 || len(got) != 1 {
		t.Fatalf("MarkRead of 300 received ids sealed %v, want two READ records", got)
	}
	n.MarkRead(ids)
	n.sendCourtesies()
	if got := sealedTypes(t, n, a); len(got) != 0 {
		t.Fatalf("MarkRead of ids already reported sealed %v", got)
	}
}

// TestNodeCourtesyOptOut: NoTyping and NoReadReceipts work both ways:
// nothing of ours is sent, and the peer's are accepted as records (the
// seq moves on) but reported as nothing.
func TestNodeCourtesyOptOut(t *testing.T) {
	n, a, r, id := courtesyNode(t, func(c *Config) { c.NoTyping, c.NoReadReceipts = true, true })
	sealedTypes(t, n, a)
	handled(n, r, sealChat(t, a, 5, testNow))
	sealedTypes(t, n, a)
	n.Typing()
	n.MarkRead([]uint64{5})
	n.sendCourtesies()
	if got := sealedTypes(t, n, a); len(got) != 0 {
		t.Fatalf("opted out, the node sealed %v", got)
	}
	for _, rec := range [][]byte{seal(t, a, TypeTyping, nil), seal(t, a, TypeRead, readIDs(id))} {
		before := snapSession(n.sess)
		if evs := handled(n, r, rec); len(evs) != 0 {
			t.Fatalf("opted out, the peer's record caused %v", evs)
		}
		if snapSession(n.sess) == before {
			t.Fatal("opted out, the peer's record was not accepted as a record")
		}
	}
}

// TestNodeCourtesyFlood: a flood of authenticated TYPING and READ records
// (50,000, every READ naming 256 ids) costs a bounded number of events and
// bounded memory, and chat goes on through it: every CHAT in the flood is
// shown once.
func TestNodeCourtesyFlood(t *testing.T) {
	n, a, r, id := courtesyNode(t, nil)
	many := make([]uint64, MaxReadIDs)
	var shown int
	for i := range 50_000 {
		var rec []byte
		switch i % 100 {
		case 0:
			rec = sealChat(t, a, uint64(i+1), testNow)
		case 1, 2, 3:
			rec = seal(t, a, TypeTyping, nil)
		default:
			for j := range many {
				many[j] = uint64(i)<<16 | uint64(j+1) // ids never sent: all dropped
			}
			many[0] = id
			rec = seal(t, a, TypeRead, readIDs(many...))
		}
		shown += countOf(handled(n, r, rec), func(e Event) bool { _, ok := e.(MessageEvent); return ok })
		n.link.batch, n.link.batchBytes = nil, 0 // our receipts: nobody reads them here
	}
	if shown != 500 {
		t.Fatalf("%d messages shown through the flood, want 500", shown)
	}
	evs := r.snapshot()
	if k := countOf(evs, func(e Event) bool { _, ok := e.(ReadEvent); return ok }); k != 1 {
		t.Fatalf("%d ReadEvents, want 1 (our one message, once)", k)
	}
	if k := countOf(evs, func(e Event) bool { _, ok := e.(TypingEvent); return ok }); k > 2*500+1 {
		t.Fatalf("%d TypingEvents for 500 messages", k)
	}
	if len(n.receipts.readByPeer.ring) > recentIDs || cap(n.receipts.readBuf) > MaxReadIDs {
		t.Fatalf("unbounded: %d ids remembered, buffer %d", len(n.receipts.readByPeer.ring), cap(n.receipts.readBuf))
	}
}

// TestIDSetBounded: the id sets forget the oldest beyond recentIDs.
func TestIDSetBounded(t *testing.T) {
	var s idSet
	for i := range uint64(3 * recentIDs) {
		s.add(i + 1)
	}
	if len(s.has) != recentIDs || len(s.ring) != recentIDs || s.contains(1) || !s.contains(3*recentIDs) {
		t.Fatalf("set of %d/%d ids, has 1 %v", len(s.has), len(s.ring), s.contains(1))
	}
}

// TestPairTypingAndRead: over a running pair, Typing shows on the peer and
// expires there by itself; MarkRead of a received message reaches its
// sender as a ReadEvent.
func TestPairTypingAndRead(t *testing.T) {
	p := startPair(t, nil)
	p.establish(t)
	p.a.Typing()
	p.rb.waitFor(t, 10*time.Second, "B sees A typing", func(e Event) bool { te, ok := e.(TypingEvent); return ok && te.Active })
	p.rb.waitFor(t, 10*time.Second+TypingFor, "A's typing expires on B", isTypingOff)
	id, err := p.a.Send("read me")
	if err != nil {
		t.Fatal(err)
	}
	p.rb.waitFor(t, 10*time.Second, "B shows it", func(e Event) bool { m, ok := e.(MessageEvent); return ok && m.ID == id })
	p.b.MarkRead([]uint64{id})
	p.ra.waitFor(t, 10*time.Second, "A sees it read", func(e Event) bool {
		r, ok := e.(ReadEvent)
		return ok && len(r.IDs) == 1 && r.IDs[0] == id
	})
}
