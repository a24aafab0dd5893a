package ui

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"time"

	"duet/protocol"
	"duet/protocol/mitm"
	"duet/ui/termsafe"
	"duet/ui/words"
)

// MITMOutput prints what `duet mitm` does: one line per event, as text for
// a person, or as JSON (one object per line, --headless). Relayed pings and
// pongs are left out unless all is set. Like Headless it never blocks: past
// MaxQueuedBytes lines are dropped and counted.
type MITMOutput struct {
	q    *lineQueue
	json bool
	all  bool
	now  func() time.Time
}

// NewMITMOutput returns a MITMOutput writing to w.
func NewMITMOutput(w io.Writer, asJSON, all bool) *MITMOutput {
	o := &MITMOutput{json: asJSON, all: all, now: time.Now}
	o.q = newLineQueue(w, MaxQueuedBytes, func(n int) []byte {
		return o.errorLine(fmt.Sprintf("%d output lines dropped: stdout is not being read", n))
	})
	return o
}

// Close writes what is queued (waiting up to 5 s for a slow reader).
func (o *MITMOutput) Close() error { return o.q.close(5 * time.Second) }

// Ready says where the relay listens and how to start the two peers.
func (o *MITMOutput) Ready(aMain, aSub, bMain, bSub int, host string) {
	if o.json {
		o.q.put(o.encode(map[string]any{"event": "ready", "time": o.stamp(), "a_main": aMain, "a_sub": aSub, "b_main": bMain, "b_sub": bSub}))
		return
	}
	o.text("duet mitm: between A (port %d) and B (port %d) on %s; start the peers as", aMain, bMain, host)
	o.text("  A: duet --main %d --sub %d ...", aMain, aSub)
	o.text("  B: duet --main %d --sub %d ...", bMain, bSub)
	o.text("commands: replay|tamper|reorder|drop|jump|keysub|downgrade|impersonate|stale|reflect a|b (a: what A sends), pass a|b, help, quit (steal: duet demo only)")
}

// Help lists the commands.
func (o *MITMOutput) Help() {
	for _, l := range mitmHelp {
		if o.json {
			o.q.put(o.encode(map[string]any{"event": "help", "time": o.stamp(), "text": l}))
		} else {
			o.text("%s", l)
		}
	}
}

var mitmHelp = []string{
	"replay a   send the last CHAT record A sent again: B must refuse it (replay)",
	"tamper a   flip one bit of A's next CHAT record: B must refuse it (tampered); A resends the message",
	"reorder a  hold A's next CHAT record back, send it after the one that follows: B must refuse it (reorder)",
	"drop a     drop A's next CHAT record: B reports a gap; A resends the message",
	"jump a     raise the seq of A's next CHAT record by 2048: B must refuse it (too-far); A resends the message",
	"keysub a   put the MITM's key in every PUBLIC_KEY from A: a new handshake fails (bad-signature) until pass",
	"downgrade a  cut the ML-KEM share out of every HELLO from A (version 1's layout): a new handshake fails (downgrade) until pass",
	"stale a    hold A's next CHAT record and all A sends after it for the window (--window) plus 1 s, then release them in order:",
	"           B must refuse those older than the window (stale); A resends the message",
	"reflect a  send A's next record back to A as well: A must refuse it (reflected)",
	"impersonate a  (both ways) answer each peer as the other, with the MITM's own key, reading what passes:",
	"               a peer that knows the other's key refuses it (key-changed); on a first contact only the safety numbers differ",
	"steal a    refused here: no duet gives out its keys, so a separate relay has none to steal; duet demo shows it (/attack steal)",
	"pass a     turn A's attacks off",
	"b instead of a: the same on what B sends; quit (or end of input) stops the relay",
}

// Error reports a command that could not be carried out.
func (o *MITMOutput) Error(err error) { o.q.put(o.errorLine(err.Error())) }

// Emit prints a mitm.Event (other events are ignored).
func (o *MITMOutput) Emit(ev protocol.Event) {
	e, ok := ev.(mitm.Event)
	if !ok {
		return
	}
	stale := e.Attack == mitm.Stale && (e.Action == mitm.Held || e.Action == mitm.Released)
	if (e.Action == mitm.Relayed || stale) && !o.all && isLivenessType(e.Type) {
		return
	}
	if o.json {
		m := map[string]any{"event": "mitm", "time": o.stamp(), "flow": e.Flow.String(), "action": e.Action}
		if e.Attack != 0 {
			m["attack"] = e.Attack.String()
		}
		if e.Type != 0 {
			m["type"] = protocol.TypeName(e.Type)
			m["size"] = e.Size
		}
		if e.Version != 0 {
			m["version"] = e.Version
		}
		if e.HasSeq {
			m["seq"] = e.Seq
		}
		if e.SizeBefore != 0 {
			m["size_before"] = e.SizeBefore
		}
		if e.Peer != "" {
			m["peer_fingerprint"] = e.Peer
		}
		if e.Action == mitm.Intercepted {
			m["text"] = e.Text
		}
		o.q.put(o.encode(m))
		return
	}
	o.text("%s", words.MITM(e))
}

func isLivenessType(t byte) bool {
	switch t {
	case protocol.TypePing, protocol.TypePong, protocol.TypePlainPing, protocol.TypePlainPong:
		return true
	}
	return false
}

func (o *MITMOutput) stamp() string { return o.now().UTC().Format(TimeFormat) }

func (o *MITMOutput) text(format string, a ...any) {
	o.q.put([]byte(o.now().Format("15:04:05.000") + " " + termsafe.Sanitize(fmt.Sprintf(format, a...)) + "\n"))
}

func (o *MITMOutput) errorLine(msg string) []byte {
	if o.json {
		return o.encode(map[string]any{"event": "error", "time": o.stamp(), "error": msg})
	}
	return []byte(o.now().Format("15:04:05.000") + " error: " + termsafe.Sanitize(msg) + "\n")
}

// encode is one JSON line; characters a terminal would act on (in an
// intercepted message) are escaped as in headless output.
func (o *MITMOutput) encode(v map[string]any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		b = []byte(`{"event":"error","error":"ui: encode"}`)
	}
	return termsafe.EscapeJSON(append(b, '\n'))
}

// MITMController is what the command loop drives (mitm.Relay).
type MITMController interface {
	Arm(ctx context.Context, f mitm.Flow, a mitm.Attack) error
	Disarm(f mitm.Flow)
}

// maxCommandLine bounds one command line; a longer one ends the command
// loop with an error.
const maxCommandLine = 4096

// ServeMITM reads commands from in, one a line, until "quit", the end of
// in or ctx: "<attack> a|b" (replay, tamper, reorder, drop, jump, keysub, downgrade, impersonate, stale, reflect;
// steal is refused with mitm.ErrCannotSteal),
// "pass a|b", "help". A command it cannot carry out is reported on out.
func ServeMITM(ctx context.Context, in io.Reader, out *MITMOutput, m MITMController) error {
	lines := make(chan string)
	errc := make(chan error, 1)
	go func() {
		sc := bufio.NewScanner(in)
		sc.Buffer(make([]byte, 0, 256), maxCommandLine)
		for sc.Scan() {
			select {
			case lines <- sc.Text():
			case <-ctx.Done():
				return
			}
		}
		errc <- sc.Err()
	}()
	for {
		select {
		case <-ctx.Done():
			return nil
		case err := <-errc:
			if err != nil {
				return fmt.Errorf("ui: mitm commands: %w", err)
			}
			return nil
		case l := <-lines:
			quit, err := mitmCommand(ctx, l, out, m)
			if err != nil {
				out.Error(err)
			}
			if quit {
				return nil
			}
		}
	}
}

// mitmCommand carries out one command line.
func mitmCommand(ctx context.Context, line string, out *MITMOutput, m MITMController) (quit bool, err error) {
	f := strings.Fields(line)
	if len(f) == 0 {
		return false, nil
	}
	switch f[0] {
	case "quit", "exit":
		return true, nil
	case "help", "?":
		out.Help()
		return false, nil
	}
	if len(f) != 2 {
		return false, fmt.Errorf("%q: give a command and a side, e.g. \"tamper a\" (help lists them)", line)
	}
	var flow mitm.Flow
	switch f[1] {
	case "a", "A":
		flow = mitm.FlowAB
	case "b", "B":
		flow = mitm.FlowBA
	default:
		return false, fmt.Errorf("%q: the side is a (what A sends) or b (what B sends)", f[1])
	}
	if f[0] == "pass" {
		m.Disarm(flow)
		return false, nil
	}
	a, err := mitm.ParseAttack(f[0])
	if err != nil {
		return false, err
	}
	return false, m.Arm(ctx, flow, a)
}
