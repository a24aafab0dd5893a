package mitm

import (
	"context"
	"errors"
	"testing"
	"time"

	"duet/protocol"
	"duet/protocol/internal/tap"
)

// TestStealBothBoundaries, over pipes: B's sending chain is stolen while
// B and A chat through the relay. The records of B's the relay saw before
// the theft are all unreadable (before the theft); B's next CHAT is read,
// text and all; once B heals (/rekey), B's records are unreadable (after
// healing) and no text of B's after the healing is read. A sees every
// message once throughout.
func TestStealBothBoundaries(t *testing.T) {
	p := startPair(t)
	for _, text := range []string{"before one", "before two"} {
		if _, err := p.b.Send(text); err != nil {
			t.Fatal(err)
		}
		p.ra.WaitFor(t, 10*time.Second, "A shows "+text, showed(text))
	}
	if err := p.m.Steal(FlowBA, p.b); err != nil {
		t.Fatal(err)
	}
	armed := p.eventLog.count(func(e Event) bool { return e.Action == Armed && e.Attack == Steal && e.Flow == FlowBA })
	if armed != 1 {
		t.Fatalf("theft not reported armed: %+v", p.eventLog.events())
	}
	before := p.eventLog.events()
	var early int
	for _, e := range before {
		if e.Attack != Steal || e.Action == Armed {
			continue
		}
		if e.Action != Unreadable || e.Why != WhyBeforeTheft {
			t.Errorf("a record seen before the theft: %+v, want unreadable, %q", e, WhyBeforeTheft)
		}
		early++
	}
	if early < 2 {
		t.Errorf("%d earlier records tried at the theft, want at least B's two CHATs", early)
	}

	if _, err := p.b.Send("stolen words"); err != nil {
		t.Fatal(err)
	}
	p.eventLog.waitFor(t, 10*time.Second, "the thief reads B's next CHAT", func(e Event) bool {
		return e.Action == Read && e.Flow == FlowBA && e.Type == protocol.TypeChat && e.Text == "stolen words"
	})

	if err := p.b.Rekey(); err != nil {
		t.Fatal(err)
	}
	p.rb.WaitFor(t, 10*time.Second, "B's sending direction healed", func(e protocol.Event) bool {
		s, ok := e.(protocol.SessionEvent)
		return ok && s.State == protocol.SessionRekeyed && s.Direction == protocol.DirectionSend
	})
	if _, err := p.b.Send("after healing"); err != nil {
		t.Fatal(err)
	}
	p.ra.WaitFor(t, 10*time.Second, "A shows B's message after the healing", showed("after healing"))
	p.eventLog.waitFor(t, 10*time.Second, "a record of B's after the healing is unreadable", func(e Event) bool {
		return e.Action == Unreadable && e.Flow == FlowBA && e.Why == WhyHealed && e.Epoch > 0
	})
	if n := p.eventLog.count(func(e Event) bool { return e.Action == Read && e.Text == "after healing" }); n != 0 {
		t.Fatal("the thief read a message sent after the healing")
	}
	if n := p.eventLog.count(func(e Event) bool { return e.Action == Read && e.Flow == FlowAB }); n != 0 {
		t.Fatal("the thief read a record of the flow it did not steal")
	}
	p.m.Disarm(FlowBA)
	n := p.eventLog.count(func(e Event) bool { return e.Attack == Steal })
	if _, err := p.b.Send("after disarm"); err != nil {
		t.Fatal(err)
	}
	p.ra.WaitFor(t, 10*time.Second, "A shows B's message after disarm", showed("after disarm"))
	if m := p.eventLog.count(func(e Event) bool { return e.Attack == Steal && e.Action != Disarmed }); m != n {
		t.Errorf("the thief still reports after Disarm: %d events, was %d", m, n)
	}
}

// TestStolenChainOpensNextNotEarlier: the tap's copy of a node's send
// chain starts at the node's next seq: it gives no key for a record the
// node sealed before the copy (erased), and the one it gives for the
// next seq opens the node's next record (TestStealBothBoundaries).
func TestStolenChainOpensNextNotEarlier(t *testing.T) {
	p := startPair(t)
	if _, err := p.b.Send("sealed before"); err != nil {
		t.Fatal(err)
	}
	p.ra.WaitFor(t, 10*time.Second, "A shows it", showed("sealed before"))
	var last Event
	for _, e := range p.eventLog.events() {
		if e.Flow == FlowBA && e.Type == protocol.TypeChat && e.HasSeq {
			last = e
		}
	}
	c, _, err := tap.SendChain(p.b)
	if err != nil {
		t.Fatal(err)
	}
	if !last.HasSeq || c.Next() <= last.Seq {
		t.Fatalf("stolen chain's next seq %d, B's last CHAT was %d", c.Next(), last.Seq)
	}
	if _, err := c.Peek(last.Seq); err == nil {
		t.Fatalf("the stolen chain gives a key for record %d, sealed before the theft", last.Seq)
	}
}

// TestStealRefused: a relay of bytes (duet mitm) cannot steal: Arm says
// why; a node with no session, or anything that is not a node, has
// nothing to steal.
func TestStealRefused(t *testing.T) {
	m := New(func(protocol.Event) {})
	if err := m.Arm(context.Background(), FlowBA, Steal); !errors.Is(err, ErrCannotSteal) {
		t.Errorf("Arm(steal) = %v, want ErrCannotSteal", err)
	}
	if a, err := ParseAttack("steal"); err != nil || a != Steal {
		t.Errorf("ParseAttack(steal) = %v, %v", a, err)
	}
	if err := m.Steal(FlowBA, nil); err == nil {
		t.Error("Steal from a nil node succeeded")
	}
	if _, _, err := tap.SendChain("bob"); err == nil {
		t.Error("tap.SendChain of a string succeeded")
	}
}

// TestChatTextOfRecords: the thief's line quotes a CHAT's text, each of a
// CHATS record's texts, and nothing for other records or a payload that
// does not parse.
func TestChatTextOfRecords(t *testing.T) {
	burst := protocol.AppendChats(nil, []protocol.Chat{{ID: 1, Text: "one"}, {ID: 2, Prev: 1, Text: "two"}})
	for _, c := range []struct {
		name string
		typ  byte
		p    []byte
		want string
	}{
		{"chat", protocol.TypeChat, protocol.AppendChat(nil, &protocol.Chat{ID: 1, Text: "alone"}), "alone"},
		{"chats", protocol.TypeChats, burst, "one” “two"},
		{"chats cut", protocol.TypeChats, burst[:len(burst)-1], ""},
		{"ping", protocol.TypePing, make([]byte, 8), ""},
	} {
		if got := chatText(c.typ, c.p); got != c.want {
			t.Errorf("%s: %q, want %q", c.name, got, c.want)
		}
	}
}
