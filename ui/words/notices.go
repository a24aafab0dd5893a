package words

import "fmt"

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
