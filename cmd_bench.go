package main

// duet bench and its hidden raw-peer helper: flags, then the benchmark.

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"duet/bench"
)

func runBench(args []string, stdout, stderr io.Writer, usageErr func(string, ...any) int) int {
	fs := flag.NewFlagSet("duet bench", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	var o bench.Options
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
		po := bench.ProcessOptions{Runs: *runs, Messages: 20_000, Samples: o.LatencySamples, Progress: stderr}
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
			say(stderr, "bench: cannot find duet's own binary: %v", err)
			return exitRuntime
		}
		po.Exe = exe
		// ctrl-c and SIGTERM end the bench; it kills its processes first.
		ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
		defer stop()
		if _, err := bench.RunProcesses(ctx, stdout, po); err != nil {
			say(stderr, "%v", err)
			return exitRuntime
		}
		return exitOK
	}
	if set["runs"] {
		return usageErr("bench: --runs needs --processes")
	}
	if _, err := bench.Run(context.Background(), stdout, o); err != nil {
		say(stderr, "%v", err)
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
		err = bench.RawPeerSend(ctx, *connect, stdin, stdout)
	} else {
		err = bench.RawPeerRecv(ctx, *listen, stdout)
	}
	if err != nil {
		say(stderr, "bench-raw-peer: %v", err)
		return exitRuntime
	}
	return exitOK
}
