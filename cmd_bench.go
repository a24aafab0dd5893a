package main

// duet bench and its hidden raw-peer helper: flags, then the benchmark.

import (
	"context"
	"crypto/rand"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	"duet/crypto"
	"duet/net"
	"duet/protocol"
	"duet/protocol/store"
	"duet/ui"
)

func runBench(args []string, stdout, stderr io.Writer, usageErr func(string, ...any) int) int {
	fs := flag.NewFlagSet("duet bench", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	var o ui.BenchOptions
	fs.IntVar(&o.Messages, "messages", 50_000, "")
	fs.IntVar(&o.LatencySamples, "samples", 300, "")
	fs.IntVar(&o.Handshakes, "handshakes", 10, "")
	processes := fs.Bool("processes", false, "")
	runs := fs.Int("runs", 5, "")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			fmt.Fprintln(stdout, "usage: duet bench [--messages N] [--samples N] [--handshakes N]\n"+
				"       duet bench --processes [--runs N] [--messages N] [--samples N]\n"+
				"Compares raw zmq4 with duet on loopback. Without --processes: the protocol's own cost, two nodes in one\n"+
				"process. With --processes: what users get, two real duet processes (--ephemeral and durable) beside raw\n"+
				"zmq4 between two processes, each run on fresh processes (default 5 runs, 20000 messages, 300 samples).")
			return exitOK
		}
		return usageErr("bench: %v", err)
	}
	if fs.NArg() > 0 {
		return usageErr("bench: unexpected argument %q", fs.Arg(0))
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	if *processes {
		po := ui.ProcBenchOptions{Runs: *runs, Messages: 20_000, Samples: o.LatencySamples, Progress: stderr}
		if set["messages"] {
			po.Messages = o.Messages
		}
		switch {
		case set["handshakes"]:
			return usageErr("bench: --handshakes is not a measure of --processes (start to session is)")
		case po.Runs < 1:
			return usageErr("bench: --runs %d: must be 1 or more", po.Runs)
		case po.Messages < 1:
			return usageErr("bench: --messages %d: must be 1 or more", po.Messages)
		case po.Samples < 1:
			return usageErr("bench: --samples %d: must be 1 or more", po.Samples)
		}
		exe, err := os.Executable()
		if err != nil {
			fmt.Fprintf(stderr, "duet: bench: cannot find duet's own binary: %v\n", err)
			return exitRuntime
		}
		po.Exe = exe
		// ctrl-c and SIGTERM end the bench; it kills its processes first.
		ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
		defer stop()
		if _, err := ui.RunProcessBench(ctx, stdout, po); err != nil {
			fmt.Fprintf(stderr, "duet: %v\n", err)
			return exitRuntime
		}
		return exitOK
	}
	if set["runs"] {
		return usageErr("bench: --runs needs --processes")
	}
	var deps ui.BenchDeps
	for i := range deps.Identities {
		id, err := crypto.GenerateIdentity(rand.Reader)
		if err != nil {
			fmt.Fprintf(stderr, "duet: %v\n", err)
			return exitRuntime
		}
		deps.Identities[i] = id
	}
	deps.Raw = func(ctx context.Context) (ui.RawLink, error) { return net.OpenRawPair(ctx) }
	deps.Transports = openLoopbackPair
	deps.Stores = func() (protocol.Store, protocol.Store, func(), error) { return openBenchStores(deps.Identities) }
	if _, err := ui.RunBench(context.Background(), stdout, deps, o); err != nil {
		fmt.Fprintf(stderr, "duet: %v\n", err)
		return exitRuntime
	}
	return exitOK
}

// runBenchRawPeer is one raw zmq4 process of duet bench --processes: --send
// --connect PORT sends each line of stdin as one message; --recv --listen
// PORT prints each message received as a line. Both print a ready line
// first. Not for use with a peer: no encryption, no checks.
func runBenchRawPeer(args []string, stdin io.Reader, stdout, stderr io.Writer, usageErr func(string, ...any) int) int {
	fs := flag.NewFlagSet("duet bench-raw-peer", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	send := fs.Bool("send", false, "")
	recv := fs.Bool("recv", false, "")
	connect := fs.Int("connect", 0, "")
	listen := fs.Int("listen", 0, "")
	if err := fs.Parse(args); err != nil {
		return usageErr("bench-raw-peer: %v", err)
	}
	switch {
	case fs.NArg() > 0:
		return usageErr("bench-raw-peer: unexpected argument %q", fs.Arg(0))
	case *send == *recv:
		return usageErr("bench-raw-peer: give one of --send and --recv")
	case *send && (*connect < 1 || *connect > 65535):
		return usageErr("bench-raw-peer: --send needs --connect PORT")
	case *recv && (*listen < 0 || *listen > 65535):
		return usageErr("bench-raw-peer: --listen %d: not a port", *listen)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	var err error
	if *send {
		err = net.RawPeerSend(ctx, *connect, stdin, stdout)
	} else {
		err = net.RawPeerRecv(ctx, *listen, stdout)
	}
	if err != nil {
		fmt.Fprintf(stderr, "duet: bench-raw-peer: %v\n", err)
		return exitRuntime
	}
	return exitOK
}

// openLoopbackPair opens two duet transports that talk to each other on
// free loopback ports and waits until both are connected.
func openLoopbackPair(ctx context.Context) (protocol.Transport, protocol.Transport, func(), error) {
	ports, err := net.FreeLoopbackPorts(2)
	if err != nil {
		return nil, nil, nil, err
	}
	a, err := net.Open(ctx, net.Config{MainPort: ports[0], SubPort: ports[1], SendTimeout: 30 * time.Second})
	if err != nil {
		return nil, nil, nil, err
	}
	b, err := net.Open(ctx, net.Config{MainPort: ports[1], SubPort: ports[0], SendTimeout: 30 * time.Second})
	if err != nil {
		a.Close()
		return nil, nil, nil, err
	}
	closeBoth := func() { a.Close(); b.Close() }
	for deadline := time.Now().Add(5 * time.Second); !a.Connected() || !b.Connected(); {
		if time.Now().After(deadline) {
			closeBoth()
			return nil, nil, nil, errors.New("bench transports did not connect")
		}
		time.Sleep(time.Millisecond)
	}
	return a, b, closeBoth, nil
}

// openBenchStores opens two fresh databases in a temporary directory for
// duet bench's durable measures, and a func closing and removing them.
func openBenchStores(ids [2]*crypto.Identity) (protocol.Store, protocol.Store, func(), error) {
	dir, err := os.MkdirTemp("", "duet-bench-")
	if err != nil {
		return nil, nil, nil, err
	}
	var dbs [2]*store.DB
	cleanup := func() {
		for _, db := range dbs {
			if db != nil {
				db.Close()
			}
		}
		os.RemoveAll(dir)
	}
	for i, id := range ids {
		key, err := crypto.HistoryKey(id, "bench")
		if err != nil {
			cleanup()
			return nil, nil, nil, err
		}
		if dbs[i], err = store.Open(filepath.Join(dir, fmt.Sprintf("%d.db", i)), key, store.Options{}); err != nil {
			cleanup()
			return nil, nil, nil, err
		}
	}
	return dbs[0], dbs[1], cleanup, nil
}
