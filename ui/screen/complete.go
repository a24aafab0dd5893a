package screen

import (
	"strings"

	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"
)

// completion is tab completion of slash commands in the input: a draft
// that is a command being typed ("/re") completes to the one command it
// starts, or to the longest prefix the candidates share; when that adds
// nothing, tab cycles through the candidates (shift+tab backwards) and the
// separator lists them. Any other key ends the cycle. Tab on any other
// draft (a message, several lines, a command with its arguments) does
// nothing: it never inserts a tab or changes the text.
type completion struct {
	cands []string // the candidates of the cycle; nil: no cycle
	idx   int      // the one in the input; -1: none yet
}

// argCommands take an argument: their completion ends with a space.
var argCommands = map[string]bool{"/search": true, "/edit": true}

// candidates returns the completions of draft: duet's commands (and
// "/clear history"), then the front end's extra ones, that start with it.
func (s *Screen) candidates(draft string) []string {
	var all []string
	for _, c := range commands {
		if !strings.HasPrefix(c.name, "//") {
			all = append(all, c.name)
		}
		if c.name == "/clear" {
			all = append(all, "/clear history")
		}
	}
	for _, c := range s.cfg.Extra {
		all = append(all, c.Name)
	}
	var out []string
	for _, c := range all {
		if strings.HasPrefix(c, strings.ToLower(draft)) {
			out = append(out, c)
		}
	}
	return out
}

// completable reports whether tab may complete draft: one line starting
// with a single / (not //, which sends a leading /).
func completable(draft string) bool {
	return strings.HasPrefix(draft, "/") && !strings.HasPrefix(draft, "//") && !strings.ContainsAny(draft, "\n\t")
}

// completeKey takes tab and shift+tab; it reports whether k was one. Any
// other key ends a cycle.
func (s *Screen) completeKey(k tea.KeyPressMsg) (tea.Cmd, bool) {
	dir := 0
	switch {
	case key.Matches(k, s.keys.Complete):
		dir = +1
	case key.Matches(k, s.keys.CompleteBack):
		dir = -1
	default:
		s.aids.compl = completion{}
		return nil, false
	}
	s.complete(dir)
	return nil, true
}

// complete is one tab (dir +1) or shift+tab (-1).
func (s *Screen) complete(dir int) {
	c := &s.aids.compl
	draft := s.input.Value()
	if c.cands != nil && c.idx >= 0 && draft == c.cands[c.idx] {
		c.idx = (c.idx + dir + len(c.cands)) % len(c.cands)
		s.setDraft(c.cands[c.idx])
		return
	}
	*c = completion{}
	if !completable(draft) {
		return
	}
	cands := s.candidates(strings.TrimRight(draft, " "))
	switch len(cands) {
	case 0:
		return
	case 1:
		s.setDraft(s.completed(cands[0]))
		return
	}
	if p := commonPrefix(cands); len(p) > len(draft) {
		s.setDraft(p)
		return
	}
	c.cands, c.idx = cands, -1
	for i, cand := range cands {
		if cand == draft {
			c.idx = i
		}
	}
	if c.idx < 0 && dir < 0 {
		c.idx = 0
	}
	c.idx = (c.idx + dir + len(cands)) % len(cands)
	s.setDraft(c.cands[c.idx])
}

// completed is the text a unique completion puts in the input: a command
// that takes an argument (the front end's extra ones may) is followed by a
// space.
func (s *Screen) completed(cmd string) string {
	if argCommands[cmd] {
		return cmd + " "
	}
	for _, c := range s.cfg.Extra {
		if c.Name == cmd {
			return cmd + " "
		}
	}
	return cmd
}

// commonPrefix is the longest prefix of all of cands (ASCII names).
func commonPrefix(cands []string) string {
	p := cands[0]
	for _, c := range cands[1:] {
		for !strings.HasPrefix(c, p) {
			p = p[:len(p)-1]
		}
	}
	return p
}

// setDraft replaces the input's text, the cursor at its end.
func (s *Screen) setDraft(text string) {
	s.input.SetValue(text)
	s.input.MoveToEnd()
	s.fitInput()
}

// completionHint is the separator's label while tab cycles: the
// candidates, the one in the input marked.
func (s *Screen) completionHint(room int) string {
	c := &s.aids.compl
	parts := make([]string, len(c.cands))
	for i, cand := range c.cands {
		parts[i] = cand
		if i == c.idx {
			parts[i] = "[" + cand + "]"
		}
	}
	return hintFit([]string{strings.Join(parts, " "), "tab next"}, []int{1}, room)
}
