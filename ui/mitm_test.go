package ui

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"duet/protocol"
	"duet/protocol/mitm"
	"duet/ui/words"
)

// TestMITMOutput: text and JSON lines; relayed pings and pongs only with
// all.
func TestMITMOutput(t *testing.T) {
	at := time.Date(2026, 11, 26, 8, 0, 0, 0, time.UTC)
	ping := mitm.Event{Flow: mitm.FlowAB, Action: mitm.Relayed, Type: protocol.TypePing, Seq: 3, HasSeq: true, Size: 50}
	tampered := mitm.Event{Flow: mitm.FlowBA, Action: mitm.Tampered, Attack: mitm.Tamper, Type: protocol.TypeChat, Seq: 9, HasSeq: true, Size: 80}
	for _, all := range []bool{false, true} {
		var buf syncBuffer
		o := NewMITMOutput(&buf, true, all)
		o.now = func() time.Time { return at }
		o.Emit(ping)
		o.Emit(tampered)
		o.Emit(protocol.SessionEvent{}) // not the MITM's: ignored
		o.Error(errors.New("mitm: boom"))
		o.Close()
		lines := strings.Split(strings.TrimSuffix(buf.String(), "\n"), "\n")
		want := 2
		if all {
			want = 3
		}
		if len(lines) != want {
			t.Fatalf("all=%v: %d lines, want %d:\n%s", all, len(lines), want, buf.String())
		}
		var m map[string]any
		if err := json.Unmarshal([]byte(lines[want-2]), &m); err != nil {
			t.Fatal(err)
		}
		for k, v := range map[string]any{"event": "mitm", "time": "2026-11-26T08:00:00Z", "flow": "b->a", "action": "tampered", "attack": "tamper", "type": "CHAT", "seq": 9.0, "size": 80.0} {
			if m[k] != v && !(k == "time" && strings.HasPrefix(m[k].(string), "2026-11-26T08:00:00")) {
				t.Errorf("%s = %v, want %v (%s)", k, m[k], v, lines[want-2])
			}
		}
		if !strings.Contains(lines[want-1], `"event":"error"`) || !strings.Contains(lines[want-1], "mitm: boom") {
			t.Errorf("error line: %s", lines[want-1])
		}
	}
	var buf syncBuffer
	o := NewMITMOutput(&buf, false, false)
	o.now = func() time.Time { return at }
	o.Emit(tampered)
	o.Close()
	if got, want := buf.String(), at.Local().Format("15:04:05.000")+" "+words.MITM(tampered)+"\n"; got != want {
		t.Errorf("text line %q, want %q", got, want)
	}
}

// TestMITMOutputStripped: a stripped hello's JSON line says its size
// before and after (size_before, size), and its text line the reason the
// receiver must give.
func TestMITMOutputStripped(t *testing.T) {
	e := mitm.Event{Flow: mitm.FlowAB, Action: mitm.Stripped, Attack: mitm.Downgrade, Type: protocol.TypeHello, Size: 319, SizeBefore: 1503}
	var buf syncBuffer
	o := NewMITMOutput(&buf, true, false)
	o.Emit(e)
	o.Close()
	var m map[string]any
	if err := json.Unmarshal([]byte(buf.String()), &m); err != nil {
		t.Fatalf("%v: %s", err, buf.String())
	}
	for k, v := range map[string]any{"event": "mitm", "flow": "a->b", "action": "stripped", "attack": "downgrade", "type": "HELLO", "size": 319.0, "size_before": 1503.0} {
		if m[k] != v {
			t.Errorf("%s = %v, want %v (%s)", k, m[k], v, buf.String())
		}
	}
	var text syncBuffer
	o = NewMITMOutput(&text, false, false)
	o.Emit(e)
	o.Close()
	if !strings.Contains(text.String(), "STRIPPED the ML-KEM key from A's HELLO (1503 -> 319 bytes): B must refuse it (downgrade)") {
		t.Errorf("text line %q", text.String())
	}
}

type armCall struct {
	flow   mitm.Flow
	attack mitm.Attack // 0: Disarm
}

type fakeMITM struct{ calls []armCall }

func (f *fakeMITM) Arm(_ context.Context, fl mitm.Flow, a mitm.Attack) error {
	f.calls = append(f.calls, armCall{fl, a})
	if a == mitm.Replay {
		return mitm.ErrNothingToReplay
	}
	return nil
}

func (f *fakeMITM) Disarm(fl mitm.Flow) { f.calls = append(f.calls, armCall{fl, 0}) }

// TestServeMITMCommands: commands become Arm and Disarm calls; a bad one
// is reported and changes nothing; quit ends the loop (what follows is not
// read), as does the end of input.
func TestServeMITMCommands(t *testing.T) {
	in := "tamper a\nreorder B\npass a\n\nbogus a\ntamper\ndrop c\nreplay b\nkeysub b\ndowngrade a\nquit\ndrop a\n"
	var buf syncBuffer
	out := NewMITMOutput(&buf, false, false)
	f := &fakeMITM{}
	if err := ServeMITM(context.Background(), strings.NewReader(in), out, f); err != nil {
		t.Fatal(err)
	}
	out.Close()
	want := []armCall{
		{mitm.FlowAB, mitm.Tamper},
		{mitm.FlowBA, mitm.Reorder},
		{mitm.FlowAB, 0},
		{mitm.FlowBA, mitm.Replay},
		{mitm.FlowBA, mitm.KeySub},
		{mitm.FlowAB, mitm.Downgrade},
	}
	if len(f.calls) != len(want) {
		t.Fatalf("calls %v, want %v", f.calls, want)
	}
	for i := range want {
		if f.calls[i] != want[i] {
			t.Fatalf("calls %v, want %v", f.calls, want)
		}
	}
	text := buf.String()
	for _, e := range []string{`unknown attack: "bogus"`, `"tamper": give a command and a side`, `"c": the side is a`, "no CHAT record has gone that way yet"} {
		if !strings.Contains(text, e) {
			t.Errorf("no error %q in:\n%s", e, text)
		}
	}

	f = &fakeMITM{}
	if err := ServeMITM(context.Background(), strings.NewReader("drop a"), out, f); err != nil || len(f.calls) != 1 {
		t.Errorf("a last line without newline: %v, calls %v", err, f.calls)
	}
}

// TestServeMITMSteal: `steal b` in duet mitm (a real relay, in its own
// process: no node to rob) is refused with an error that says why, not
// ignored, and the relay is left as it was.
func TestServeMITMSteal(t *testing.T) {
	var buf syncBuffer
	out := NewMITMOutput(&buf, false, false)
	m := mitm.New(func(protocol.Event) {})
	if err := ServeMITM(context.Background(), strings.NewReader("steal b\nsteal a\n"), out, m); err != nil {
		t.Fatal(err)
	}
	out.Close()
	text := buf.String()
	if n := strings.Count(text, "steal needs a copy of the sender's key state, which no duet gives out"); n != 2 {
		t.Errorf("%d refusals naming why, want 2:\n%s", n, text)
	}
	if !strings.Contains(text, "only `duet demo` can") {
		t.Errorf("the refusal does not say where a theft can be shown:\n%s", text)
	}
}
