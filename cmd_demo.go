package main

// duet demo: fresh keys, free loopback ports, and the demo on the terminal.

import (
	"context"
	"crypto/rand"
	"errors"
	"io"
	"os"
	"os/signal"
	"sync"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"duet/crypto"
	"duet/net"
	"duet/protocol"
	"duet/ui/demo"
)

// demoCmd is duet demo.
func (c *cli) demoCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "demo",
		Short: "try it: you and a bot, a man in the middle between you",
		Long: "The full screen as alice, chatting with bob, a bot in this process, through a man in the\n" +
			"middle on loopback; /attack replay|tamper|reorder|drop|stale|reflect|keysub|downgrade|\n" +
			"impersonate shows each attack refused, bob's one message shown once; /attack steal hands\n" +
			"the man in the middle a copy of bob's keys and shows what it can read: nothing sent\n" +
			"before the theft, nothing after bob's keys heal. The timestamp\n" +
			"window is 5 s.\n" +
			"Nothing is read from or written to disk.",
		Args: noArgs,
		RunE: func(*cobra.Command, []string) error {
			c.code = runDemo(c.stdin, c.stdout, c.stderr, c.usageErr)
			return nil
		},
	}
}

// runDemo is duet demo: three fresh keys, four free loopback ports, and
// demo.Run on the terminal.
func runDemo(stdin io.Reader, stdout, stderr io.Writer, usageErr func(string, ...any) int) int {
	if !isTerminal(stdin) || !isTerminal(stdout) {
		return usageErr("demo: needs a terminal (it is the full-screen chat); to script duet, see --headless")
	}
	ids, err := generateKeys(3)
	if err != nil {
		say(stderr, "demo: %v", err)
		return exitRuntime
	}
	ports, err := net.FreeLoopbackPorts(4)
	if err != nil {
		say(stderr, "demo: %v", err)
		return exitRuntime
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	deps := demo.Deps{Keys: [3]*crypto.Identity(ids), Ports: [4]int(ports),
		Open: func(ctx context.Context, main, sub int) (protocol.Transport, error) {
			return net.Open(ctx, net.Config{MainPort: main, SubPort: sub, SendTimeout: 30 * time.Second})
		}}
	if err := demo.Run(ctx, deps, screenIO(stdin, stdout)...); err != nil && !errors.Is(err, context.Canceled) {
		say(stderr, "demo: %v", err)
		return exitRuntime
	}
	return exitOK
}

// generateKeys makes n fresh RSA keys, two at a time.
func generateKeys(n int) ([]*crypto.Identity, error) {
	keys := make([]*crypto.Identity, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	sem := make(chan struct{}, 2)
	for i := range keys {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			keys[i], errs[i] = crypto.GenerateIdentity(rand.Reader)
		}()
	}
	wg.Wait()
	return keys, errors.Join(errs...)
}
