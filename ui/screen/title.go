package screen

import (
	"bytes"
	"io"
	"os"
	"strconv"
	"sync"

	"duet/ui/termsafe"
)

// windowTitle is the window title: "duet — bob", led by the count of the
// peer's messages not seen yet, "(3) duet — bob", whenever there are some
// (they arrived while the terminal was unfocused or the pane scrolled up;
// chat.Pane.Unread), as browsers and chat clients do so that the count
// shows in a shortened tab or taskbar title. It goes through the sanitizer
// policy of every escape sequence's text (termsafe.InSequence, as
// termsafe.Title): Bubble Tea writes it inside OSC 2.
func (s *Screen) windowTitle() string {
	t := "duet — " + s.peerName
	if n := s.chat.Unread(); n > 0 {
		t = "(" + strconv.Itoa(n) + ") " + t
	}
	return termsafe.InSequence(t, termsafe.MaxTitle)
}

// Window title sequences: OSC 2 sets the title (Bubble Tea's renderer
// writes it for View.WindowTitle, and an empty one at exit); XTWINOPS 22;0
// pushes the title in use on the terminal's title stack and 23;0 pops it.
var (
	oscTitle   = []byte("\x1b]2;")
	blankTitle = []byte("\x1b]2;\x07")
)

const (
	pushTitle = "\x1b[22;0t"
	popTitle  = "\x1b[23;0t"
)

// KeepTitle wraps the terminal output of a program showing the Screen so
// that the window title in use before duet is restored on exit instead of
// blanked: the title is pushed on the terminal's title stack just before
// duet first sets its own, and Bubble Tea's blank title at exit is replaced
// by a pop. Terminals without a title stack ignore both (and then show a
// blank title, as before). An *os.File stays one (with Fd), so that the
// program still finds the terminal.
func KeepTitle(w io.Writer) io.Writer {
	k := &titleKeeper{w: w}
	if f, ok := w.(*os.File); ok {
		return &titleFile{File: f, k: k}
	}
	return k
}

// titleKeeper rewrites the title sequences written through it. Bubble Tea
// writes from more than one goroutine: pushed is guarded by mu.
type titleKeeper struct {
	w      io.Writer
	mu     sync.Mutex
	pushed bool // a push is on the terminal's stack, not popped yet
}

// Write writes p with its title sequences rewritten; it reports len(p).
func (k *titleKeeper) Write(p []byte) (int, error) {
	if !bytes.Contains(p, oscTitle) {
		return k.w.Write(p)
	}
	k.mu.Lock()
	out := k.rewrite(p)
	k.mu.Unlock()
	if _, err := k.w.Write(out); err != nil {
		return 0, err
	}
	return len(p), nil
}

// rewrite puts a push before the first title set, and a pop in place of
// the blank title that follows it.
func (k *titleKeeper) rewrite(p []byte) []byte {
	var b bytes.Buffer
	for {
		i := bytes.Index(p, oscTitle)
		if i < 0 {
			b.Write(p)
			return b.Bytes()
		}
		b.Write(p[:i])
		p = p[i:]
		switch {
		case bytes.HasPrefix(p, blankTitle) && k.pushed:
			b.WriteString(popTitle)
			k.pushed = false
			p = p[len(blankTitle):]
			continue
		case !bytes.HasPrefix(p, blankTitle) && !k.pushed:
			b.WriteString(pushTitle)
			k.pushed = true
		}
		b.Write(oscTitle)
		p = p[len(oscTitle):]
	}
}

// titleFile is KeepTitle's wrapper of a file: the file's methods, with
// Write rewritten.
type titleFile struct {
	*os.File
	k *titleKeeper
}

func (f *titleFile) Write(p []byte) (int, error) { return f.k.Write(p) }

func (f *titleFile) WriteString(s string) (int, error) { return f.k.Write([]byte(s)) }
