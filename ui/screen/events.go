package screen

import (
	"fmt"
	"time"

	tea "charm.land/bubbletea/v2"

	"duet/crypto"
	"duet/protocol"
	"duet/ui/chat"
	"duet/ui/termsafe"
	"duet/ui/words"
)

// rejectLimit bounds the rejection notices in the chat to
// rejectNoticesPerSecond a second during a flood; the security log keeps
// them all.
type rejectLimit struct {
	window time.Time // start of the current one-second window
	shown  int       // notices shown in it
	hidden int       // rejections held back in it, summed up when it ends
}

// handleDropped reports the rejections the sink dropped during a flood.
func (s *Screen) handleDropped(m droppedMsg) {
	if m.Rejections > 0 {
		text := fmt.Sprintf("%d more rejections not shown: events came faster than the screen could take them", m.Rejections)
		s.seclog.Note(text, s.now())
		s.chat.AddNotice(chat.NoticeWarn, text, s.now())
	}
}

// handleEvent applies one protocol event to the components.
func (s *Screen) handleEvent(m eventMsg) tea.Cmd {
	now := s.now()
	switch e := m.ev.(type) {
	case protocol.MessageEvent:
		at := e.ShownAt
		if at.IsZero() { // an event made without it: as before
			at = e.SentAt
		}
		if at.IsZero() {
			at = now
		}
		var announce tea.Cmd
		if s.showPeer(e, at) { // no second row for an id already shown
			s.gapFilled(e, now)
			announce = s.peerArrived(e, now) // attention.go
		}
		// The message is in the pane: release Emit (the node then records
		// it seen and acknowledges it), from a Cmd run after this Update.
		done := m.shown
		if done == nil {
			return announce
		}
		return tea.Batch(func() tea.Msg {
			close(done)
			return nil
		}, announce)
	case protocol.LiveEvent:
		s.status.Live(e, now)
		s.hs.Live(e, now)
	case protocol.HandshakeEvent:
		if !s.hs.Active(now) {
			s.panels.hsDismissed = false // a new attempt shows the panel again
		}
		s.hs.Step(e, now)
	case protocol.SessionEvent:
		s.hs.Session(e, now)
		s.status.Session(e, now)
		if e.State == protocol.SessionRekeyed {
			s.panels.hsDismissed = false // a rekey shows the panel again
		}
		s.handleSession(e, now)
	case protocol.TypingEvent, protocol.ReadEvent:
		s.handleCourtesy(e) // receipts.go
	case protocol.SentEvent:
		s.chat.SetDelivery(e.ID, chat.Sent)
	case protocol.DeliveredEvent:
		s.chat.SetDelivery(e.ID, chat.Delivered)
	case protocol.GapEvent:
		s.gap(e, now)
	case protocol.RejectedEvent:
		s.seclog.Rejected(e, now)
		s.status.Rejected(e)
		s.rejectNotice(e, now)
	case protocol.ReplayedEvent:
		text := words.Replayed(protocol.TypeName(e.Type), e.Seq, e.HasSeq, e.EarlierSession)
		s.seclog.Action(text, now)
		s.chat.AddNotice(chat.NoticeInfo, text, now)
	case protocol.StalledEvent:
		s.hs.Stalled(e, now)
		s.panels.hsDismissed = false
		s.chat.AddNotice(chat.NoticeWarn, fmt.Sprintf(
			"handshake stalled: %d attempts in %s, furthest step %d (%s); the peer answers but may refuse our key (it recorded another key for us, or pins another fingerprint)",
			e.Attempts, e.For.Round(time.Second), e.LastStep, protocol.StepName(e.LastStep)), now)
	case protocol.ErrorEvent:
		s.chat.AddNotice(chat.NoticeWarn, "error: "+termsafe.Sanitize(errText(e.Err)), now)
	case protocol.DiskEvent:
		if e.Full {
			s.chat.AddNotice(chat.NoticeWarn, termsafe.Sanitize(words.DiskFull(errText(e.Err))), now)
		} else {
			s.chat.AddNotice(chat.NoticeInfo, words.DiskRoom, now)
		}
	case protocol.SavedEvent:
		s.chat.AddNotice(chat.NoticeInfo, words.Saved, now)
	case protocol.PeerKeyEvent:
		s.handlePeerKey(e, now)
	}
	return nil
}

// handlePeerKey shows key pinning's verdict: the trust of a key that
// passed (and, once, that it is our own key), or the key-changed dialog
// for a changed key while no session is up. Once a session is up another
// key is only a rejected attempt (the rejection is shown): anyone can hold
// a key, and must not be able to cover a verified conversation with a
// dialog.
func (s *Screen) handlePeerKey(e protocol.PeerKeyEvent, now time.Time) {
	if e.Changed != nil {
		if !e.SessionUp {
			s.status.KeyRefused()
			s.keyChange = newKeyChange(e.Changed, s.cfg.AcceptKey != nil)
			s.panels.overlay = overlayNone
		}
		return
	}
	s.setTrust(e.Trust, e.Fingerprint.String())
	if e.OwnKey && !s.ownKeyWarned {
		s.ownKeyWarned = true
		s.chat.AddNotice(chat.NoticeWarn, words.OwnKey, now)
	}
}

func (s *Screen) handleSession(e protocol.SessionEvent, now time.Time) {
	switch e.State {
	case protocol.SessionEstablished:
		s.encrypted = true
		prev := s.safety
		s.safety = termsafe.Sanitize(e.SafetyNumber)
		if e.PeerFingerprint != "" {
			s.peerFP = termsafe.Sanitize(e.PeerFingerprint)
			s.chat.SetPeer(chat.Person{Name: s.peerName, StableID: s.peerFP})
		}
		s.chat.AddNotice(chat.NoticeInfo, words.SessionEstablished(s.safety, prev, s.trust == crypto.TrustVerified), now)
	case protocol.SessionRekeyed:
		s.rekeyNotice(e, now)
	case protocol.SessionPeerLeft:
		s.encrypted = false
		s.chat.AddNotice(chat.NoticeInfo, fmt.Sprintf("peer left: %s quit; a new session starts if they come back", s.peerName), now)
	case protocol.SessionClosed:
		s.encrypted = false
		s.chat.AddNotice(chat.NoticeWarn, "session closed: messages wait until a new session is established", now)
	}
	s.headerChanged()
}

// rekeyNotice reports a rekey. A healing renews both directions, which
// the node reports one at a time; when the second follows the first with
// nothing in between, its row replaces the first's ("both directions"),
// so one healing is one row.
func (s *Screen) rekeyNotice(e protocol.SessionEvent, now time.Time) {
	const text = "keys renewed (rekey): later messages use fresh keys"
	var o string // the other half's direction
	switch e.Direction {
	case protocol.DirectionSend:
		o = protocol.DirectionReceive
	case protocol.DirectionReceive:
		o = protocol.DirectionSend
	}
	if o == "" || e.KeyExchange == "" {
		s.chat.AddNotice(chat.NoticeInfo, text+healedNote(e, e.Direction), now)
		return
	}
	key := func(d string) string { return fmt.Sprintf("healed %d %s", e.Epoch, d) }
	if s.chat.Merge(key(o), key(""), text+healedNote(e, ""), now) {
		return
	}
	s.chat.AddFoldable(chat.NoticeInfo, key(e.Direction), text+healedNote(e, e.Direction), now)
}

// healedNote says what a rekey mixed in, when its event says so: "
// · healed: fresh X25519 + ML-KEM-768, our direction, epoch 2"; dir ""
// is "both directions".
func healedNote(e protocol.SessionEvent, dir string) string {
	if e.KeyExchange == "" {
		return ""
	}
	s := " · healed: fresh " + termsafe.Sanitize(e.KeyExchange)
	switch dir {
	case protocol.DirectionSend:
		s += ", our direction"
	case protocol.DirectionReceive:
		s += ", the peer's direction"
	case "":
		s += ", both directions"
	}
	if e.Epoch > 0 {
		s += fmt.Sprintf(", epoch %d", e.Epoch)
	}
	return s
}

// rejectNotice puts a rejection in the chat: a repeat of the rejection
// just before it (same reason, nothing in between) is counted into that
// row ("×5", updated in place, as the security log folds); other rows come
// at most rejectNoticesPerSecond a second, the rest counted and summed up.
func (s *Screen) rejectNotice(e protocol.RejectedEvent, now time.Time) {
	text := "rejected " + termsafe.Sanitize(e.Reason)
	if e.HasSeq {
		text += fmt.Sprintf(" seq %d", e.Seq)
	}
	text += ": " + termsafe.Sanitize(words.Reason(e.Reason))
	key := "rejected " + e.Reason
	if s.rejects.hidden == 0 && s.chat.Fold(key, text, now) {
		return // (a row held back in between would end the fold)
	}
	s.flushRejections(now, false)
	if s.rejects.shown >= rejectNoticesPerSecond {
		s.rejects.hidden++
		return
	}
	s.rejects.shown++
	s.chat.AddFoldable(chat.NoticeWarn, key, text, now)
}

// flushRejections starts a new one-second window of rejection notices,
// first reporting how many the last one held back.
func (s *Screen) flushRejections(now time.Time, force bool) {
	if !force && now.Sub(s.rejects.window) < time.Second {
		return
	}
	if s.rejects.hidden > 0 {
		text := fmt.Sprintf("%d more rejections not shown (all are in the security log)", s.rejects.hidden)
		s.chat.AddNotice(chat.NoticeWarn, text, now)
	}
	s.rejects.window, s.rejects.shown, s.rejects.hidden = now, 0, 0
}
