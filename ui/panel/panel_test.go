package panel

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/charmbracelet/x/ansi"

	"duet/crypto"
	"duet/protocol"
	"duet/ui/style"
	"duet/ui/words"
)

// Shared fixtures and the size checks every view must pass.

var (
	t0       = time.Date(2026, 11, 26, 3, 0, 0, 0, time.UTC)
	testFP   = "1a2b 3c4d 5e6f 7a8b 9c0d 1e2f 3a4b 5c6d 7e8f 9a0b 1c2d 3e4f 5a6b 7c8d 9e0f 1a2b"
	otherFP  = "ffee ddcc bbaa 9988 7766 5544 3322 1100 0f1e 2d3c 4b5a 6978 8796 a5b4 c3d2 e1f0"
	testSafe = "12345 67890 11111 22222 33333 44444 55555 66666 77777 88888 99999 00000"
)

func testStyles() *style.Styles {
	st := style.DefaultStyles()
	return &st
}

// plain is what a terminal without colour or attributes shows.
func plain(s string) string { return ansi.Strip(s) }

// rows splits a view into its rows: a view of height 0 is "".
func rows(s string, height int) []string {
	if height <= 0 {
		if s != "" {
			return []string{s}
		}
		return nil
	}
	return strings.Split(s, "\n")
}

// checkBlock asserts a view has exactly height rows of exactly width cells.
func checkBlock(t *testing.T, name, s string, width, height int) {
	t.Helper()
	if height <= 0 {
		if s != "" {
			t.Errorf("%s %dx%d: want empty view, got %q", name, width, height, s)
		}
		return
	}
	r := rows(s, height)
	if len(r) != height {
		t.Errorf("%s %dx%d: %d rows, want %d", name, width, height, len(r), height)
	}
	for i, row := range r {
		if w := ansi.StringWidth(row); w != max(width, 0) {
			t.Errorf("%s %dx%d: row %d is %d cells wide, want %d: %q", name, width, height, i, w, max(width, 0), plain(row))
		}
	}
}

// joined returns the plain rows of a view joined by spaces, with runs of
// spaces and frame characters collapsed, for substring checks across rows.
func joined(s string) string {
	s = plain(s)
	s = strings.NewReplacer("║", " ", "│", " ", "╔", " ", "╗", " ", "╚", " ", "╝", " ", "═", " ",
		"╭", " ", "╮", " ", "╰", " ", "╯", " ", "─", " ", "\n", " ").Replace(s)
	return strings.Join(strings.Fields(s), " ")
}

var (
	testWidths  = []int{-1, 0, 1, 2, 3, 4, 5, 20, 40, 80, 120}
	testHeights = []int{-1, 0, 1, 2, 3, 4, 5, 10, 24, 40}
)

// fullHandshake is a handshake panel with every kind of content.
func fullHandshake() *Handshake {
	h := NewHandshake("203.0.113.7:5556", t0, time.Second)
	h.Live(protocol.LiveEvent{State: protocol.LiveLive, RTT: 3 * time.Millisecond}, t0)
	h.Step(protocol.HandshakeEvent{Step: 3, Err: fmt.Errorf("protocol: hello: %w", protocol.ErrBadSignature), Duration: 9 * time.Millisecond}, t0.Add(time.Second))
	h.Stalled(protocol.StalledEvent{Attempts: 4, LastStep: 3, For: 8 * time.Second}, t0.Add(8*time.Second))
	return h
}

func fullLog() *SecurityLog {
	l := NewSecurityLog()
	for i := 0; i < 30; i++ {
		l.Rejected(protocol.RejectedEvent{Reason: protocol.ReasonReplay, Seq: uint32(i), HasSeq: true, Detail: "protocol: replayed record 李小龍👋🏽"}, t0)
		l.Note("/replay: re-sent CHAT seq 12; the peer should reject it", t0)
	}
	return l
}

func fullInspector() *Inspector {
	i := NewInspector()
	i.Set(replayRecords())
	return i
}

func replayRecords() []protocol.RecordInfo {
	n := [4]byte{0xde, 0xad, 0xbe, 0xef}
	return []protocol.RecordInfo{
		{At: t0, Dir: protocol.DirOut, Type: protocol.TypePublicKey, Size: 315, Verdict: protocol.VerdictSent},
		{At: t0.Add(time.Second), Dir: protocol.DirIn, Type: protocol.TypeChat, Seq: 4242, HasSeq: true, Timestamp: t0, Nonce: n, HasNonce: true, Size: 90, Verdict: protocol.VerdictAccepted},
		{At: t0.Add(2 * time.Second), Dir: protocol.DirIn, Type: protocol.TypePing, Seq: 4243, HasSeq: true, Timestamp: t0.Add(2 * time.Second), Nonce: [4]byte{1, 2, 3, 4}, HasNonce: true, Size: 50, Verdict: protocol.VerdictAccepted},
		{At: t0.Add(3 * time.Second), Dir: protocol.DirOut, Type: protocol.TypePong, Seq: 77, HasSeq: true, Timestamp: t0.Add(3 * time.Second), Nonce: [4]byte{5, 6, 7, 8}, HasNonce: true, Size: 50, Verdict: protocol.VerdictSent},
		{At: t0.Add(4 * time.Second), Dir: protocol.DirIn, Type: protocol.TypeChat, Seq: 4242, HasSeq: true, Timestamp: t0, Nonce: n, HasNonce: true, Size: 90, Verdict: protocol.ReasonReplay},
	}
}

// TestViewSizes: every view, in every state, at every size, has exactly the
// requested rows, each exactly width cells, and never panics; nil styles
// are allowed.
func TestViewSizes(t *testing.T) {
	sb := NewStatusBar(5555, 5556)
	sb.Live(protocol.LiveEvent{State: protocol.LiveLive, RTT: 12 * time.Millisecond, Authenticated: true}, t0)
	sb.SetStatus(protocol.Status{HasSession: true, SendSeq: 4000000000, RecvSeq: 3, NextRekey: t0.Add(time.Hour), Live: protocol.LiveLive})
	established := NewHandshake("[2001:db8::1]:5556", t0, time.Second)
	for s := 1; s <= 6; s++ {
		established.Step(protocol.HandshakeEvent{Step: s, Done: true, Duration: time.Duration(s) * time.Millisecond}, t0)
	}
	established.Session(protocol.SessionEvent{State: protocol.SessionEstablished}, t0)
	established.Session(protocol.SessionEvent{State: protocol.SessionRekeyed}, t0)
	healing := pqEstablished()
	for i := 1; i <= maxRekeyLines+3; i++ {
		healing.Session(healed(protocol.DirectionReceive, uint32(i)), t0)
	}
	kc := KeyChangedInfo{Peer: "bob", Known: testFP, Got: otherFP, Path: "/home/alice/.config/duet/known_peers"}
	hinfo := HeaderInfo{SelfName: "alice", PeerName: "李小龍👋🏽 the very long name of a peer", SelfFP: testFP, PeerFP: otherFP, Trust: crypto.TrustVerified, Encrypted: true, PostQuantum: true}

	views := map[string]func(st *style.Styles, w, h int) string{
		"handshake/new": func(st *style.Styles, w, h int) string {
			return NewHandshake("127.0.0.1:5556", t0, time.Second).View(st, w, h, t0.Add(3*time.Second))
		},
		"handshake/full":        func(st *style.Styles, w, h int) string { return fullHandshake().View(st, w, h, t0.Add(9*time.Second)) },
		"handshake/established": func(st *style.Styles, w, h int) string { return established.View(st, w, h, t0) },
		"handshake/healed":      func(st *style.Styles, w, h int) string { return healing.View(st, w, h, t0) },
		"seclog/empty":          func(st *style.Styles, w, h int) string { return NewSecurityLog().View(st, w, h) },
		"seclog/full":           func(st *style.Styles, w, h int) string { return fullLog().View(st, w, h) },
		"seclog/scrolled":       func(st *style.Styles, w, h int) string { return fullLog().ViewScrolled(st, w, h, 7) },
		"inspector/empty":       func(st *style.Styles, w, h int) string { return NewInspector().View(st, w, h) },
		"inspector/full":        func(st *style.Styles, w, h int) string { return fullInspector().View(st, w, h) },
		"keychanged":            func(st *style.Styles, w, h int) string { return KeyChanged(st, w, h, kc, "acc") },
		"keychanged/pinned": func(st *style.Styles, w, h int) string {
			return KeyChanged(st, w, h, KeyChangedInfo{Peer: "bob", Known: testFP, Got: otherFP}, "")
		},
		"verify":       func(st *style.Styles, w, h int) string { return Verify(st, w, h, testSafe, testFP, crypto.TrustPinned) },
		"verify/empty": func(st *style.Styles, w, h int) string { return Verify(st, w, h, "", "", crypto.TrustUnknown) },
		"toosmall":     func(st *style.Styles, w, h int) string { return TooSmall(st, w, h, 60, 20) },
	}
	oneRow := map[string]func(st *style.Styles, w int) string{
		"header":    func(st *style.Styles, w int) string { return Header(st, w, hinfo) },
		"header/0":  func(st *style.Styles, w int) string { return Header(st, w, HeaderInfo{}) },
		"statusbar": func(st *style.Styles, w int) string { return sb.View(st, w, t0.Add(2*time.Second)) },
		"statusbar/new": func(st *style.Styles, w int) string {
			return NewStatusBar(0, 0).View(st, w, t0)
		},
	}
	for _, st := range []*style.Styles{testStyles(), nil} {
		for _, w := range testWidths {
			for name, v := range oneRow {
				s := v(st, w)
				checkBlock(t, name, s, w, 1)
			}
			for _, h := range testHeights {
				for name, v := range views {
					checkBlock(t, name, v(st, w, h), w, h)
				}
			}
		}
	}
}

// TestNoControlFromInput: text from the peer or from errors never reaches
// the terminal raw, whatever view shows it.
func TestNoControlFromInput(t *testing.T) {
	evil := "x\x1b]0;pwned\x07\x1b[2J\u202eevil\r\n\ttab"
	st := testStyles()
	l := NewSecurityLog()
	l.Rejected(protocol.RejectedEvent{Reason: evil, Detail: evil}, t0)
	l.Note(evil, t0)
	h := NewHandshake(evil, t0, time.Second)
	h.Step(protocol.HandshakeEvent{Step: 4, Err: fmt.Errorf("wrapped: %s", evil)}, t0)
	in := NewInspector()
	in.Set([]protocol.RecordInfo{{Dir: protocol.DirIn, Verdict: evil}})
	views := map[string]string{
		"seclog":     l.View(st, 200, 10),
		"handshake":  h.View(st, 200, 20, t0),
		"inspector":  in.View(st, 200, 3),
		"header":     Header(st, 200, HeaderInfo{SelfName: evil, PeerName: evil, PeerFP: evil}),
		"keychanged": KeyChanged(st, 200, 40, KeyChangedInfo{Peer: evil, Known: evil, Got: evil, Path: evil}, evil),
		"verify":     Verify(st, 200, 40, evil, evil, crypto.Trust(evil)),
		"plainerr":   words.HandshakeError(3, fmt.Errorf("x: %s", evil)),
	}
	for name, s := range views {
		for _, bad := range []string{"\x1b]", "\x07", "\x1b[2J", "\u202e", "\r", "\t"} {
			if strings.Contains(s, bad) {
				t.Errorf("%s: raw %q reached the view", name, bad)
			}
		}
	}
}
