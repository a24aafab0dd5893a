package panel

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"duet/protocol"
)

func TestInspectorReplayNextToOriginal(t *testing.T) {
	in := fullInspector()
	for _, w := range []int{120, 80, 60, 40, 30, 24} {
		t.Run(fmt.Sprint(w), func(t *testing.T) {
			r := strings.Split(plain(in.View(testStyles(), w, 10)), "\n")
			orig, copy := -1, -1
			for i, row := range r {
				if strings.Contains(row, " 4242 ") { // the nonce goes before seq when narrow
					if orig < 0 {
						orig = i
					} else {
						copy = i
					}
				}
			}
			if orig < 0 || copy != orig+1 {
				t.Fatalf("original (row %d) and replay (row %d) not adjacent:\n%s", orig, copy, strings.Join(r, "\n"))
			}
			for _, i := range []int{orig, copy} {
				if !strings.Contains(r[i], "4242") {
					t.Errorf("row %d lacks seq 4242: %q", i, r[i])
				}
			}
			if !strings.HasPrefix(r[orig], "┌") || !strings.HasPrefix(r[copy], "└") {
				t.Errorf("bracket missing:\n%s\n%s", r[orig], r[copy])
			}
			// The replay is the newest record: it and its original are last.
			if copy != len(in.order) {
				t.Errorf("replay group at row %d, want the bottom row %d", copy, len(in.order))
			}
		})
	}
}

func TestInspectorColumns(t *testing.T) {
	in := fullInspector()
	tests := []struct {
		width     int
		want, not []string
	}{
		{120, []string{"time", "dir", "type", "seq", "hdr time", "nonce", "size", "verdict",
			"03:00:04.000", "in", "out", "CHAT", "PUBLIC_KEY", "4242", "03:00:00.000", "deadbeef", "90", "! replay (rejected)", "accepted", "sent"}, nil},
		{81, []string{"time", "hdr time", "type", "deadbeef", "4242", "! replay (rejected)"}, nil},
		{80, []string{"time", "hdr time", "type", "deadbeef", "4242", "! replay"}, []string{"(rejected)"}},
		{60, []string{"hdr time", "type", "deadbeef", "4242", "! replay"}, []string{"size", "03:00:04.000"}},
		{40, []string{"type", "CHAT", "deadbeef", "4242", "! replay"}, []string{"size", "hdr time"}},
		// The sidebar's width with 10-digit seqs: the type stays, the
		// nonce prefix goes first.
		{30, []string{"type", "CHAT", "4242", "! replay"}, []string{"deadbeef", "hdr time"}},
		{18, []string{"4242", "←", "→"}, []string{"CHAT", "type", "deadbeef"}},
	}
	for _, tc := range tests {
		v := plain(in.View(testStyles(), tc.width, 10))
		for _, s := range tc.want {
			if !strings.Contains(v, s) {
				t.Errorf("width %d: missing %q\n%s", tc.width, s, v)
			}
		}
		for _, s := range tc.not {
			if strings.Contains(v, s) {
				t.Errorf("width %d: %q should be dropped\n%s", tc.width, s, v)
			}
		}
		// Header and rows stay aligned: the nonce column starts at the same
		// cell in every row.
		var col = -1
		for i, row := range strings.Split(v, "\n")[1:6] {
			idx := strings.Index(row, "deadbeef")
			if idx < 0 {
				idx = strings.Index(row, "01020304")
			}
			if idx < 0 {
				idx = strings.Index(row, "05060708")
			}
			if idx < 0 {
				continue
			}
			c := len([]rune(row[:idx]))
			if col >= 0 && c != col {
				t.Errorf("width %d row %d: nonce at %d, want %d\n%s", tc.width, i+1, c, col, v)
			}
			col = c
		}
	}
}

func TestInspectorNewestRowsAndCopy(t *testing.T) {
	var recs []protocol.RecordInfo
	for i := 0; i < 10; i++ {
		recs = append(recs, protocol.RecordInfo{At: t0.Add(time.Duration(i) * time.Second), Dir: protocol.DirOut,
			Type: protocol.TypeChat, Seq: uint32(100 + i), HasSeq: true, Nonce: [4]byte{byte(i)}, HasNonce: true, Verdict: protocol.VerdictSent})
	}
	in := NewInspector()
	in.Set(recs)
	recs[9].Seq = 999 // Set copied the slice
	v := plain(in.View(testStyles(), 80, 4))
	r := strings.Split(v, "\n")
	if !strings.Contains(r[0], "verdict") || !strings.Contains(r[1], "107") || !strings.Contains(r[3], "109") || strings.Contains(v, "999") {
		t.Errorf("want header and the newest 3 rows:\n%s", v)
	}
	if v := plain(NewInspector().View(testStyles(), 80, 3)); !strings.Contains(v, "no records yet") {
		t.Errorf("empty: %q", v)
	}
}

func TestInspectorVerdicts(t *testing.T) {
	for _, v := range []string{protocol.VerdictAccepted, protocol.VerdictSent, protocol.VerdictReplayed, protocol.VerdictIgnored} {
		if IsRejectedVerdict(v) || verdictText(v) != v {
			t.Errorf("%q is not a rejection", v)
		}
	}
	for _, v := range []string{protocol.ReasonReplay, protocol.ReasonTampered, "weird"} {
		if !IsRejectedVerdict(v) || verdictText(v) != "! "+v+" (rejected)" {
			t.Errorf("%q: %q", v, verdictText(v))
		}
	}
	in := NewInspector()
	in.Set([]protocol.RecordInfo{{Dir: protocol.DirIn, Verdict: protocol.ReasonStale}, {Dir: protocol.DirIn, Verdict: protocol.VerdictAccepted}})
	raw := in.View(testStyles(), 100, 3)
	rejectedRow := strings.Split(raw, "\n")[1]
	if plain(rejectedRow) == rejectedRow || !strings.Contains(plain(rejectedRow), "! stale (rejected)") {
		t.Errorf("rejected row not highlighted and worded: %q", rejectedRow)
	}
}

func TestInspectorHidesLivenessUnlessAsked(t *testing.T) {
	t0 := time.Date(2026, 11, 26, 3, 0, 0, 0, time.UTC)
	var recs []protocol.RecordInfo
	chat := protocol.RecordInfo{At: t0, Dir: protocol.DirIn, Type: protocol.TypeChat, Seq: 4242, HasSeq: true, Nonce: [4]byte{0xde, 0xad, 0xbe, 0xef}, HasNonce: true, Size: 90, Verdict: protocol.VerdictAccepted}
	recs = append(recs, chat)
	replay := chat
	replay.At, replay.Verdict = t0.Add(time.Second), protocol.ReasonReplay
	recs = append(recs, replay)
	// A minute of liveness after the replay: four records a second.
	for i := range 240 {
		typ := []byte{protocol.TypePing, protocol.TypePong, protocol.TypePlainPing, protocol.TypePlainPong}[i%4]
		recs = append(recs, protocol.RecordInfo{At: t0.Add(time.Duration(i) * 250 * time.Millisecond), Dir: protocol.DirOut, Type: typ, Seq: uint32(5000 + i), HasSeq: true, Nonce: [4]byte{byte(i)}, HasNonce: true, Size: 50, Verdict: protocol.VerdictSent})
	}
	in := NewInspector()
	in.Set(recs)
	if in.ShowLiveness() || in.Hidden() != 240 {
		t.Fatalf("default: show=%v hidden=%d, want hidden 240", in.ShowLiveness(), in.Hidden())
	}
	v := plain(in.View(testStyles(), 100, 10))
	if strings.Count(v, "deadbeef") != 2 || strings.Contains(v, "PING") || strings.Contains(v, "PONG") {
		t.Fatalf("liveness hidden: want the chat and its replay only:\n%s", v)
	}
	in.SetShowLiveness(true)
	v = plain(in.View(testStyles(), 100, 10))
	if in.Hidden() != 0 || !strings.Contains(v, "PING") || strings.Contains(v, "deadbeef") {
		t.Fatalf("liveness shown: want the newest pings (the chat scrolled away), hidden %d:\n%s", in.Hidden(), v)
	}
	in.SetShowLiveness(false)
	if v = plain(in.View(testStyles(), 100, 10)); strings.Count(v, "deadbeef") != 2 {
		t.Fatalf("hidden again: chat and replay missing:\n%s", v)
	}
}

// TestInspectorSidebarHasType: at the sidebar's inner width (38 cells, a
// 120-column terminal) with 10-digit seqs and the longest type names the
// type column stays, in its short form.
func TestInspectorSidebarHasType(t *testing.T) {
	in := NewInspector()
	in.Set([]protocol.RecordInfo{
		{At: t0, Dir: protocol.DirOut, Type: protocol.TypeKeyTransport, Verdict: protocol.VerdictSent},
		{At: t0, Dir: protocol.DirIn, Type: protocol.TypeChat, Seq: 1800764890, HasSeq: true, HasNonce: true, Nonce: [4]byte{0xde, 0xad, 0xbe, 0xef}, Verdict: protocol.VerdictAccepted},
		{At: t0, Dir: protocol.DirIn, Type: protocol.TypeChat, Seq: 1800764890, HasSeq: true, HasNonce: true, Nonce: [4]byte{0xde, 0xad, 0xbe, 0xef}, Verdict: protocol.ReasonReplay},
	})
	v := plain(in.View(testStyles(), 38, 6))
	for _, want := range []string{"type", "KEYTRAN", "CHAT", "1800764890", "! replay"} {
		if !strings.Contains(v, want) {
			t.Errorf("missing %q:\n%s", want, v)
		}
	}
}

// TestInspectorTotal: SetAt remembers the record log's total the records
// were read at (the screen polls again only when the log has grown); Set
// and SetShowLiveness keep it.
func TestInspectorTotal(t *testing.T) {
	in := NewInspector()
	if in.Total() != 0 {
		t.Fatalf("a new inspector's total is %d, want 0", in.Total())
	}
	in.SetAt([]protocol.RecordInfo{{Dir: protocol.DirOut, Type: protocol.TypeChat}}, 42)
	in.SetShowLiveness(true)
	if in.Total() != 42 {
		t.Fatalf("total after SetAt(.., 42) and SetShowLiveness: %d", in.Total())
	}
}
