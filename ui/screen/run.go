package screen

import (
	"context"
	"errors"
	"fmt"
	"runtime/debug"
	"time"

	tea "charm.land/bubbletea/v2"
)

// quitGrace is how long Run waits for a clean quit (telling the
// peer, bounded by LeaveTimeout) after ctx ends before killing the program.
const quitGrace = 3 * time.Second

// Run runs the full-screen UI and the node (runNode) together until
// the user quits (nil), ctx ends (a clean quit as /quit, then
// context.Cause(ctx)), or runNode fails (its error; the program is killed
// and the terminal restored). sink must be the one the node emits into; it
// is attached to the program here and closed before Run returns, so
// no Emit stays blocked. In every case runNode has returned when Run
// returns.
//
// Bubble Tea's own SIGINT/SIGTERM handler is turned off: the caller's ctx
// carries signals, so that a signal quits as cleanly as /quit does.
func Run(ctx context.Context, cfg Config, sink *Sink, runNode func(ctx context.Context) error, opts ...tea.ProgramOption) error {
	scr := New(cfg)
	opts = append([]tea.ProgramOption{tea.WithoutSignalHandler()}, opts...)
	p := tea.NewProgram(newPaced(scr), opts...) // pace.go: a flood's frames are paced, key presses never

	// The node outlives ctx by the clean quit: it must carry our GOODBYE.
	nodeCtx, stopNode := context.WithCancel(context.WithoutCancel(ctx))
	defer stopNode()
	sink.Attach(p)
	defer sink.Close()
	unwatch := sink.stopWith(nodeCtx)
	defer unwatch()

	nodeErr := make(chan error, 1)
	go func() {
		// A panic in the node's goroutine must not leave the terminal in
		// raw mode on the alternate screen: report it as the node's error,
		// and the program is killed (restoring the terminal) below.
		defer func() {
			if r := recover(); r != nil {
				nodeErr <- fmt.Errorf("ui: session driver panicked: %v\n%s", r, debug.Stack())
			}
		}()
		nodeErr <- runNode(nodeCtx)
	}()
	progErr := make(chan error, 1)
	go func() {
		_, err := p.Run()
		progErr <- err
	}()

	var err error
	select {
	case err = <-progErr: // the user quit (or the program failed)
		stopNode()
		sink.Close()
		<-nodeErr // stopped by us: its error says nothing more
		if ctx.Err() != nil && err == nil {
			err = context.Cause(ctx)
		}
		if err == nil {
			err = scr.quitErr() // quit at the key-changed warning
		}
	case err = <-nodeErr:
		if err == nil {
			err = errors.New("session driver stopped")
		}
		sink.Close()
		p.Kill() // restores the terminal
		<-progErr
		if ctx.Err() != nil {
			err = context.Cause(ctx)
		}
	case <-ctx.Done():
		p.Send(quitRequestMsg{}) // as /quit: tell the peer, then quit
		t := time.NewTimer(quitGrace)
		select {
		case <-progErr:
		case <-t.C:
			p.Kill()
			<-progErr
		}
		t.Stop()
		stopNode()
		sink.Close()
		<-nodeErr
		err = context.Cause(ctx)
	}
	return keepInput(cfg.Input, scr, err)
}

// keepInput saves the draft and input history once the program has ended
// (its loop no longer touches scr). A failed save is returned only when
// the run itself ended well, wrapped; a save that does not finish in
// time (a full disk) is given up: the draft is not worth holding the exit.
func keepInput(st InputStore, scr *Screen, err error) error {
	if st == nil {
		return err
	}
	draft, recall := scr.keptInput()
	if serr := saveInput(st, draft, recall); serr != nil && err == nil {
		return fmt.Errorf("draft and input history not kept: %w", serr)
	}
	return err
}
