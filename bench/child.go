package bench

// One process of duet bench --processes: started with os/exec, its stdout
// read line by line for the few events the bench counts (a fixed byte
// string each, no JSON decoding on the hot path), its stderr and last
// lines kept to explain a failure.

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// child is one running process. A reader goroutine consumes its stdout
// and keeps counts; the hot path looks for fixed byte strings only.
type child struct {
	name      string
	raw       bool // a raw peer: "ready" first, then one payload per line
	cmd       *exec.Cmd
	in        io.WriteCloser
	bw        *bufio.Writer // stdin, buffered
	startedAt time.Time
	stderr    tailBuffer
	exited    chan struct{}
	waitErr   error // valid once exited is closed

	ready     atomic.Bool
	msgs      atomic.Int64 // message events (raw: payload lines)
	target    atomic.Int64 // when msgs reaches it, doneAt is set
	doneAt    atomic.Int64 // unix ns
	delivered atomic.Int64
	sessions  atomic.Int64 // session established events
	sessionAt atomic.Int64 // unix ns of the last one
	lat       atomic.Pointer[chan latArrival]

	mu   sync.Mutex
	tail []string // the last lines that are not messages or per-message events
}

func startChild(exe, name string, raw bool, args []string) (*child, error) {
	c := &child{name: name, raw: raw, exited: make(chan struct{})}
	c.cmd = exec.Command(exe, args...)
	c.cmd.Stderr = &c.stderr
	stdout, err := c.cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if c.in, err = c.cmd.StdinPipe(); err != nil {
		return nil, err
	}
	c.bw = bufio.NewWriterSize(c.in, 64<<10)
	c.startedAt = time.Now()
	if err := c.cmd.Start(); err != nil {
		return nil, fmt.Errorf("starting %s: %w", name, err)
	}
	readDone := make(chan struct{})
	go func() {
		defer close(readDone)
		c.read(stdout)
	}()
	go func() {
		<-readDone
		c.waitErr = c.cmd.Wait()
		close(c.exited)
	}()
	return c, nil
}

// kill kills the process (SIGKILL) and waits until it is reaped.
func (c *child) kill() {
	c.cmd.Process.Kill()
	c.in.Close()
	select {
	case <-c.exited:
	case <-time.After(10 * time.Second):
	}
}

var (
	evMessage     = []byte(`"event":"message"`)
	evDelivered   = []byte(`"event":"delivered"`)
	evQueued      = []byte(`"event":"queued"`)
	evSent        = []byte(`"event":"sent"`)
	evLive        = []byte(`"event":"live"`)
	evSession     = []byte(`"event":"session"`)
	evReady       = []byte(`"event":"ready"`)
	stEstablished = []byte(`"state":"established"`)
)

func (c *child) read(r io.Reader) {
	br := bufio.NewReaderSize(r, 256<<10)
	for {
		line, err := br.ReadSlice('\n')
		if errors.Is(err, bufio.ErrBufferFull) {
			// No line the bench waits for is this long: skip it.
			for errors.Is(err, bufio.ErrBufferFull) {
				_, err = br.ReadSlice('\n')
			}
			c.note([]byte("(a line over 256 KiB)"))
			if err != nil {
				return
			}
			continue
		}
		if len(line) > 0 {
			c.line(line)
		}
		if err != nil {
			return
		}
	}
}

func (c *child) line(line []byte) {
	if c.raw {
		if !c.ready.Load() {
			if bytes.HasPrefix(line, []byte("ready")) {
				c.ready.Store(true)
				return
			}
			c.note(line)
		}
		c.message(line)
		return
	}
	switch {
	case bytes.Contains(line, evMessage):
		c.message(line)
	case bytes.Contains(line, evDelivered):
		c.delivered.Add(1)
	case bytes.Contains(line, evQueued), bytes.Contains(line, evSent), bytes.Contains(line, evLive):
	case bytes.Contains(line, evSession) && bytes.Contains(line, stEstablished):
		c.sessionAt.Store(time.Now().UnixNano())
		c.sessions.Add(1)
		c.note(line)
	case bytes.Contains(line, evReady):
		c.ready.Store(true)
		c.note(line)
	default:
		c.note(line)
	}
}

func (c *child) message(line []byte) {
	if ch := c.lat.Load(); ch != nil {
		now := time.Now()
		if i, ok := parseLat(line); ok {
			select {
			case *ch <- latArrival{i, now}:
			default:
			}
		}
	}
	if n := c.msgs.Add(1); n == c.target.Load() {
		c.doneAt.Store(time.Now().UnixNano())
	}
}

// note keeps the last few lines for diagnostics.
func (c *child) note(line []byte) {
	s := strings.TrimRight(string(line), "\n")
	if len(s) > 300 {
		s = s[:300] + "..."
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.tail) == 8 {
		c.tail = c.tail[1:]
	}
	c.tail = append(c.tail, s)
}

// diagnostics is what the process wrote to stderr and its last lines.
func (c *child) diagnostics() string {
	var b strings.Builder
	if s := strings.TrimSpace(c.stderr.String()); s != "" {
		fmt.Fprintf(&b, "\n  %s (duet %s) stderr:\n    %s", c.name, strings.Join(c.cmd.Args[1:], " "), strings.ReplaceAll(s, "\n", "\n    "))
	}
	c.mu.Lock()
	tail := slices.Clone(c.tail)
	c.mu.Unlock()
	if len(tail) > 0 {
		fmt.Fprintf(&b, "\n  %s (duet %s) last lines:\n    %s", c.name, strings.Join(c.cmd.Args[1:], " "), strings.Join(tail, "\n    "))
	}
	return b.String()
}

// tailBuffer keeps the last 8 KiB written to it.
type tailBuffer struct {
	mu  sync.Mutex
	buf []byte
}

func (t *tailBuffer) Write(b []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.buf = append(t.buf, b...)
	if over := len(t.buf) - 8<<10; over > 0 {
		t.buf = append(t.buf[:0], t.buf[over:]...)
	}
	return len(b), nil
}

func (t *tailBuffer) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return string(t.buf)
}

// vmHWM reads a live process's peak resident set size (Linux), in bytes;
// 0 if unknown.
func vmHWM(pid int) float64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	for _, l := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(l, "VmHWM:"); ok {
			kb, err := strconv.ParseFloat(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 64)
			if err != nil {
				return 0
			}
			return kb * 1024
		}
	}
	return 0
}
