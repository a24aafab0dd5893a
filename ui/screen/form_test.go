package screen

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/x/exp/teatest/v2"
)

func formKey(code rune) tea.KeyPressMsg { return tea.KeyPressMsg{Code: code} }

// formDrive feeds msgs to the form directly.
func formDrive(f *portForm, msgs ...tea.Msg) (quit bool) {
	for _, m := range msgs {
		_, cmd := f.Update(m)
		if cmd != nil {
			if _, ok := cmd().(tea.QuitMsg); ok {
				quit = true
			}
		}
	}
	return quit
}

// setField replaces the text of field i.
func setField(f *portForm, i int, text string) {
	for f.focus != i {
		formDrive(f, formKey(tea.KeyTab))
	}
	f.inputs[i].SetValue("")
	for _, r := range text {
		formDrive(f, tea.KeyPressMsg{Code: r, Text: string(r)})
	}
}

func TestPortFormDefaults(t *testing.T) {
	tm := teatest.NewTestModel(t, newPortForm(), teatest.WithInitialTermSize(80, 20))
	tm.Send(formKey(tea.KeyEnter))
	f := tm.FinalModel(t, teatest.WithFinalTimeout(5*time.Second)).(*portForm)
	want := PortChoice{Main: 5555, Sub: 5556, PeerHost: "127.0.0.1"}
	if !f.done || f.choice != want {
		t.Fatalf("choice %+v (done %v), want %+v", f.choice, f.done, want)
	}
}

func TestPortFormTyped(t *testing.T) {
	f := newPortForm()
	setField(f, formMain, "6000")
	setField(f, formSub, "7000")
	setField(f, formHost, "peer.example")
	formDrive(f, formKey(tea.KeyUp), tea.KeyPressMsg{Code: tea.KeyTab, Mod: tea.ModShift}) // moving around keeps values
	if !formDrive(f, formKey(tea.KeyEnter)) {
		t.Fatalf("valid form not submitted: %q", f.errs)
	}
	if want := (PortChoice{Main: 6000, Sub: 7000, PeerHost: "peer.example"}); f.choice != want {
		t.Fatalf("choice %+v, want %+v", f.choice, want)
	}
}

func TestPortFormInvalid(t *testing.T) {
	cases := []struct {
		name  string
		field int
		value string
		want  string
	}{
		{"not a number", formMain, "55a5", "not a number"},
		{"zero", formMain, "0", "out of range"},
		{"too big", formSub, "65536", "out of range"},
		{"negative", formSub, "-1", "out of range"},
		{"empty port", formMain, "", "enter a port"},
		{"empty host", formHost, "", "host name or address"},
		{"same port on loopback", formSub, "5555", "must differ"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			f := newPortForm()
			setField(f, c.field, c.value)
			if formDrive(f, formKey(tea.KeyEnter)) {
				t.Fatal("invalid form submitted")
			}
			if !strings.Contains(f.errs[c.field], c.want) {
				t.Fatalf("error under field %d = %q, want %q", c.field, f.errs[c.field], c.want)
			}
			if f.focus != c.field {
				t.Errorf("focus on %d, want the invalid field %d", f.focus, c.field)
			}
			if !strings.Contains(f.View().Content, c.want) {
				t.Errorf("the message is not on screen:\n%s", f.View().Content)
			}
			// Fixing it clears the message as one types.
			setField(f, formMain, "5555")
			setField(f, formSub, "5556")
			setField(f, formHost, "localhost")
			if f.errs != [formFields]string{} {
				t.Fatalf("errors after fixing: %q", f.errs)
			}
		})
	}
	// The same port is fine on another host.
	f := newPortForm()
	setField(f, formSub, "5555")
	setField(f, formHost, "10.0.0.2")
	if !formDrive(f, formKey(tea.KeyEnter)) {
		t.Fatalf("same ports on another host refused: %q", f.errs)
	}
}

func TestPortFormCancel(t *testing.T) {
	for _, k := range []tea.KeyPressMsg{formKey(tea.KeyEscape), {Code: 'c', Mod: tea.ModCtrl}} {
		f := newPortForm()
		if !formDrive(f, k) || !f.cancelled || f.done {
			t.Fatalf("%s: not cancelled", k)
		}
	}
}

func TestRunPortFormCancelled(t *testing.T) {
	in := strings.NewReader("\x1b") // esc
	_, err := RunPortForm(context.Background(), tea.WithInput(in), tea.WithOutput(&strings.Builder{}), tea.WithWindowSize(80, 20))
	if !errors.Is(err, ErrFormCancelled) {
		t.Fatalf("err %v, want ErrFormCancelled", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := RunPortForm(ctx, tea.WithInput(nil), tea.WithOutput(&strings.Builder{})); !errors.Is(err, context.Canceled) {
		t.Fatalf("ended ctx: err %v", err)
	}
}
