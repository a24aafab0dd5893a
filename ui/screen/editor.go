package screen

import (
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	tea "charm.land/bubbletea/v2"

	"duet/ui/chat"
	"duet/ui/termsafe"
)

// The editor launcher: ctrl+x ctrl+e and /edit write the draft in the
// user's editor. This file is the one place in ui that starts a process
// (a test holds every other file of ui to it).
//
// The draft may hold secrets: it is written in plaintext, briefly, to a
// file created 0600 in a fresh private directory (0700) under the system's
// temporary directory, and the directory is removed once the editor ends,
// whether it succeeded, failed or could not start. Nothing else of the
// conversation is written. The edited text replaces the draft, never sent
// by itself; one trailing newline (editors add one) is dropped. An editor
// that fails or is missing leaves the draft as it was, with a notice.

// editorMaxBytes bounds the edited text read back (a message is at most
// protocol.MaxTextSize; a larger draft is kept and refused when sent).
const editorMaxBytes = 1 << 20

// editorCommand returns the editor to run on path: $VISUAL, else $EDITOR
// (the convention: VISUAL names a full-screen editor), else vi. The value
// is split on spaces ("code --wait"), with no shell and no quoting.
func editorCommand(getenv func(string) string, path string) *exec.Cmd {
	ed := strings.TrimSpace(getenv("VISUAL"))
	if ed == "" {
		ed = strings.TrimSpace(getenv("EDITOR"))
	}
	if ed == "" {
		ed = "vi"
	}
	f := strings.Fields(ed)
	return exec.Command(f[0], append(f[1:], path)...)
}

// editorReadyMsg: the draft is in a temporary file, the editor can start.
type editorReadyMsg struct {
	dir, path string
	err       error
}

// editorDoneMsg: the editor ended (err: it failed or could not start).
type editorDoneMsg struct {
	dir, path, name string
	err             error
}

// editedMsg: the edited text read back, the temporary directory removed.
type editedMsg struct {
	text string
	err  error
}

// openEditor starts editing draft: a Cmd writes it to a private file
// (editorReadyMsg), then Update runs the editor.
func (s *Screen) openEditor(draft string) tea.Cmd {
	return func() tea.Msg {
		dir, path, err := writeDraft(draft)
		return editorReadyMsg{dir: dir, path: path, err: err}
	}
}

// writeDraft writes draft to draft.txt, created 0600 in a new 0700
// directory; on an error nothing is left behind.
func writeDraft(draft string) (dir, path string, err error) {
	dir, err = os.MkdirTemp("", "duet-edit-")
	if err != nil {
		return "", "", fmt.Errorf("temporary directory: %w", err)
	}
	path = filepath.Join(dir, "draft.txt")
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err == nil {
		_, err = io.WriteString(f, draft)
		if cerr := f.Close(); err == nil {
			err = cerr
		}
	}
	if err != nil {
		_ = os.RemoveAll(dir)
		return "", "", fmt.Errorf("temporary file: %w", err)
	}
	return dir, path, nil
}

// runEditor runs the editor on the draft's file through tea.ExecProcess
// (the terminal is handed to it and taken back).
func (s *Screen) runEditor(m editorReadyMsg) tea.Cmd {
	if m.err != nil {
		s.chat.AddNotice(chat.NoticeWarn, "cannot open the editor: "+termsafe.Sanitize(m.err.Error())+" (your draft is kept)", s.now())
		return nil
	}
	return tea.ExecProcess(s.editorExec(m))
}

// editorExec is the process runEditor starts and the callback that turns
// its end into an editorDoneMsg.
func (s *Screen) editorExec(m editorReadyMsg) (*exec.Cmd, tea.ExecCallback) {
	getenv := s.aids.getenv
	if getenv == nil {
		getenv = os.Getenv
	}
	cmd := editorCommand(getenv, m.path)
	name := filepath.Base(cmd.Path)
	return cmd, func(err error) tea.Msg {
		return editorDoneMsg{dir: m.dir, path: m.path, name: name, err: err}
	}
}

// readEdited is the Cmd after the editor: read the text back (unless the
// editor failed), then remove the directory in any case.
func readEdited(m editorDoneMsg) tea.Cmd {
	return func() tea.Msg {
		defer os.RemoveAll(m.dir)
		if m.err != nil {
			return editedMsg{err: fmt.Errorf("editor %s: %w", m.name, m.err)}
		}
		text, err := readBounded(m.path, editorMaxBytes)
		if err != nil {
			return editedMsg{err: err}
		}
		return editedMsg{text: trimOneNewline(normalizeNewlines(text))}
	}
}

// errEditedTooLong: the editor left more than editorMaxBytes.
var errEditedTooLong = errors.New("the edited text is too long")

// readBounded reads the file at path, at most limit bytes.
func readBounded(path string, limit int64) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", fmt.Errorf("reading the edited text: %w", err)
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, limit+1))
	if err != nil {
		return "", fmt.Errorf("reading the edited text: %w", err)
	}
	if int64(len(b)) > limit {
		return "", fmt.Errorf("%w (over %d KiB)", errEditedTooLong, limit>>10)
	}
	return string(b), nil
}

// trimOneNewline drops one trailing newline.
func trimOneNewline(t string) string {
	return strings.TrimSuffix(t, "\n")
}

// handleEdited puts the edited text in the input, or says why not (the
// draft is then kept).
func (s *Screen) handleEdited(m editedMsg) {
	if m.err != nil {
		s.chat.AddNotice(chat.NoticeWarn, "editor: "+termsafe.Sanitize(m.err.Error())+" (your draft is kept)", s.now())
		return
	}
	s.setDraft(m.text)
}

// editorKey takes ctrl+x ctrl+e: after ctrl+x, the next key is ctrl+e
// (edit the draft) or ends the chord and is handled as usual. It reports
// whether k was taken.
func (s *Screen) editorKey(k tea.KeyPressMsg) (tea.Cmd, bool) {
	if s.aids.chord {
		s.aids.chord = false
		if k.String() == "ctrl+e" {
			return s.openEditor(s.input.Value()), true
		}
		return nil, false
	}
	if k.String() == "ctrl+x" {
		s.aids.chord = true
		return nil, true
	}
	return nil, false
}
