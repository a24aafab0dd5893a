package screen

// recallMax bounds the recalled inputs.
const recallMax = 500

// recall is input recall, as a shell's history: the messages and commands
// entered, walked with up (older) on the input's first row and down
// (newer) on its last; past the newest, the walk goes back to the draft it
// started from. (The stored chat history is paging, in history.go.)
type recall struct {
	entries []string // oldest first, at most recallMax, no two equal in a row
	idx     int      // the entry shown; -1: not walking
	draft   string   // the input when the walk started
}

// walking reports whether an entry (not the draft) is in the input.
func (r *recall) walking() bool { return r.idx >= 0 }

// move walks dir (-1 older, +1 newer) from the input's text current. It
// returns the text to put in the input, or false when there is nothing
// further that way.
func (r *recall) move(dir int, current string) (string, bool) {
	if r.idx < 0 {
		if dir > 0 {
			return "", false
		}
		r.draft = current
		r.idx = len(r.entries)
	}
	next := r.idx + dir
	switch {
	case next < 0:
		return "", false
	case next >= len(r.entries):
		text := r.draft
		r.idx, r.draft = -1, ""
		return text, true
	}
	r.idx = next
	return r.entries[next], true
}

// remember adds an entered text (unless it repeats the last one) and ends
// any walk.
func (r *recall) remember(text string) {
	r.add(text)
	r.idx, r.draft = -1, ""
}

// add appends text as the newest entry unless it repeats the last one,
// keeping at most recallMax.
func (r *recall) add(text string) {
	if n := len(r.entries); n == 0 || r.entries[n-1] != text {
		r.entries = append(r.entries, text)
		if len(r.entries) > recallMax {
			r.entries = append([]string(nil), r.entries[len(r.entries)-recallMax:]...)
		}
	}
}
