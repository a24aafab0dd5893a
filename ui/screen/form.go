package screen

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"

	"charm.land/bubbles/v2/key"
	"charm.land/bubbles/v2/textinput"
	tea "charm.land/bubbletea/v2"
	"charm.land/lipgloss/v2"

	"duet/ui/style"
)

// PortChoice is what the port form returns.
type PortChoice struct {
	Main, Sub int
	PeerHost  string
}

// ErrFormCancelled is returned by RunPortForm when the user pressed esc or
// ctrl+c.
var ErrFormCancelled = errors.New("ui: port form cancelled")

// Defaults of the port form.
const (
	DefaultMainPort = 5555
	DefaultSubPort  = 5556
	DefaultPeerHost = "127.0.0.1"
)

const (
	formMain = iota
	formSub
	formHost
	formFields
)

// formKeys are the form's key bindings.
type formKeys struct {
	Next, Prev, Submit, Cancel key.Binding
}

func defaultFormKeys() formKeys {
	return formKeys{
		Next:   key.NewBinding(key.WithKeys("tab", "down"), key.WithHelp("tab/↓", "next field")),
		Prev:   key.NewBinding(key.WithKeys("shift+tab", "up"), key.WithHelp("shift+tab/↑", "previous field")),
		Submit: key.NewBinding(key.WithKeys("enter"), key.WithHelp("enter", "connect")),
		Cancel: key.NewBinding(key.WithKeys("esc", "ctrl+c"), key.WithHelp("esc", "cancel")),
	}
}

// portForm asks for the ports and the peer's host when duet is started in a
// terminal without --main/--sub.
type portForm struct {
	st        *style.Styles
	keys      formKeys
	inputs    [formFields]textinput.Model
	errs      [formFields]string
	focus     int
	tried     bool // Enter was pressed once: errors now follow the typing
	done      bool
	cancelled bool
	choice    PortChoice
	width     int
}

var formLabels = [formFields]string{"Your port", "Peer's port", "Peer host"}
var formHints = [formFields]string{
	"this side listens here (1-65535)",
	"the port the peer listens on",
	"the peer's address; 127.0.0.1 for this machine",
}

func newPortForm() *portForm {
	st := style.DefaultStyles()
	f := &portForm{st: &st, keys: defaultFormKeys(), width: 60}
	defaults := [formFields]string{strconv.Itoa(DefaultMainPort), strconv.Itoa(DefaultSubPort), DefaultPeerHost}
	state := textinput.StyleState{Text: lipgloss.NewStyle(), Placeholder: st.Dim, Suggestion: st.Dim, Prompt: st.InputPrompt}
	for i := range f.inputs {
		ti := textinput.New()
		ti.Prompt = "› "
		ti.CharLimit = 253 // the longest DNS name
		ti.SetVirtualCursor(false)
		ti.SetStyles(textinput.Styles{Focused: state, Blurred: state, Cursor: textinput.CursorStyle{Shape: tea.CursorBar}})
		ti.SetWidth(40)
		ti.SetValue(defaults[i])
		f.inputs[i] = ti
	}
	f.inputs[0].Focus()
	return f
}

func (f *portForm) Init() tea.Cmd { return nil }

func (f *portForm) setFocus(i int) {
	f.inputs[f.focus].Blur()
	f.focus = (i + formFields) % formFields
	f.inputs[f.focus].Focus()
	f.inputs[f.focus].CursorEnd()
}

// isLoopback reports whether host names this machine.
func isLoopback(host string) bool {
	h := strings.ToLower(strings.Trim(host, "[]"))
	if h == "localhost" || strings.HasSuffix(h, ".localhost") {
		return true
	}
	ip := net.ParseIP(h)
	return ip != nil && ip.IsLoopback()
}

func parsePort(s string) (int, string) {
	s = strings.TrimSpace(s)
	if s == "" {
		return 0, "enter a port number from 1 to 65535"
	}
	n, err := strconv.Atoi(s)
	if err != nil {
		return 0, fmt.Sprintf("%q is not a number: enter a port from 1 to 65535", snippet(s, 20))
	}
	if n < 1 || n > 65535 {
		return 0, fmt.Sprintf("%d is out of range: a port is 1 to 65535", n)
	}
	return n, ""
}

// validate checks every field, fills f.errs and reports the choice.
func (f *portForm) validate() (PortChoice, bool) {
	var c PortChoice
	var e [formFields]string
	c.Main, e[formMain] = parsePort(f.inputs[formMain].Value())
	c.Sub, e[formSub] = parsePort(f.inputs[formSub].Value())
	c.PeerHost = strings.TrimSpace(f.inputs[formHost].Value())
	switch {
	case c.PeerHost == "":
		e[formHost] = "enter the peer's host name or address (127.0.0.1 for this machine)"
	case strings.ContainsAny(c.PeerHost, " \t/"):
		e[formHost] = "a host name or address has no spaces or slashes"
	}
	if e[formMain] == "" && e[formSub] == "" && e[formHost] == "" && c.Main == c.Sub && isLoopback(c.PeerHost) {
		e[formSub] = fmt.Sprintf("the peer is on this machine: its port must differ from yours (%d)", c.Main)
	}
	f.errs = e
	for _, s := range e {
		if s != "" {
			return c, false
		}
	}
	return c, true
}

func (f *portForm) Update(msg tea.Msg) (tea.Model, tea.Cmd) {
	switch m := msg.(type) {
	case tea.WindowSizeMsg:
		f.width = m.Width
		return f, nil
	case tea.KeyPressMsg:
		switch {
		case key.Matches(m, f.keys.Cancel):
			f.cancelled = true
			return f, tea.Quit
		case key.Matches(m, f.keys.Submit):
			f.tried = true
			c, ok := f.validate()
			if !ok {
				for i, e := range f.errs {
					if e != "" {
						f.setFocus(i)
						break
					}
				}
				return f, nil
			}
			f.choice, f.done = c, true
			return f, tea.Quit
		case key.Matches(m, f.keys.Next):
			f.setFocus(f.focus + 1)
			return f, nil
		case key.Matches(m, f.keys.Prev):
			f.setFocus(f.focus - 1)
			return f, nil
		}
	}
	var cmd tea.Cmd
	f.inputs[f.focus], cmd = f.inputs[f.focus].Update(msg)
	if f.tried {
		f.validate()
	}
	return f, cmd
}

func (f *portForm) View() tea.View {
	var b strings.Builder
	row := 0
	line := func(s string) {
		b.WriteString(s)
		b.WriteByte('\n')
		row++
	}
	line(f.st.PanelTitle.Render("duet: where is your peer?"))
	line("")
	var cur *tea.Cursor
	for i := range f.inputs {
		line(f.st.FormLabel.Render(formLabels[i]) + "  " + f.st.Dim.Render(formHints[i]))
		if i == f.focus {
			if c := f.inputs[i].Cursor(); c != nil {
				c.Y += row
				cur = c
			}
		}
		line(f.inputs[i].View())
		if f.errs[i] != "" {
			line(f.st.FormError.Render("  ✗ " + f.errs[i]))
		} else {
			line("")
		}
	}
	b.WriteString(f.st.Dim.Render("tab/↓ next · shift+tab/↑ back · enter connect · esc cancel"))
	v := tea.NewView(b.String())
	v.Cursor = cur
	return v
}

// RunPortForm asks for the ports and peer host (defaults 5555, 5556,
// 127.0.0.1). It returns ErrFormCancelled on esc or ctrl+c, and ctx's cause
// if ctx ends first.
func RunPortForm(ctx context.Context, opts ...tea.ProgramOption) (PortChoice, error) {
	f := newPortForm()
	opts = append([]tea.ProgramOption{tea.WithContext(ctx)}, opts...)
	m, err := tea.NewProgram(f, opts...).Run()
	if ctx.Err() != nil {
		return PortChoice{}, context.Cause(ctx)
	}
	if err != nil {
		return PortChoice{}, err
	}
	f, _ = m.(*portForm)
	if f == nil || !f.done {
		return PortChoice{}, ErrFormCancelled
	}
	return f.choice, nil
}
