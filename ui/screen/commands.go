package screen

import (
	"fmt"
	"strings"

	tea "charm.land/bubbletea/v2"

	"duet/ui/chat"
	"duet/ui/termsafe"
)

// commandList is the list the unknown-command notice gives.
func (s *Screen) commandList() string {
	names := make([]string, 0, len(commands)+len(s.cfg.Extra))
	for _, c := range commands {
		if c.name != "//text" {
			names = append(names, c.name)
		}
	}
	for _, c := range s.cfg.Extra {
		names = append(names, c.Name)
	}
	return strings.Join(names, ", ")
}

// command runs a slash command. Nothing typed as a command is ever sent.
func (s *Screen) command(line string) tea.Cmd {
	name := strings.Fields(line)[0]
	now := s.now()
	sess := s.cfg.Node
	switch name {
	case "/help":
		s.panels.overlay = overlayHelp
	case "/quit":
		return s.quit()
	case "/verify":
		if s.safety == "" {
			s.chat.AddNotice(chat.NoticeInfo, "nothing to verify yet: no session has been established with the peer", now)
			return nil
		}
		s.panels.overlay = overlayVerify
	case "/fingerprint":
		s.chat.AddNotice(chat.NoticeInfo, s.fingerprintNotice(), now)
	case "/replay":
		if sess == nil {
			return nil
		}
		return func() tea.Msg { return actionResultMsg{what: "/replay", err: sess.Replay()} }
	case "/rekey":
		if sess == nil {
			return nil
		}
		return func() tea.Msg { return actionResultMsg{what: "/rekey", err: sess.Rekey()} }
	case "/copy":
		return s.copyCommand(strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(line), name)))
	case "/search":
		return s.startSearch(strings.TrimPrefix(line, name))
	case "/edit":
		return s.openEditor(strings.TrimSpace(strings.TrimPrefix(line, name)))
	case "/clear":
		if strings.TrimSpace(strings.TrimPrefix(line, name)) == "history" {
			return s.askClearHistory()
		}
		s.clearScreen()
	default:
		for _, c := range s.cfg.Extra {
			if c.Name == name {
				run, args := c.Run, strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(line), name))
				return func() tea.Msg {
					notice, err := run(args)
					return extraResultMsg{what: name, notice: notice, err: err}
				}
			}
		}
		s.chat.AddNotice(chat.NoticeInfo, fmt.Sprintf("unknown command %s (not sent): commands are %s; start a message with // to send a leading /",
			termsafe.Sanitize(snippet(name, 40)), s.commandList()), now)
	}
	return nil
}

func (s *Screen) confirmVerify() tea.Cmd {
	mark := s.cfg.MarkVerified
	if mark == nil {
		s.chat.AddNotice(chat.NoticeInfo, "this peer cannot be marked verified here (its key is pinned, or the run keeps no known_peers)", s.now())
		return nil
	}
	fp := s.peerFP
	return func() tea.Msg {
		return verifiedMsg{err: mark(), fp: fp}
	}
}
