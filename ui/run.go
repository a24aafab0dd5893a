package ui

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"duet/protocol"
	"duet/ui/words"
)

// Node is the session driver the line and headless front ends run and
// drive: *protocol.Node satisfies it. Serve runs it (Run) and leaves
// (Leave) on a clean quit; the input loop sends what is typed
// (SendMessage, or SendMessages for the lines already waiting) and carries
// out /rekey and /replay.
type Node interface {
	Run(ctx context.Context) error
	// SendMessage queues a chat message; the Outgoing's SentAt is the time
	// written, which both sides show.
	SendMessage(text string) (protocol.Outgoing, error)
	// SendMessages queues several messages in one durable commit, all or
	// none: the input loop hands it the lines that are already waiting, so
	// a burst on stdin costs one disk flush, not one per line, and an idle
	// link waits for nothing.
	SendMessages(texts []string) ([]protocol.Outgoing, error)
	Rekey() error
	Replay() error
	// Leave tells the peer we quit (an authenticated GOODBYE) if a session
	// is up; afterwards the session sends nothing more.
	Leave(ctx context.Context) error
}

// DrainTimeout is how long quitting (/quit or end of input) waits for our
// messages still awaiting the peer's receipt.
const DrainTimeout = 2 * time.Second

// quitLeaveTimeout bounds telling the peer we leave on a clean quit.
const quitLeaveTimeout = time.Second

// ErrQuit is returned by the input loop when the user asked to quit
// (/quit or end of input). It is not a failure.
var ErrQuit = errors.New("ui: quit")

// Input options.
type InputConfig struct {
	// MaxLine bounds a line of input in bytes (protocol.MaxTextSize when
	// zero). Longer lines are skipped without being buffered whole and
	// reported as an "error" event.
	MaxLine int
	// Drain is how long to wait for undelivered messages on quit
	// (DrainTimeout when zero; negative: do not wait).
	Drain time.Duration
	// Clear deletes the stored chat history for /clear (ours only: the
	// peer keeps its own; with --no-history, what earlier runs stored).
	// nil when there is no database (--ephemeral): /clear then reports an
	// error event saying so.
	Clear func() error
}

// NotSavedEvent reports that the line queued as ID was not saved: the
// disk is full, so it is kept in memory (protocol.Outgoing.Unsaved) until a
// protocol.SavedEvent.
type NotSavedEvent struct{ ID uint64 }

// EventName is "not_saved".
func (NotSavedEvent) EventName() string { return "not_saved" }

// HistoryClearedEvent reports that /clear deleted the stored history:
// headless writes {"event":"history_cleared"}, the line mode a "*" line.
// The input loop emits it, not the session driver.
type HistoryClearedEvent struct{}

// EventName implements protocol.Event.
func (HistoryClearedEvent) EventName() string { return "history_cleared" }

// errNoHistory is /clear's answer when there is no stored history.
var errNoHistory = errors.New("/clear: no stored history to clear (--ephemeral keeps nothing on disk)")

func (c InputConfig) maxLine() int {
	if c.MaxLine > 0 {
		return c.MaxLine
	}
	return protocol.MaxTextSize
}

func (c InputConfig) drain() time.Duration {
	switch {
	case c.Drain < 0:
		return 0
	case c.Drain == 0:
		return DrainTimeout
	}
	return c.Drain
}

// inputLine is one line read from the input, or why there is none.
type inputLine struct {
	text    string
	tooLong int64 // >0: the line had this many bytes and was skipped
	err     error // io.EOF at the end
}

// readLines reads lines from in and delivers them on out until the end of
// input or stop is closed. A line longer than max is discarded chunk by chunk.
func readLines(in io.Reader, max int, out chan<- inputLine, stop <-chan struct{}) {
	r := bufio.NewReaderSize(in, max+2) // the line, "\r\n"
	send := func(l inputLine) bool {
		select {
		case out <- l:
			return true
		case <-stop:
			return false
		}
	}
	for {
		chunk, err := r.ReadSlice('\n')
		if errors.Is(err, bufio.ErrBufferFull) {
			n := int64(len(chunk))
			for errors.Is(err, bufio.ErrBufferFull) {
				chunk, err = r.ReadSlice('\n')
				n += int64(len(chunk))
			}
			if err == nil { // do not count the line ending
				n--
				if len(chunk) > 1 && chunk[len(chunk)-2] == '\r' {
					n--
				}
			}
			if !send(inputLine{tooLong: n}) {
				return
			}
			if err != nil {
				send(inputLine{err: err})
				return
			}
			continue
		}
		if len(chunk) > 0 {
			line := strings.TrimSuffix(strings.TrimSuffix(string(chunk), "\n"), "\r")
			if len(line) > max {
				if !send(inputLine{tooLong: int64(len(line))}) {
					return
				}
			} else if !send(inputLine{text: line}) {
				return
			}
		}
		if err != nil {
			send(inputLine{err: err})
			return
		}
	}
}

// Input batching limits: lines read ahead, and one batch's lines and bytes.
// duet bench's in-process measure batches as this loop does and keeps its
// own copy of inputBatchLines (bench.batchLines): change both together.
const (
	inputReadAhead  = 1024
	inputBatchLines = 1024
	inputBatchBytes = 1 << 20
)

// runInput is the input loop shared by the headless and line modes: it
// reads commands and messages from in until /quit, end of input or ctx is
// done, reporting to out. It returns nil on /quit and end of input (after
// waiting up to cfg's drain time for undelivered messages), ctx's error if
// ctx ended first, or the error reading in.
func runInput(ctx context.Context, in io.Reader, out Output, node Node, cfg InputConfig) error {
	lines := make(chan inputLine, inputReadAhead)
	stop := make(chan struct{})
	defer close(stop)
	go readLines(in, cfg.maxLine(), lines, stop)
	var carry *inputLine // read while batching, not handled yet
	warned := false      // /quit warned that lines typed while the disk was full would be lost
	asking := false      // line mode: /clear history asked y/N, the next line answers
	for {
		var l inputLine
		if carry != nil {
			l, carry = *carry, nil
		} else {
			select {
			case <-ctx.Done():
				return ctx.Err()
			case l = <-lines:
			}
		}
		switch {
		case l.err == io.EOF:
			waitSaved(ctx, out, node, cfg.drain())
			waitDelivered(ctx, out, cfg.drain())
			return nil
		case l.err != nil:
			return fmt.Errorf("reading input: %w", l.err)
		case l.tooLong > 0:
			out.Emit(protocol.ErrorEvent{Err: fmt.Errorf("line of %d bytes not sent: at most %d bytes", l.tooLong, cfg.maxLine())})
			continue
		}
		if asking {
			asking = false
			answerClearHistory(l.text, out, cfg)
			continue
		}
		if text, ok := messageText(l.text); ok {
			batch, size := []string{text}, len(text)
			for carry == nil && len(batch) < inputBatchLines && size < inputBatchBytes {
				select {
				case next := <-lines:
					if t, ok := messageText(next.text); ok && next.err == nil && next.tooLong == 0 {
						batch, size = append(batch, t), size+len(t)
					} else {
						carry = &next
					}
					continue
				default:
				}
				break
			}
			sendBatch(batch, out, node)
			continue
		}
		if quit := handleLine(l.text, out, node, cfg, &asking); quit && !warnUnsaved(out, node, &warned) {
			waitDelivered(ctx, out, cfg.drain())
			return nil
		}
	}
}

// unsavedCounter is implemented by *protocol.Node: lines typed while the
// disk was full and not saved yet.
type unsavedCounter interface{ Unsaved() int }

func unsaved(node Node) int {
	if u, ok := node.(unsavedCounter); ok {
		return u.Unsaved()
	}
	return 0
}

// warnUnsaved reports whether /quit must not quit yet: lines typed while
// the disk was full are not saved, and this is the first /quit since; it
// says so.
func warnUnsaved(out Output, node Node, warned *bool) bool {
	n := unsaved(node)
	if n == 0 || *warned {
		return false
	}
	*warned = true
	out.Emit(protocol.ErrorEvent{Err: errors.New(words.QuitUnsaved(n, "/quit again"))})
	return true
}

// waitSaved waits up to d for lines typed while the disk was full to be
// saved (the input ended: nobody can be asked), and says how many are lost.
func waitSaved(ctx context.Context, out Output, node Node, d time.Duration) {
	end := time.Now().Add(d)
	for unsaved(node) > 0 && time.Now().Before(end) && ctx.Err() == nil {
		time.Sleep(50 * time.Millisecond)
	}
	if n := unsaved(node); n > 0 {
		out.Emit(protocol.ErrorEvent{Err: errors.New(words.LostUnsaved(n))})
	}
}

// messageText returns the chat text a line of input sends, if it is a
// message (not empty, not a command; "//text" sends "/text").
func messageText(line string) (string, bool) {
	switch {
	case line == "":
		return "", false
	case strings.HasPrefix(line, "//"):
		return line[1:], true
	case strings.HasPrefix(line, "/"):
		return "", false
	}
	return line, true
}

// sendBatch queues texts in one commit and reports each. If the batch
// fails (a text too long, the queue full) each is sent on its own, so that
// each error is reported with its line and the others still go.
func sendBatch(texts []string, out Output, node Node) {
	if len(texts) > 1 && allValid(texts) {
		if outs, err := node.SendMessages(texts); err == nil {
			for i, o := range outs {
				out.pending().add(o.ID)
				out.Queued(o.ID, texts[i], o.SentAt)
				if o.Unsaved {
					out.Emit(NotSavedEvent{ID: o.ID})
				}
			}
			return
		}
	}
	for _, t := range texts {
		sendOne(t, out, node)
	}
}

func allValid(texts []string) bool {
	for _, t := range texts {
		if protocol.ValidText(t) != nil {
			return false
		}
	}
	return true
}

// sendOne queues one message and reports it (or why it was not sent).
func sendOne(text string, out Output, node Node) {
	// A receipt reported before SendMessage returns is matched by pendingSet.
	o, err := node.SendMessage(text)
	if err != nil {
		out.Emit(protocol.ErrorEvent{Err: err})
		return
	}
	out.pending().add(o.ID)
	out.Queued(o.ID, text, o.SentAt)
	if o.Unsaved {
		out.Emit(NotSavedEvent{ID: o.ID})
	}
}

// lineCommander is an Output that answers some commands itself (the line
// mode: /verify, /fingerprint, /help); Command reports whether it did.
type lineCommander interface{ Command(name string) bool }

// handleLine runs one line of input and reports whether it was /quit.
// The line mode's /clear history sets *asking: the next line answers.
func handleLine(line string, out Output, node Node, cfg InputConfig, asking *bool) (quit bool) {
	if line == "" {
		return false // nothing to send
	}
	if strings.HasPrefix(line, "//") {
		line = line[1:] // "//text" sends "/text"
	} else if strings.HasPrefix(line, "/") {
		cmd := strings.TrimSpace(line)
		var err error
		switch cmd {
		case "/quit":
			return true
		case "/rekey":
			err = node.Rekey()
		case "/replay":
			err = node.Replay()
		case "/clear", "/clear history":
			err = clearCommand(cmd, out, cfg, asking)
		case "/read":
			h, headless := out.(*Headless)
			if !headless {
				err = unknownCommand(cmd, out)
				break
			}
			h.markAllRead(node) // headless_unread.go
		default:
			if c, lineMode := out.(lineCommander); lineMode && c.Command(cmd) {
				return false // /verify, /fingerprint, /help (line mode)
			}
			err = unknownCommand(cmd, out)
		}
		if err != nil {
			out.Emit(protocol.ErrorEvent{Err: err})
		}
		return false
	}
	sendOne(line, out, node)
	return false
}

// unknownCommand is the error for a command out does not know, listing
// those it does.
func unknownCommand(cmd string, out Output) error {
	known := "/quit, /rekey, /replay, /clear"
	if _, lineMode := out.(lineCommander); lineMode {
		known += ", /verify, /fingerprint, /help"
	} else {
		known += ", /read"
	}
	name, _, _ := strings.Cut(cmd, " ")
	return fmt.Errorf("unknown command %q: commands are %s (start a message with // to send a leading /)", snippet(name, 40), known)
}

// clearCommand runs /clear and /clear history. Headless keeps its
// contract (docs/HEADLESS.md): both delete the stored history at once, a
// program driving it having decided. The line mode, typed by a person,
// asks first: /clear history prints a y/N question and sets *asking (the
// next line answers, answerClearHistory); /clear alone only says that
// what was printed stays and how to delete the stored history.
func clearCommand(cmd string, out Output, cfg InputConfig, asking *bool) error {
	l, ok := out.(*Lines)
	if !ok {
		return clearHistory(out, cfg.Clear)
	}
	if cmd == "/clear" {
		l.notice(words.LinesClear)
		return nil
	}
	if cfg.Clear == nil {
		return errNoHistory
	}
	l.notice(words.AskClearHistory)
	*asking = true
	return nil
}

// answerClearHistory takes the line answering the line mode's /clear
// history question: y or yes deletes, anything else keeps the history.
func answerClearHistory(answer string, out Output, cfg InputConfig) {
	switch strings.ToLower(strings.TrimSpace(answer)) {
	case "y", "yes":
		if err := clearHistory(out, cfg.Clear); err != nil {
			out.Emit(protocol.ErrorEvent{Err: err})
		}
	default:
		if l, ok := out.(*Lines); ok {
			l.notice(words.HistoryKept)
		}
	}
}

// clearHistory runs /clear: it deletes the stored history with clear and
// reports HistoryClearedEvent, or returns why it did not.
func clearHistory(out Output, clear func() error) error {
	if clear == nil {
		return errNoHistory
	}
	if err := clear(); err != nil {
		return fmt.Errorf("/clear: history not cleared: %w", err)
	}
	out.Emit(HistoryClearedEvent{})
	return nil
}

// waitDelivered waits until none of our messages await a receipt, for at most d.
func waitDelivered(ctx context.Context, out Output, d time.Duration) {
	if d <= 0 || out.pending().count() == 0 {
		return
	}
	deadline := time.NewTimer(d)
	defer deadline.Stop()
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for out.pending().count() > 0 {
		select {
		case <-ctx.Done():
			return
		case <-deadline.C:
			return
		case <-tick.C:
		}
	}
}

// Serve runs the node and the input loop together until one of them ends:
// the user quits (nil), ctx ends (context.Cause(ctx)), or node.Run fails
// (its error). In every case node.Run has returned and out has been flushed
// when Serve returns.
//
// On a clean quit (/quit or end of input), after the input loop waited for
// receipts, Serve calls node.Leave (for at most a second) before stopping
// the node, so that the peer shows "peer left" at once. A signal (ctx
// ending) stops the node without it: the peer then notices through its
// pings.
func Serve(ctx context.Context, in io.Reader, out Output, node Node, cfg InputConfig) error {
	runCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	runErr := make(chan error, 1)
	go func() { runErr <- node.Run(runCtx) }()

	inCtx, cancelIn := context.WithCancel(ctx)
	defer cancelIn()
	inErr := make(chan error, 1)
	go func() { inErr <- runInput(inCtx, in, out, node, cfg) }()

	var err error
	select {
	case err = <-inErr:
		if err == nil && ctx.Err() == nil {
			lctx, lcancel := context.WithTimeout(ctx, quitLeaveTimeout)
			_ = node.Leave(lctx) // best effort: an unreachable peer notices through its pings
			lcancel()
		}
		cancel()
		<-runErr // stopped by us: its error says nothing more
		if ctx.Err() != nil {
			err = context.Cause(ctx)
		}
	case err = <-runErr:
		cancelIn()
		<-inErr
		if ctx.Err() != nil {
			err = context.Cause(ctx)
		} else if err == nil {
			err = errors.New("session driver stopped")
		}
	}
	if cerr := out.Close(); err == nil && cerr != nil {
		err = cerr
	}
	return err
}
