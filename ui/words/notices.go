package words

import (
	"fmt"
	"time"
)

// Pending says what the messages above or below it (where) are: shown of
// total from an earlier run, not delivered yet. The screen shows it above
// them, the line mode below.
func Pending(shown, total int, where string) string {
	what, it := fmt.Sprintf("the message %s, from an earlier run, is not delivered yet", where), "it"
	if total > 1 {
		it = "them"
		what = fmt.Sprintf("the %d messages %s, from an earlier run, are not delivered yet", total, where)
	}
	if shown < total {
		what = fmt.Sprintf("the newest %d of %d messages from an earlier run (%s) are not delivered yet", shown, total, where)
	}
	return what + ": duet sends " + it + " when the peer is back"
}

// DiskFull says that the database's disk is full (detail: the error, which
// names the database, the file system to free space on, and the system's
// reason) and what duet does meanwhile.
func DiskFull(detail string) string {
	return "disk full: " + detail + ". Meanwhile received messages wait unshown (the peer keeps resending them) and lines you type are kept in memory, marked \"" + NotSaved + "\"; duet checks twice a second and resumes by itself"
}

// DiskRoom says that the disk has room again.
const DiskRoom = "the disk has room again: what waited is saved; messages are shown and sent again"

// NotSaved marks a line typed while the disk is full: in memory only.
const NotSaved = "not saved"

// NotSavedLine explains the mark on one line.
const NotSavedLine = NotSaved + " (disk full): kept in memory, saved and sent once there is room; lost if duet stops before"

// Saved says that a line typed while the disk was full is saved now.
const Saved = "saved (it was typed while the disk was full); sending"

// QuitUnsaved warns that quitting now loses n lines typed while the disk
// was full (again: what quits anyway).
func QuitUnsaved(n int, again string) string {
	what := "1 line you typed is"
	if n != 1 {
		what = fmt.Sprintf("%d lines you typed are", n)
	}
	return what + " " + NotSaved + " (the disk is full) and would be lost: free space and wait for \"saved\", or " + again + " to quit and lose them"
}

// LostUnsaved says that n lines typed while the disk was full were lost
// (the input ended before there was room).
func LostUnsaved(n int) string {
	if n == 1 {
		return "1 line typed while the disk was full was never saved and is lost (the input ended before there was room)"
	}
	return fmt.Sprintf("%d lines typed while the disk was full were never saved and are lost (the input ended before there was room)", n)
}

// PeerClockSays marks a peer's message shown at its arrival time because
// the time it carries is implausible (protocol.MessageEvent's
// ClockImplausible): "(peer's clock says 2200-01-01 00:00)", the claimed
// time in t's location. ASCII only.
func PeerClockSays(t time.Time) string {
	return "(peer's clock says " + t.Format("2006-01-02 15:04") + ")"
}

// DraftCleared is said when ctrl+c clears a draft instead of quitting.
const DraftCleared = "draft cleared (↑ brings it back); ctrl+c again quits"

// Words of /clear and /clear history.
const (
	ScreenCleared    = "screen cleared (the stored history is kept: /clear history deletes it)"
	AskClearHistory  = "delete the stored history of this conversation? (the peer keeps theirs) y/N"
	HistoryKept      = "stored history kept"
	NoHistoryToClear = "no stored history to delete (--ephemeral keeps nothing on disk)"
)

// LinesClear is the line mode's /clear: it cannot take back what it
// printed.
const LinesClear = "/clear: the line mode cannot take back what it printed; /clear history deletes the stored history (it asks first)"
