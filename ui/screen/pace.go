package screen

import (
	"time"

	tea "charm.land/bubbletea/v2"
)

// frameEvery is the shortest time between two frames computed for the
// node's events. Bubble Tea v2.1.1 calls View after every Update but draws
// only on its frame ticker, 60 times a second by default (tea.go,
// eventLoop and startRenderer): a frame computed sooner than that after
// the previous one is mostly thrown away unseen, and computing it (about
// 0.6 ms at 120x40, mostly the sidebar) is what made a flood of 6,400
// messages a second slow the echo of a key press.
const frameEvery = time.Second / 60

// redrawMsg asks for the frame that paced put off.
type redrawMsg struct{}

// paced is the model Run gives Bubble Tea: the Screen, with its frames
// paced. A batch of the node's events (batchMsg) that comes less than
// frameEvery after the last computed frame is applied at once (the Screen
// state, and the Emits waiting for the pane, never wait) but its frame is
// put off: View returns the last frame, and one redrawMsg, due when
// frameEvery has passed, computes the frame that shows it. Everything else
// (a key press, a paste, the mouse, a resize, a command's result, the
// status tick) computes its frame at once, so input is never paced: a key
// press is echoed by the next frame Bubble Tea draws.
//
// Invariant: a frame put off is computed within frameEvery (the
// redrawMsg), so nothing the Screen holds stays off the terminal longer
// than that plus one of Bubble Tea's frames.
type paced struct {
	s       *Screen
	last    time.Time // when the last frame was computed
	view    tea.View  // that frame
	drawn   bool      // view holds a frame
	later   bool      // the frame of the last Update is put off
	pending bool      // a redrawMsg is on its way
	fresh   bool      // the last View computed its frame (for benchmarks)
}

func newPaced(s *Screen) *paced { return &paced{s: s} }

func (p *paced) Init() tea.Cmd { return p.s.Init() }

// Update applies msg to the Screen and decides whether its frame waits.
func (p *paced) Update(msg tea.Msg) (tea.Model, tea.Cmd) {
	if _, ok := msg.(redrawMsg); ok {
		p.pending, p.later = false, false
		return p, nil
	}
	_, cmd := p.s.Update(msg)
	p.later = false
	if _, ok := msg.(batchMsg); !ok || !p.drawn {
		return p, cmd
	}
	since := p.s.now().Sub(p.last)
	if since < 0 || since >= frameEvery {
		return p, cmd
	}
	p.later = true
	if p.pending {
		return p, cmd
	}
	p.pending = true
	redraw := tea.Tick(frameEvery-since, func(time.Time) tea.Msg { return redrawMsg{} })
	return p, tea.Batch(cmd, redraw)
}

// View returns the last frame while a batch's frame is put off, and
// computes a new one otherwise.
func (p *paced) View() tea.View {
	if p.later && p.drawn {
		p.fresh = false
		return p.view
	}
	p.view = p.s.View()
	p.last = p.s.now()
	p.drawn, p.fresh = true, true
	return p.view
}
