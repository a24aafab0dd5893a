package words

import (
	"fmt"
	"strings"

	"duet/crypto"
)

// HelpTitle heads the help overlay.
const HelpTitle = "duet: keys and commands"

// HelpClearHistory follows the help's command table: the one command too
// long for its columns.
const HelpClearHistory = "/clear history deletes this chat's stored history (it asks first)"

// HelpMarks ends the help: the marks beside our messages, in one row of
// the 80-column help (DeliveryMarks says it at length).
const HelpMarks = "marks: … queued · ✓ sent · ✓✓ delivered · ✔✔ read (seen, terminal focused)"

// HelpMore is the help's last row when it does not fit the terminal:
// which lines (first to last of total) are shown and how to see the rest.
func HelpMore(first, last, total int) string {
	return fmt.Sprintf("lines %d–%d of %d · ↑/↓ pgup/pgdn scroll · esc closes", first, last, total)
}

// PeerTrust is the header's word for the peer's key, naming whose key it
// is: "bob's key is new" (first contact), "bob's key changed" (a changed
// key the user accepted in this run), "bob's key known", "bob's key
// pinned", "✓ bob verified", "no key from bob yet".
func PeerTrust(peer string, level crypto.Trust, changed bool) string {
	switch level {
	case crypto.TrustUnknown:
		return "no key from " + peer + " yet"
	case crypto.TrustNew:
		if changed {
			return peer + "'s key changed"
		}
		return peer + "'s key is new"
	case crypto.TrustKnown:
		return peer + "'s key known"
	case crypto.TrustPinned:
		return peer + "'s key pinned"
	case crypto.TrustVerified:
		return "✓ " + peer + " verified"
	}
	return peer + "'s key " + clean(string(level))
}

// SessionEstablished is the chat's notice for a new session. The safety
// number is shown in full only while it is worth comparing: never for a
// peer the user verified (/verify still shows it), and not again on a
// reconnect with the same keys in this run.
func SessionEstablished(safety, previous string, verified bool) string {
	const head = "session established: end-to-end encrypted"
	switch {
	case verified:
		return head + " · key verified (/verify shows the safety number)"
	case previous == safety:
		return head + " · same keys and safety number as before (/verify shows it)"
	}
	return head + " · safety number " + safety + " · compare it with your peer: /verify"
}

// Session words of the status bar: whether a session is up.
const (
	StatusEncrypted = "encrypted"
	StatusNoSession = "no session"
	// StatusKeyRefused replaces the liveness word while the peer's key
	// is refused (it changed and was not accepted): pongs may still come,
	// but nothing is exchanged.
	StatusKeyRefused = "key refused"
)

// Fingerprint headings of /fingerprint (full screen and line mode).
const (
	YourFingerprint = "your fingerprint:"
	NotKnownYet     = "not known yet"
)

// PeerFingerprint heads the peer's fingerprint in /fingerprint.
func PeerFingerprint(peer string) string { return peer + "'s fingerprint:" }

// GroupRows lays a fingerprint or safety number out for reading aloud:
// its characters (spaces dropped) in groups of size, per groups a row, so
// no group is ever split across lines.
func GroupRows(s string, size, per int) []string {
	chars := []rune(strings.Join(strings.Fields(s), ""))
	var rows []string
	var row []string
	for i := 0; i < len(chars); i += size {
		row = append(row, string(chars[i:min(i+size, len(chars))]))
		if len(row) == per {
			rows = append(rows, strings.Join(row, " "))
			row = nil
		}
	}
	if len(row) > 0 {
		rows = append(rows, strings.Join(row, " "))
	}
	return rows
}

// LineHelp is the line mode's /help: every command it knows, one a line.
var LineHelp = []string{
	"/quit         leave (tells the peer)",
	"/verify       show the safety number to compare with the peer",
	"/fingerprint  show both fingerprints",
	"/rekey        move to fresh keys now",
	"/replay       attack demo: re-send our last record",
	"/clear        clear the stored history",
	"/help         this list",
	"//text        send a message starting with /",
}

// LineVerifyHint ends the line mode's /verify: how to compare, and where
// the peer can be marked verified.
const LineVerifyHint = "compare it with your peer over another channel (a call, in person); to mark the peer verified, run /verify in the full screen"

// NoSafetyYet is /verify's answer before any session.
const NoSafetyYet = "nothing to verify yet: no session has been established with the peer"

// Footer words of a narrow screen while no session is up: the peer does
// not answer (yet, or any more), or it answers and the handshake runs.
const (
	WaitingForPeer = "waiting for the peer"
	NoSessionYet   = "no session yet: handshake under way"
)

// KeyRefusedHint is the narrow footer while the peer's key is refused.
const KeyRefusedHint = "the peer's key is refused: f4 security log"
