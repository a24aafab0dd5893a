package screen

import (
	"fmt"

	tea "charm.land/bubbletea/v2"

	"duet/crypto"
	"duet/ui/panel"
	"duet/ui/style"
	"duet/ui/termsafe"
)

// keyChange is the key-changed dialog (a PeerKeyEvent with Changed): the
// peer presented a key other than the one recorded for it. It covers the
// whole screen and takes every key and paste: q or ctrl+c quits (the screen
// sees to that); when accepting is offered (info.Path set), typing the word
// "accept" and Enter records the new key, got (Config.AcceptKey, in a Cmd).
type keyChange struct {
	info  panel.KeyChangedInfo
	got   crypto.Fingerprint // the key presented, which accepting records
	typed string             // typed so far toward "accept", sanitized, at most 16 bytes
	err   string             // why the last Enter did nothing, or why recording failed
	busy  bool               // AcceptKey is running
	cause *crypto.KeyChangedError
}

// quitErr is why the run ends when the user quits with the key-changed
// dialog open (q or ctrl+c): the changed key, wrapped so the caller exits
// with its changed-key code and says why; nil when the dialog is closed.
func (s *Screen) quitErr() error {
	if s.keyChange == nil {
		return nil
	}
	return fmt.Errorf("quit at the key-changed warning, the new key not accepted: %w", s.keyChange.cause)
}

// acceptedMsg is AcceptKey's result.
type acceptedMsg struct{ err error }

// newKeyChange opens the dialog for e; accepting the new key is offered
// only if offer.
func newKeyChange(e *crypto.KeyChangedError, offer bool) *keyChange {
	info := panel.KeyChangedInfo{Peer: e.Peer, Known: e.Known.String(), Got: e.Got.String(), Path: e.Path}
	if !offer {
		info.Path = "" // accepting is not offered
	}
	return &keyChange{info: info, got: e.Got, cause: e}
}

// handleKey takes a key other than quitting. It returns the Cmd recording
// the new key once "accept" is typed and Enter pressed.
func (d *keyChange) handleKey(k tea.KeyPressMsg, accept func(crypto.Fingerprint) error) tea.Cmd {
	if d.busy || d.info.Path == "" {
		return nil
	}
	switch k.String() {
	case "enter":
		if d.typed != "accept" {
			d.err = `type the word "accept" to record the new key, or q to quit`
			return nil
		}
		d.busy = true
		got := d.got
		return func() tea.Msg { return acceptedMsg{err: accept(got)} }
	case "backspace":
		if d.typed != "" {
			d.typed = d.typed[:len(d.typed)-1]
		}
		return nil
	}
	if k.Text != "" && len(d.typed) < 16 {
		d.typed += termsafe.Sanitize(k.Text)
		d.err = ""
	}
	return nil
}

// failed shows why the new key could not be recorded; the dialog stays.
func (d *keyChange) failed(err error) {
	d.busy = false
	d.err = "could not record the new key: " + termsafe.Sanitize(err.Error())
	d.typed = ""
}

// view is the dialog's w x h rows: the warning, and the error on the last
// row when there is one. fit cuts and pads as the screen does.
func (d *keyChange) view(st *style.Styles, w, h int, fit func(s string, w, h int) []string) []string {
	if d.err == "" {
		return fit(panel.KeyChanged(st, w, h, d.info, d.typed), w, h)
	}
	rows := fit(panel.KeyChanged(st, w, h-1, d.info, d.typed), w, h-1)
	return append(rows, fit(st.FormError.Render(d.err), w, 1)...)
}
